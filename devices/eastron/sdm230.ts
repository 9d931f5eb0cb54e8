/**
 * Eastron SDM230 single-phase energy meter (SDM230-Modbus).
 * Same input register map as the SDM120: function 04, IEEE-754 float32 big-endian (ABCD), two registers per value.
 * Factory line settings: 9600 baud 8N1, unit 1.
 */
import type { ModbusProfile } from '../profile.ts';
import { sdm120 } from './sdm120.ts';

export const sdm230: ModbusProfile = {
  kind: 'modbus',
  id: 'eastron-sdm230',
  vendor: 'Eastron',
  model: 'SDM230-Modbus',
  description: 'Single-phase DIN-rail energy meter, RS-485 Modbus RTU (TCP through a gateway)',
  source:
    'shared/DEVICES.md, "Eastron SDM120 / SDM230": function 04 (input registers), float32 big-endian (ABCD), ' +
    '2 registers each; defaults 9600 baud 8N1, unit 1 (SDM230). Voltage 0x0000, current 0x0006, active power 0x000C, ' +
    'apparent power 0x0012, reactive power 0x0018, power factor 0x001E, frequency 0x0046, import kWh 0x0048, ' +
    'export kWh 0x004A. Total kWh (0x0156) is left out: energy_kwh is the import counter, as for the SDM120.',
  transports: ['modbus-tcp', 'modbus-rtu'],
  defaults: { unit: 1, baud: 9600 },
  // The SDM120's input register map, unchanged.
  fields: sdm120.fields,
};
