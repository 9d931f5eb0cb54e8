/**
 * Eastron SDM120 single-phase energy meter (SDM120-Modbus / SDM120CT-Modbus).
 * Input registers (function 04), IEEE-754 float32 big-endian (ABCD), two registers per value.
 * Factory line settings: 2400 baud 8N1, unit 1.
 */
import { reg, type ModbusField, type ModbusProfile } from '../profile.ts';

const f32 = (field: string, address: number, unit: string): ModbusField => reg.float32(field, address, unit, { fn: 4, order: 'ABCD' });

export const sdm120: ModbusProfile = {
  kind: 'modbus',
  id: 'eastron-sdm120',
  vendor: 'Eastron',
  model: 'SDM120-Modbus',
  description: 'Single-phase DIN-rail energy meter, RS-485 Modbus RTU (TCP through a gateway)',
  source:
    'Eastron SDM120-Modbus protocol document, input register map (0-based offsets), as collected in ' +
    'shared/DEVICES.md. Total kWh (0x0156) is left out: energy_kwh is the import counter.',
  transports: ['modbus-tcp', 'modbus-rtu'],
  defaults: { unit: 1, baud: 2400 },
  fields: [
    f32('voltage_v', 0x0000, 'V'),
    f32('current_a', 0x0006, 'A'),
    f32('power_w', 0x000c, 'W'),
    f32('apparent_power_va', 0x0012, 'VA'),
    f32('reactive_power_var', 0x0018, 'var'),
    f32('power_factor', 0x001e, '1'),
    f32('frequency_hz', 0x0046, 'Hz'),
    f32('energy_kwh', 0x0048, 'kWh'),
    f32('energy_export_kwh', 0x004a, 'kWh'),
  ],
};
