/**
 * Eastron SDM630 three-phase energy meter (SDM630-Modbus).
 * Input registers (function 04), IEEE-754 float32 big-endian (ABCD), two registers per value.
 * L1 is the phase without a suffix (voltage_v, current_a); L2 and L3 carry `_l2`/`_l3` before the unit.
 * power_w is the total over the three phases; power_l1_w..power_l3_w are per phase.
 * Line settings: 9600 baud 8N1, unit 1 (Eastron's factory setting; not in shared/DEVICES.md).
 */
import { reg, type ModbusField, type ModbusProfile } from '../profile.ts';

const f32 = (field: string, address: number, unit: string): ModbusField => reg.float32(field, address, unit, { fn: 4, order: 'ABCD' });

export const sdm630: ModbusProfile = {
  kind: 'modbus',
  id: 'eastron-sdm630',
  vendor: 'Eastron',
  model: 'SDM630-Modbus',
  description: 'Three-phase DIN-rail energy meter, RS-485 Modbus RTU (TCP through a gateway)',
  source:
    'shared/DEVICES.md, "Eastron SDM630 (three-phase)": function 04, float32 ABCD. V L1/L2/L3 0x0000/0x0002/0x0004; ' +
    'I L1/L2/L3 0x0006/0x0008/0x000A; P L1/L2/L3 0x000C/0x000E/0x0010; total P 0x0034; VA 0x0038; var 0x003C; ' +
    'PF 0x003E; Hz 0x0046; import 0x0048; export 0x004A. VA, var and PF are taken as the totals. Total kWh (0x0156) ' +
    'is left out: energy_kwh is the import counter. Defaults (9600 baud, unit 1) are not in DEVICES.md: Eastron factory setting.',
  transports: ['modbus-tcp', 'modbus-rtu'],
  defaults: { unit: 1, baud: 9600 },
  fields: [
    f32('voltage_v', 0x0000, 'V'),
    f32('voltage_l2_v', 0x0002, 'V'),
    f32('voltage_l3_v', 0x0004, 'V'),
    f32('current_a', 0x0006, 'A'),
    f32('current_l2_a', 0x0008, 'A'),
    f32('current_l3_a', 0x000a, 'A'),
    f32('power_l1_w', 0x000c, 'W'),
    f32('power_l2_w', 0x000e, 'W'),
    f32('power_l3_w', 0x0010, 'W'),
    f32('power_w', 0x0034, 'W'),
    f32('apparent_power_va', 0x0038, 'VA'),
    f32('reactive_power_var', 0x003c, 'var'),
    f32('power_factor', 0x003e, '1'),
    f32('frequency_hz', 0x0046, 'Hz'),
    f32('energy_kwh', 0x0048, 'kWh'),
    f32('energy_export_kwh', 0x004a, 'kWh'),
  ],
};
