import { describe, expect, it } from 'vitest';
import { KNOWN_READING_FIELDS } from '../common/wire.ts';
import { CATALOG, getProfile, listProfiles, profileIds } from '../devices/catalog.ts';
import { sdm120 } from '../devices/eastron/sdm120.ts';
import { decodeRequest, planReads } from '../devices/modbus-codec.ts';
import { REGISTER_COUNT } from '../devices/profile.ts';

/**
 * Golden case: the input registers 0x0000..0x004B of an SDM120 carrying 412.5 W at 231.2 V, as raw words
 * (float32 big-endian, encoded independently with Python's struct.pack('>f', ...)).
 */
const RAW: Record<number, [number, number]> = {
  0x0000: [0x4367, 0x3333], // 231.2 V
  0x0006: [0x3fef, 0xdf3b], // 1.874 A
  0x000c: [0x43ce, 0x4000], // 412.5 W
  0x0012: [0x43d8, 0x8ccd], // 433.1 VA
  0x0018: [0x4303, 0xe666], // 131.9 var
  0x001e: [0x3f73, 0xb646], // 0.952
  0x0046: [0x4247, 0xeb85], // 49.98 Hz
  0x0048: [0x44be, 0x7800], // 1523.75 kWh import
  0x004a: [0x3e80, 0x0000], // 0.25 kWh export
};

const EXPECTED: Record<string, number> = {
  voltage_v: 231.2,
  current_a: 1.874,
  power_w: 412.5,
  apparent_power_va: 433.1,
  reactive_power_var: 131.9,
  power_factor: 0.952,
  frequency_hz: 49.98,
  energy_kwh: 1523.75,
  energy_export_kwh: 0.25,
};

function block(address: number, count: number): number[] {
  const words = new Array<number>(count).fill(0);
  for (const [at, pair] of Object.entries(RAW)) {
    const i = Number(at) - address;
    if (i >= 0 && i + 1 < count) words.splice(i, 2, ...pair);
  }
  return words;
}

function decodeAll(maxGap: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const req of planReads(sdm120.fields, { maxGap })) Object.assign(out, decodeRequest(req, block(req.address, req.count)));
  return out;
}

describe('Eastron SDM120 profile', () => {
  it('decodes a known reading from raw input registers, in one request', () => {
    const plan = planReads(sdm120.fields, { maxGap: 100 });
    expect(plan).toHaveLength(1);
    expect(plan[0]).toMatchObject({ fn: 4, address: 0, count: 0x4c });
    const got = decodeAll(100);
    expect(Object.keys(got).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [k, v] of Object.entries(EXPECTED)) expect(got[k], k).toBe(Math.fround(v));
  });

  it('decodes the same reading with one request per contiguous range', () => {
    expect(planReads(sdm120.fields).map((r) => [r.address, r.count])).toEqual([
      [0x00, 2],
      [0x06, 2],
      [0x0c, 2],
      [0x12, 2],
      [0x18, 2],
      [0x1e, 2],
      [0x46, 6],
    ]);
    expect(decodeAll(0)).toEqual(decodeAll(100));
  });

  it('reads input registers, float32 ABCD, factory defaults 2400 baud unit 1', () => {
    for (const f of sdm120.fields) expect(f).toMatchObject({ fn: 4, type: 'float32', order: 'ABCD', scale: 1, offset: 0 });
    expect(sdm120.defaults).toEqual({ unit: 1, baud: 2400 });
    expect(sdm120.transports).toEqual(['modbus-tcp', 'modbus-rtu']);
    expect(sdm120.fields.find((f) => f.field === 'energy_kwh')?.address).toBe(0x48);
  });
});

describe('catalog', () => {
  it('registers the SDM120', () => {
    expect(getProfile('eastron-sdm120')).toBe(CATALOG.get('eastron-sdm120'));
    expect(getProfile('nope')).toBeUndefined();
    expect(profileIds()).toContain('eastron-sdm120');
    expect(listProfiles().map((p) => p.id)).toEqual(profileIds());
  });

  for (const p of listProfiles()) {
    if (p.kind !== 'modbus') continue;
    it(`${p.id}: fields are well-formed and do not overlap`, () => {
      expect(p.id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(p.source.length).toBeGreaterThan(0);
      const names = p.fields.map((f) => f.field);
      expect(new Set(names).size).toBe(names.length);
      for (const f of p.fields) {
        expect(f.field).toMatch(/^[a-z][a-z0-9_]{0,62}$/);
        expect(f.unit).not.toBe('');
        const known = (KNOWN_READING_FIELDS as Record<string, string>)[f.field];
        if (known !== undefined) expect(f.unit, f.field).toBe(known);
        expect(f.scale).not.toBe(0);
      }
      for (const f of p.fields) {
        for (const g of p.fields) {
          if (f === g || f.fn !== g.fn) continue;
          const overlap = f.address < g.address + REGISTER_COUNT[g.type] && g.address < f.address + REGISTER_COUNT[f.type];
          expect(overlap, `${f.field} overlaps ${g.field}`).toBe(false);
        }
      }
    });
  }
});
