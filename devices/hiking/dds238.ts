/**
 * Hiking DDS238-1 ZN / DDS238-2 ZN single-phase energy meter.
 * Holding registers (function 03), big-endian integers, scaled. Factory line settings: 9600 baud 8N1, unit 1.
 */
import { reg, type ModbusProfile } from '../profile.ts';

export const dds238: ModbusProfile = {
  kind: 'modbus',
  id: 'hiking-dds238',
  vendor: 'Hiking',
  model: 'DDS238-1 ZN / DDS238-2 ZN',
  description: 'Single-phase DIN-rail energy meter, RS-485 Modbus RTU (TCP through a gateway)',
  source:
    'shared/DEVICES.md, "Hiking DDS238-1/-2 ZN": function 03, big-endian integers, 9600 8N1, unit 1. Total energy ' +
    '0x0000-01 uint32 /100 kWh; export 0x0008-09 uint32 /100; import 0x000A-0B uint32 /100; voltage 0x000C /10 V; ' +
    'current 0x000D /100 A; active power 0x000E int16 W; reactive 0x000F; PF 0x0010 /1000; frequency 0x0011 /100 Hz. ' +
    'Types not given there are taken as uint16, reactive power as int16 var like active power. Total energy (0x0000) ' +
    'is left out: energy_kwh is the import counter.',
  transports: ['modbus-tcp', 'modbus-rtu'],
  defaults: { unit: 1, baud: 9600 },
  fields: [
    reg.uint32('energy_export_kwh', 0x0008, 'kWh', { fn: 3, scale: 0.01 }),
    reg.uint32('energy_kwh', 0x000a, 'kWh', { fn: 3, scale: 0.01 }),
    reg.uint16('voltage_v', 0x000c, 'V', { fn: 3, scale: 0.1 }),
    reg.uint16('current_a', 0x000d, 'A', { fn: 3, scale: 0.01 }),
    reg.int16('power_w', 0x000e, 'W', { fn: 3 }),
    reg.int16('reactive_power_var', 0x000f, 'var', { fn: 3 }),
    reg.uint16('power_factor', 0x0010, '1', { fn: 3, scale: 0.001 }),
    reg.uint16('frequency_hz', 0x0011, 'Hz', { fn: 3, scale: 0.01 }),
  ],
};
