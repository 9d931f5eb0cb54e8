/**
 * Golden cases for the Modbus energy-meter profiles: raw registers written by hand from the register maps in
 * shared/DEVICES.md (floats encoded independently with Python's struct.pack('>f', ...), integers by hand),
 * decoded with the codec's planReads/decodeRequest, compared with the readings the maps promise.
 * (The SDM120 has its own file, test/sdm120.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { adw300 } from '../devices/acrel/adw300.ts';
import { dtsu666 } from '../devices/chint/dtsu666.ts';
import { sdm230 } from '../devices/eastron/sdm230.ts';
import { sdm630 } from '../devices/eastron/sdm630.ts';
import { dds238 } from '../devices/hiking/dds238.ts';
import { decodeRequest, planReads } from '../devices/modbus-codec.ts';
import type { ModbusFunction, ModbusProfile } from '../devices/profile.ts';

interface GoldenCase {
  profile: ModbusProfile;
  fn: ModbusFunction;
  /** Register address -> raw words from there on, as on the wire. */
  raw: Record<number, number[]>;
  /** Every field of the profile, in its unit. */
  expected: Record<string, number>;
  /** The requests planned with maxGap 0, as [address, count]. */
  plan: Array<[number, number]>;
}

const CASES: GoldenCase[] = [
  {
    profile: sdm230,
    fn: 4,
    raw: {
      0x0000: [0x4368, 0x8000], // 232.5 V
      0x0006: [0x3fe0, 0x0000], // 1.75 A
      0x000c: [0x4396, 0x0000], // 300 W
      0x0012: [0x43ce, 0x4000], // 412.5 VA
      0x0018: [0xc2f1, 0x0000], // -120.5 var
      0x001e: [0x3f70, 0x0000], // 0.9375
      0x0046: [0x4248, 0x0000], // 50 Hz
      0x0048: [0x44be, 0x7800], // 1523.75 kWh import
      0x004a: [0x3e80, 0x0000], // 0.25 kWh export
      0x0156: [0x44be, 0x7000], // 1523.5 kWh total: not read
    },
    expected: {
      voltage_v: 232.5,
      current_a: 1.75,
      power_w: 300,
      apparent_power_va: 412.5,
      reactive_power_var: -120.5,
      power_factor: 0.9375,
      frequency_hz: 50,
      energy_kwh: 1523.75,
      energy_export_kwh: 0.25,
    },
    plan: [
      [0x00, 2],
      [0x06, 2],
      [0x0c, 2],
      [0x12, 2],
      [0x18, 2],
      [0x1e, 2],
      [0x46, 6],
    ],
  },
  {
    profile: sdm630,
    fn: 4,
    raw: {
      0x0000: [0x4367, 0x4000], // L1 231.25 V
      0x0002: [0x4368, 0x8000], // L2 232.5 V
      0x0004: [0x4365, 0xc000], // L3 229.75 V
      0x0006: [0x3fe0, 0x0000], // L1 1.75 A
      0x0008: [0x4020, 0x0000], // L2 2.5 A
      0x000a: [0x4050, 0x0000], // L3 3.25 A
      0x000c: [0x43ce, 0x4000], // L1 412.5 W
      0x000e: [0x4396, 0x0000], // L2 300 W
      0x0010: [0x4316, 0x4000], // L3 150.25 W
      0x0034: [0x4457, 0xb000], // total 862.75 W
      0x0038: [0x447e, 0x0000], // 1016 VA
      0x003c: [0xc2f1, 0x0000], // -120.5 var
      0x003e: [0x3f70, 0x0000], // PF 0.9375
      0x0046: [0x4248, 0x0000], // 50 Hz
      0x0048: [0x44be, 0x7800], // 1523.75 kWh import
      0x004a: [0x3e80, 0x0000], // 0.25 kWh export
    },
    expected: {
      voltage_v: 231.25,
      voltage_l2_v: 232.5,
      voltage_l3_v: 229.75,
      current_a: 1.75,
      current_l2_a: 2.5,
      current_l3_a: 3.25,
      power_l1_w: 412.5,
      power_l2_w: 300,
      power_l3_w: 150.25,
      power_w: 862.75,
      apparent_power_va: 1016,
      reactive_power_var: -120.5,
      power_factor: 0.9375,
      frequency_hz: 50,
      energy_kwh: 1523.75,
      energy_export_kwh: 0.25,
    },
    plan: [
      [0x00, 18],
      [0x34, 2],
      [0x38, 2],
      [0x3c, 4],
      [0x46, 6],
    ],
  },
  {
    profile: dtsu666,
    fn: 3,
    raw: {
      0x101e: [0x44be, 0x7000], // 1523.5 kWh import (unscaled)
      0x1028: [0x3f00, 0x0000], // 0.5 kWh export
      0x2000: [0x4510, 0x8000], // Ua 2312.0 -> 231.2 V
      0x2002: [0x4511, 0x5000], // Ub 2325.0 -> 232.5 V
      0x2004: [0x450f, 0x9800], // Uc 2297.5 -> 229.75 V
      0x200c: [0x44da, 0xc000], // Ia 1750 -> 1.75 A
      0x200e: [0x451c, 0x4000], // Ib 2500 -> 2.5 A
      0x2010: [0x454b, 0x2000], // Ic 3250 -> 3.25 A
      0x2012: [0x4606, 0xce00], // Pt 8627.5 -> 862.75 W
      0x2014: [0x4580, 0xe800], // Pa 4125 -> 412.5 W
      0x2016: [0x453b, 0x8000], // Pb 3000 -> 300 W
      0x2018: [0x44bb, 0xd000], // Pc 1502.5 -> 150.25 W
      0x201a: [0xc496, 0xa000], // Qt -1205 -> -120.5 var
      0x202a: [0x446a, 0x4000], // PF 937 -> 0.937
      0x2044: [0x459c, 0x3000], // 4998 -> 49.98 Hz
    },
    expected: {
      voltage_v: 231.2,
      voltage_l2_v: 232.5,
      voltage_l3_v: 229.75,
      current_a: 1.75,
      current_l2_a: 2.5,
      current_l3_a: 3.25,
      power_w: 862.75,
      power_l1_w: 412.5,
      power_l2_w: 300,
      power_l3_w: 150.25,
      reactive_power_var: -120.5,
      power_factor: 0.937,
      frequency_hz: 49.98,
      energy_kwh: 1523.5,
      energy_export_kwh: 0.5,
    },
    plan: [
      [0x101e, 2],
      [0x1028, 2],
      [0x2000, 6],
      [0x200c, 16],
      [0x202a, 2],
      [0x2044, 2],
    ],
  },
  {
    profile: dds238,
    fn: 3,
    raw: {
      0x0000: [0x0002, 0x5350], // total 152400 -> 1524.00 kWh: not read
      0x0008: [0x0000, 0x0019], // export 25 -> 0.25 kWh
      0x000a: [0x0002, 0x5337], // import 152375 -> 1523.75 kWh
      0x000c: [0x0908], // 2312 -> 231.2 V
      0x000d: [0x0216], // 534 -> 5.34 A
      0x000e: [0x04d2], // int16 1234 W
      0x000f: [0xffc8], // int16 -56 var
      0x0010: [0x03d9], // 985 -> 0.985
      0x0011: [0x1386], // 4998 -> 49.98 Hz
    },
    expected: {
      energy_export_kwh: 0.25,
      energy_kwh: 1523.75,
      voltage_v: 231.2,
      current_a: 5.34,
      power_w: 1234,
      reactive_power_var: -56,
      power_factor: 0.985,
      frequency_hz: 49.98,
    },
    plan: [[0x08, 10]],
  },
  {
    profile: adw300,
    fn: 3,
    raw: {
      20: [0x0908], // Ua 2312 -> 231.2 V
      21: [0x0915], // Ub 2325 -> 232.5 V
      22: [0x08fa], // Uc 2298 -> 229.8 V
      26: [0x00af], // Ia 175 -> 1.75 A
      27: [0x00fa], // Ib 250 -> 2.5 A
      28: [0x0145], // Ic 325 -> 3.25 A
      30: [0x0000, 0x019d], // Pa int32 413 W
      32: [0x0000, 0x012c], // Pb int32 300 W
      34: [0xffff, 0xff6a], // Pc int32 -150 W (feeding back)
      36: [0x0000, 0x0233], // total int32 563 W
      62: [0x0002, 0x5337], // forward 152375 -> 1523.75 kWh
      64: [0x0000, 0x0019], // reverse 25 -> 0.25 kWh
    },
    expected: {
      voltage_v: 231.2,
      voltage_l2_v: 232.5,
      voltage_l3_v: 229.8,
      current_a: 1.75,
      current_l2_a: 2.5,
      current_l3_a: 3.25,
      power_l1_w: 413,
      power_l2_w: 300,
      power_l3_w: -150,
      power_w: 563,
      energy_kwh: 1523.75,
      energy_export_kwh: 0.25,
    },
    plan: [
      [20, 3],
      [26, 3],
      [30, 8],
      [62, 4],
    ],
  },
];

/** The `count` registers from `address` of a device holding `raw` (unmapped registers read 0). */
function block(raw: Record<number, number[]>, address: number, count: number): number[] {
  const words = new Array<number>(count).fill(0);
  for (const [at, value] of Object.entries(raw)) {
    value.forEach((w, i) => {
      const k = Number(at) + i - address;
      if (k >= 0 && k < count) words[k] = w;
    });
  }
  return words;
}

function decodeAll(c: GoldenCase, maxGap: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const req of planReads(c.profile.fields, { maxGap })) Object.assign(out, decodeRequest(req, block(c.raw, req.address, req.count)));
  return out;
}

describe.each(CASES.map((c) => ({ id: c.profile.id, c })))('$id golden case', ({ c }) => {
  it('plans the expected requests, all with the map\'s function code', () => {
    const plan = planReads(c.profile.fields);
    expect(plan.map((r) => [r.address, r.count])).toEqual(c.plan);
    for (const r of plan) expect(r.fn).toBe(c.fn);
  });

  it('decodes the known reading from the raw registers', () => {
    const got = decodeAll(c, 0);
    expect(Object.keys(got).sort()).toEqual(Object.keys(c.expected).sort());
    for (const [field, want] of Object.entries(c.expected)) expect(got[field], field).toBeCloseTo(want, 9);
  });

  it('decodes the same reading with gaps bridged into fewer requests', () => {
    const bridged = planReads(c.profile.fields, { maxGap: 125 });
    expect(bridged.length).toBeLessThanOrEqual(c.plan.length);
    expect(decodeAll(c, 125)).toEqual(decodeAll(c, 0));
  });
});

describe('meter profile specifics', () => {
  it('DDS238: power is a signed int16 and energy a uint32 in 0.01 kWh', () => {
    const power = dds238.fields.find((f) => f.field === 'power_w')!;
    expect(power).toMatchObject({ fn: 3, address: 0x000e, type: 'int16', scale: 1 });
    const [req] = planReads([power]);
    expect(decodeRequest(req!, [0xfb2e])).toEqual({ power_w: -1234 });
    const energy = dds238.fields.find((f) => f.field === 'energy_kwh')!;
    const [ereq] = planReads([energy]);
    // 0xFFFFFFFF: a uint32 never goes negative
    expect(decodeRequest(ereq!, [0xffff, 0xffff]).energy_kwh).toBeCloseTo(42949672.95, 6);
  });

  it('DTSU666: scaled floats in holding registers; power_w is the total Pt', () => {
    const pt = dtsu666.fields.find((f) => f.field === 'power_w')!;
    expect(pt).toMatchObject({ fn: 3, address: 0x2012, type: 'float32', scale: 0.1 });
    expect(dtsu666.fields.every((f) => f.fn === 3 && f.type === 'float32' && f.order === 'ABCD')).toBe(true);
  });

  it('SDM630: power_w is the total at 0x0034, L1 voltage and current carry no phase suffix', () => {
    expect(sdm630.fields.find((f) => f.field === 'power_w')!.address).toBe(0x34);
    expect(sdm630.fields.find((f) => f.field === 'voltage_v')!.address).toBe(0x00);
    expect(sdm630.fields.find((f) => f.field === 'current_a')!.address).toBe(0x06);
    expect(sdm630.fields.every((f) => f.fn === 4 && f.type === 'float32' && f.order === 'ABCD')).toBe(true);
  });

  it('line defaults', () => {
    expect(sdm230.defaults).toEqual({ unit: 1, baud: 9600 });
    expect(dds238.defaults).toEqual({ unit: 1, baud: 9600 });
  });
});
