import { describe, expect, it } from 'vitest';
import { runEngine } from '../collector/engine/engine.ts';
import { DEFAULT_ENGINE_PARAMS } from '../collector/engine/params.ts';
import { dailyRollups, sumRollups } from '../collector/engine/rollup.ts';
import { addDays, dayStart, daysBetween, DEFAULT_TIME_ZONE, localDay } from '../collector/engine/time-zone.ts';
import type { EngineSample } from '../collector/engine/types.ts';

const P = DEFAULT_ENGINE_PARAMS;
const TZ = 'Asia/Shanghai';
const H = 3_600_000;
const M = 60_000;
const kwh = (watts: number, seconds: number) => (watts * seconds) / 3_600_000;

/** 1-min samples from a plan of [minutes, watts], starting at `from`; returns the samples and the end time. */
function plan(from: number, steps: Array<[number, number]>): { samples: EngineSample[]; end: number } {
  const samples: EngineSample[] = [];
  let t = from;
  for (const [minutes, power_w] of steps) for (let i = 0; i < minutes; i++, t += M) samples.push({ ts: t, power_w });
  return { samples, end: t };
}

describe('time zones', () => {
  it('local days and their starts in Asia/Shanghai (the default)', () => {
    expect(DEFAULT_TIME_ZONE).toBe('Asia/Shanghai');
    const midnight = Date.UTC(2025, 2, 2, 16); // 2025-03-03 00:00 +08:00
    expect(dayStart('2025-03-03')).toBe(midnight);
    expect(localDay(midnight)).toBe('2025-03-03');
    expect(localDay(midnight - 1)).toBe('2025-03-02');
    expect(localDay(midnight + 24 * H - 1, TZ)).toBe('2025-03-03');
    expect(dayStart('2025-01-01', TZ)).toBe(Date.UTC(2024, 11, 31, 16));
  });

  it('DST days in Europe/Berlin are 23 h and 25 h long', () => {
    const z = 'Europe/Berlin';
    expect(dayStart('2025-03-30', z)).toBe(Date.UTC(2025, 2, 29, 23)); // 00:00 CET (+1)
    expect(dayStart('2025-03-31', z)).toBe(Date.UTC(2025, 2, 30, 22)); // 00:00 CEST (+2)
    expect(dayStart('2025-10-26', z)).toBe(Date.UTC(2025, 9, 25, 22));
    expect(dayStart('2025-10-27', z) - dayStart('2025-10-26', z)).toBe(25 * H);
    expect(localDay(Date.UTC(2025, 2, 30, 21, 59, 59, 999), z)).toBe('2025-03-30');
  });

  it('a day whose midnight is skipped or repeated (America/Sao_Paulo, DST at 00:00 until 2019)', () => {
    const z = 'America/Sao_Paulo';
    // 2018-11-04 00:00 -03 jumped to 01:00 -02: the day starts at 01:00 -02 = 03:00Z.
    expect(dayStart('2018-11-04', z)).toBe(Date.UTC(2018, 10, 4, 3));
    // 2019-02-17 00:00 -02 went back to 2019-02-16 23:00 -03: the 16th has 25 h, the 17th starts at 00:00 -03.
    expect(dayStart('2019-02-16', z)).toBe(Date.UTC(2019, 1, 16, 2));
    expect(dayStart('2019-02-17', z)).toBe(Date.UTC(2019, 1, 17, 3));
  });

  it('day arithmetic', () => {
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('2025-01-01', -1)).toBe('2024-12-31');
    expect(daysBetween('2025-01-01', '2026-01-01')).toBe(365);
    expect(daysBetween('2024-01-01', '2025-01-01')).toBe(366);
    expect(daysBetween('2025-03-05', '2025-03-03')).toBe(-2);
    expect(() => dayStart('2025-02-30')).toThrow(RangeError);
    expect(() => dayStart('2025-3-1')).toThrow(RangeError);
  });
});

describe('daily rollups', () => {
  it('a clean day, rolled up at 13:00 (today: period_s < 86400)', () => {
    const day = dayStart('2025-03-03', TZ);
    // 08:00 off 1 h, standby 30 min, active 2 h, standby 30 min, off 1 h; now = 13:00.
    const { samples, end } = plan(day + 8 * H, [[60, 2], [30, 150], [120, 800], [30, 150], [60, 2]]);
    const { intervals, sessions } = runEngine(samples, P, { now: end });
    const [r, ...rest] = dailyRollups(intervals, sessions, { timeZone: TZ, from: day, to: end });
    expect(rest).toEqual([]);
    expect(r).toMatchObject({
      day: '2025-03-03',
      period_s: 13 * 3600, // 00:00-13:00
      unknown_s: 8 * 3600, // no data before 08:00
      off_s: 7200,
      standby_s: 3600,
      active_s: 7200,
      fault_s: 0,
      effective_s: 9900, // 09:00-11:45: warm-up 30 min + active 2 h + post 15 min
      sessions: 1,
    });
    expect(r!.coverage).toBeCloseTo(5 / 13, 12); // (46800 - 28800) / 46800
    // 0.002 + 0.075 + 1.6 + 0.075 + 0.002
    expect(r!.energy_kwh).toBeCloseTo(1.754, 9);
  });

  it('a midnight-crossing session is split between its two days and counted once, on its start day', () => {
    const mar3 = dayStart('2025-03-03', TZ);
    // From 22:00: off 40 min, standby 20, active 2 h (23:00-01:00), standby 10, off 50; now = 02:00 on the 4th.
    const { samples, end } = plan(mar3 + 22 * H, [[40, 2], [20, 150], [120, 800], [10, 150], [50, 2]]);
    expect(end).toBe(mar3 + 26 * H);
    const { intervals, sessions } = runEngine(samples, P, { now: end });
    expect(sessions).toEqual([
      expect.objectContaining({ start: mar3 + 22 * H + 40 * M, end: mar3 + 25 * H + 10 * M, warmup_s: 1200, active_s: 7200, post_s: 600 }),
    ]);
    const [d3, d4] = dailyRollups(intervals, sessions, { timeZone: TZ, from: mar3, to: end });
    expect(d3).toMatchObject({
      day: '2025-03-03',
      period_s: 86400,
      unknown_s: 79200, // before 22:00
      off_s: 2400,
      standby_s: 1200,
      active_s: 3600, // 23:00-24:00
      effective_s: 4800, // 22:40-24:00
      sessions: 1,
    });
    expect(d3!.energy_kwh).toBeCloseTo(kwh(2, 2400) + kwh(150, 1200) + kwh(800, 3600), 9);
    expect(d4).toMatchObject({
      day: '2025-03-04',
      period_s: 7200, // today, until 02:00
      unknown_s: 0,
      active_s: 3600,
      standby_s: 600,
      off_s: 3000,
      effective_s: 4200, // 00:00-01:10
      sessions: 0,
      coverage: 1,
    });
    expect(d4!.energy_kwh).toBeCloseTo(kwh(800, 3600) + kwh(150, 600) + kwh(2, 3000), 9);
    expect(d3!.effective_s + d4!.effective_s).toBe(1200 + 7200 + 600);
  });

  it('a gap longer than max_gap counts as unknown, neither off nor working', () => {
    const t0 = dayStart('2025-03-03', TZ) + 10 * H;
    const samples: EngineSample[] = [];
    for (const [a, b] of [[0, 1800], [3000, 3600], [4200, 4800]] as const) {
      for (let s = a; s <= b; s += 60) samples.push({ ts: t0 + s * 1000, power_w: 800 });
    }
    const { intervals, sessions } = runEngine(samples, P, { now: t0 + 4860_000 });
    const [r] = dailyRollups(intervals, sessions, { timeZone: TZ, from: t0, to: t0 + 4860_000 });
    // 0-1800 s active, 1800-3000 s unknown (20 min gap), 3000-4860 s active (the 10 min gap is carried).
    expect(r).toMatchObject({ period_s: 4860, unknown_s: 1200, active_s: 3660, off_s: 0, effective_s: 3660, sessions: 2 });
    expect(r!.coverage).toBeCloseTo(3660 / 4860, 12);
  });

  it('an instrument with data only from mid-year: the first half is unknown, coverage 184/365', () => {
    const jan1 = dayStart('2025-01-01', TZ);
    const jul1 = dayStart('2025-07-01', TZ);
    const next = dayStart('2026-01-01', TZ);
    // 15-min samples (gap = max_gap: carried) from 1 July to the year end, off at 2 W, 1 h active on 1 July 09:00.
    const samples: EngineSample[] = [];
    for (let t = jul1; t < next; t += 15 * M) {
      samples.push({ ts: t, power_w: t >= jul1 + 9 * H && t < jul1 + 10 * H ? 800 : 2 });
    }
    const { intervals, sessions } = runEngine(samples, P, { now: next });
    const rollups = dailyRollups(intervals, sessions, { timeZone: TZ, from: jan1, to: next });
    expect(rollups).toHaveLength(365);
    expect(rollups[0]).toMatchObject({ day: '2025-01-01', period_s: 86400, unknown_s: 86400, coverage: 0 });
    expect(rollups[180]).toMatchObject({ day: '2025-06-30', unknown_s: 86400, coverage: 0 });
    expect(rollups[181]).toMatchObject({ day: '2025-07-01', active_s: 3600, off_s: 82800, effective_s: 3600, sessions: 1, coverage: 1 });
    expect(rollups[364]).toMatchObject({ day: '2025-12-31', off_s: 86400, coverage: 1 });
    const year = sumRollups(rollups);
    // Jan-Jun: 31 + 28 + 31 + 30 + 31 + 30 = 181 days unknown; Jul-Dec: 184 days known.
    expect(year).toMatchObject({
      days: 365,
      period_s: 365 * 86400,
      unknown_s: 181 * 86400,
      off_s: 184 * 86400 - 3600,
      active_s: 3600,
      effective_s: 3600,
      sessions: 1,
    });
    expect(year.coverage).toBeCloseTo(184 / 365, 12);
  });

  it('follows DST day lengths, clips to [from, to) and sums to nothing for no days', () => {
    const z = 'Europe/Berlin';
    const from = dayStart('2025-03-29', z);
    const to = dayStart('2025-04-01', z);
    const intervals = [{ start: from, end: to, state: 'off' as const, energy_kwh: 0.71 }];
    const rollups = dailyRollups(intervals, [], { timeZone: z, from, to });
    expect(rollups.map((r) => [r.day, r.period_s, r.off_s])).toEqual([
      ['2025-03-29', 86400, 86400],
      ['2025-03-30', 82800, 82800], // 23 h
      ['2025-03-31', 86400, 86400],
    ]);
    // Energy pro-rated by time: 0.71 kWh over 71 h.
    expect(rollups[1]!.energy_kwh).toBeCloseTo(0.23, 12);
    // [from, to) inside one day: period is its length; sessions starting before `from` are not counted.
    const mid = from + 6 * H;
    const session = { start: from + 5 * H, end: from + 8 * H, active_s: 10800, warmup_s: 0, post_s: 0, energy_kwh: 0 };
    const [clipped] = dailyRollups(intervals, [session], { timeZone: z, from: mid, to: mid + H });
    expect(clipped).toMatchObject({ day: '2025-03-29', period_s: 3600, off_s: 3600, effective_s: 3600, sessions: 0 });
    expect(dailyRollups(intervals, [], { timeZone: z, from: to, to: from })).toEqual([]);
    expect(sumRollups([])).toMatchObject({ days: 0, period_s: 0, coverage: 0 });
  });
});
