/**
 * Chint DTSU666 three-phase energy meter.
 * Holding registers (function 03), IEEE-754 float32 big-endian (ABCD), two registers per value; the floats hold
 * scaled raw values (e.g. Pt in 0.1 W), so each field carries its scale.
 * L1 is the phase without a suffix (voltage_v, current_a); power_w is the total Pt.
 * Line settings: 9600 baud 8N1, unit 1 (Chint's factory setting; not in shared/DEVICES.md).
 */
import { reg, type ModbusField, type ModbusProfile } from '../profile.ts';

const f32 = (field: string, address: number, unit: string, scale: number): ModbusField =>
  reg.float32(field, address, unit, { fn: 3, order: 'ABCD', scale });

export const dtsu666: ModbusProfile = {
  kind: 'modbus',
  id: 'chint-dtsu666',
  vendor: 'Chint',
  model: 'DTSU666',
  description: 'Three-phase DIN-rail energy meter, RS-485 Modbus RTU (TCP through a gateway)',
  source:
    'shared/DEVICES.md, "Chint DTSU666": function 03 (holding), float32 ABCD, raw values scaled: Ua/Ub/Uc ' +
    '0x2000/0x2002/0x2004 (/10 V); Ia/Ib/Ic 0x200C/0x200E/0x2010 (/1000 A); Pt 0x2012 (/10 W); Pa/Pb/Pc ' +
    '0x2014/0x2016/0x2018 (/10 W); Qt 0x201A (/10, taken as var); PF 0x202A (/1000); frequency 0x2044 (/100 Hz); ' +
    'import 0x101E kWh; export 0x1028 kWh (unscaled). Defaults (9600 baud, unit 1) are not in DEVICES.md: Chint factory setting.',
  transports: ['modbus-tcp', 'modbus-rtu'],
  defaults: { unit: 1, baud: 9600 },
  fields: [
    f32('voltage_v', 0x2000, 'V', 0.1),
    f32('voltage_l2_v', 0x2002, 'V', 0.1),
    f32('voltage_l3_v', 0x2004, 'V', 0.1),
    f32('current_a', 0x200c, 'A', 0.001),
    f32('current_l2_a', 0x200e, 'A', 0.001),
    f32('current_l3_a', 0x2010, 'A', 0.001),
    f32('power_w', 0x2012, 'W', 0.1),
    f32('power_l1_w', 0x2014, 'W', 0.1),
    f32('power_l2_w', 0x2016, 'W', 0.1),
    f32('power_l3_w', 0x2018, 'W', 0.1),
    f32('reactive_power_var', 0x201a, 'var', 0.1),
    f32('power_factor', 0x202a, '1', 0.001),
    f32('frequency_hz', 0x2044, 'Hz', 0.01),
    f32('energy_kwh', 0x101e, 'kWh', 1),
    f32('energy_export_kwh', 0x1028, 'kWh', 1),
  ],
};
