/**
 * The line protocol encoder against @influxdata/influxdb-client's Point, the reference it replaces (its output
 * must stay byte for byte the same): random points with every kind of field, escapes and sort orders.
 */
import { Point } from '@influxdata/influxdb-client';
import type { IPoint } from 'influx';
import { describe, expect, it } from 'vitest';
import { PointRejectedError, toLineProtocol } from '../collector/influx/line-protocol.ts';
import { readingToPoint } from '../collector/influx/points.ts';
import { mulberry32 } from '../common/prng.ts';

/** What Point writes for the same point (precision ms, timestamp as given). */
function reference(p: IPoint): string | undefined {
  const point = new Point(p.measurement);
  for (const [k, v] of Object.entries(p.tags ?? {})) point.tag(k, v);
  for (const [k, v] of Object.entries(p.fields ?? {}) as Array<[string, unknown]>) {
    if (typeof v === 'number') point.floatField(k, v);
    else if (typeof v === 'string') point.stringField(k, v);
    else if (typeof v === 'boolean') point.booleanField(k, v);
  }
  point.timestamp(p.timestamp === undefined ? '' : String(p.timestamp));
  return point.toLineProtocol({ convertTime: (t) => (t === undefined || t === '' ? undefined : String(t)) });
}

const ALPHABET = ['a', 'b', 'z', 'A', '_', '0', '9', ' ', ',', '=', '"', '\\', '\n', '\t', '\r', '机', '时', '-', '.', '/'];

function text(rnd: () => number, min: number, max: number): string {
  const n = min + Math.floor(rnd() * (max - min + 1));
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rnd() * ALPHABET.length)]!;
  return s;
}

function number(rnd: () => number): number {
  const kinds = [
    () => Math.round(rnd() * 1000),
    () => (rnd() - 0.5) * 1e6,
    () => rnd() * 1e-9,
    () => (rnd() - 0.5) * 1e300,
    () => -0,
    () => Number.MAX_SAFE_INTEGER + 2,
  ];
  return kinds[Math.floor(rnd() * kinds.length)]!();
}

function randomPoint(rnd: () => number): IPoint {
  const tags: Record<string, string> = {};
  for (let i = Math.floor(rnd() * 4); i > 0; i--) tags[text(rnd, 1, 6)] = text(rnd, 1, 8);
  const fields: Record<string, number | string | boolean> = {};
  for (let i = 1 + Math.floor(rnd() * 5); i > 0; i--) {
    const r = rnd();
    fields[text(rnd, 1, 6)] = r < 0.6 ? number(rnd) : r < 0.85 ? text(rnd, 0, 10) : rnd() < 0.5;
  }
  return {
    measurement: text(rnd, 1, 8),
    tags,
    fields,
    ...(rnd() < 0.9 ? { timestamp: String(Math.floor((rnd() - 0.2) * 2e12)) } : {}),
  };
}

describe('line protocol', () => {
  it('writes what influxdb-client Point writes, for 5,000 random points', () => {
    const rnd = mulberry32(7);
    for (let i = 0; i < 5000; i++) {
      const p = randomPoint(rnd);
      expect(toLineProtocol(p), JSON.stringify(p)).toBe(reference(p));
    }
  });

  it('writes a reading with sorted fields, floats without suffix and the ms timestamp', () => {
    const { point } = readingToPoint({
      id: 1,
      instrument_id: 'FCM 1',
      agent_id: 'lab,pc=1',
      ts: 1_700_000_000_123,
      readings: { power_w: 450, energy_kwh: 12.5 },
      status: 'RUN "A"',
      received_at: 0,
    });
    expect(toLineProtocol(point!)).toBe(
      'reading,agent_id=lab\\,pc\\=1,instrument_id=FCM\\ 1 energy_kwh=12.5,power_w=450,status="RUN \\"A\\"" 1700000000123',
    );
  });

  it('refuses what InfluxDB would refuse', () => {
    const bad: IPoint[] = [
      { measurement: '', fields: { a: 1 } },
      { measurement: 'm', fields: {} },
      { measurement: 'm', tags: { t: '' }, fields: { a: 1 } },
      { measurement: 'm', fields: { a: Number.NaN } },
      { measurement: 'm', fields: { a: Number.POSITIVE_INFINITY } },
      { measurement: 'm', fields: { a: {} as unknown as number } },
      { measurement: 'm', fields: { a: 1 }, timestamp: '12.5' },
      { measurement: 'm', fields: { a: 1 }, timestamp: Number.NaN as unknown as string },
    ];
    for (const p of bad) expect(() => toLineProtocol(p), JSON.stringify(p)).toThrow(PointRejectedError);
  });
});
