/**
 * Acrel ADW300 three-phase energy meter (the RS-485 Modbus map; Acrel maps differ by model).
 * Holding registers (function 03), big-endian integers, scaled; addresses are decimal 0-based offsets.
 * L1 is the phase without a suffix (voltage_v, current_a); power_w is the total.
 * Line settings: 9600 baud 8N1, unit 1 (assumed; not in shared/DEVICES.md).
 */
import { reg, type ModbusProfile } from '../profile.ts';

export const adw300: ModbusProfile = {
  kind: 'modbus',
  id: 'acrel-adw300',
  vendor: 'Acrel',
  model: 'ADW300',
  description: 'Three-phase IoT energy meter, RS-485 Modbus RTU (TCP through a gateway)',
  source:
    'shared/DEVICES.md, "Acrel ADW300": function 03. Ua/Ub/Uc 20/21/22 uint16 x0.1 V; Ia/Ib/Ic 26/27/28 uint16 ' +
    'x0.01 A; Pa/Pb/Pc 30/32/34 int32 W; total P 36 int32 W; forward energy 62 int32 x0.01 kWh; reverse 64 (taken ' +
    'as int32 x0.01 kWh like forward). Addresses read as decimal 0-based offsets, big-endian (ABCD). "Acrel maps ' +
    'differ by model": check against the meter\'s manual. Defaults (9600 baud, unit 1) are not in DEVICES.md.',
  transports: ['modbus-tcp', 'modbus-rtu'],
  defaults: { unit: 1, baud: 9600 },
  fields: [
    reg.uint16('voltage_v', 20, 'V', { fn: 3, scale: 0.1 }),
    reg.uint16('voltage_l2_v', 21, 'V', { fn: 3, scale: 0.1 }),
    reg.uint16('voltage_l3_v', 22, 'V', { fn: 3, scale: 0.1 }),
    reg.uint16('current_a', 26, 'A', { fn: 3, scale: 0.01 }),
    reg.uint16('current_l2_a', 27, 'A', { fn: 3, scale: 0.01 }),
    reg.uint16('current_l3_a', 28, 'A', { fn: 3, scale: 0.01 }),
    reg.int32('power_l1_w', 30, 'W', { fn: 3 }),
    reg.int32('power_l2_w', 32, 'W', { fn: 3 }),
    reg.int32('power_l3_w', 34, 'W', { fn: 3 }),
    reg.int32('power_w', 36, 'W', { fn: 3 }),
    reg.int32('energy_kwh', 62, 'kWh', { fn: 3, scale: 0.01 }),
    reg.int32('energy_export_kwh', 64, 'kWh', { fn: 3, scale: 0.01 }),
  ],
};
