/**
 * Daily rollups (one instrument, one local day) from state intervals and sessions, and their sums for longer
 * periods: a month, a year or any range of days is the sum of its dailies.
 *
 * - A rollup covers the part of its local day inside [from, to): period_s (86400 for a whole 24 h day, less for
 *   today when to = now, 82800/90000 on DST change days).
 * - State seconds are the intervals clipped to that part; time no interval covers counts as unknown, so the
 *   five states always sum to period_s. coverage = (period_s - unknown_s) / period_s (0 when period_s is 0).
 * - effective_s: sessions clipped the same way (a midnight-crossing session is split between its days);
 *   `sessions` counts the sessions that start within the part (on their start day only).
 * - Energy: interval energy pro-rated by the clipped time.
 */
import { addDays, dayStart, localDay } from './time-zone.ts';
import type { DailyRollup, RollupTotals, Session, StateInterval } from './types.ts';

interface DayAcc {
  day: string;
  start: number;
  end: number;
  ms: Record<StateInterval['state'], number>;
  covered: number;
  effective: number;
  sessions: number;
  energy: number;
}

/** The rollups of every local day overlapping [from, to), in day order. */
export function dailyRollups(
  intervals: readonly StateInterval[],
  sessions: readonly Session[],
  options: { timeZone: string; from: number; to: number },
): DailyRollup[] {
  const { timeZone, from, to } = options;
  if (!(to > from)) return [];
  const days: DayAcc[] = [];
  for (let day = localDay(from, timeZone), start = from; start < to; ) {
    const next = addDays(day, 1);
    const end = Math.min(dayStart(next, timeZone), to);
    if (end <= start) throw new Error(`local day ${next} in ${timeZone} does not start after ${start}`);
    days.push({
      day,
      start,
      end,
      ms: { off: 0, standby: 0, active: 0, fault: 0, unknown: 0 },
      covered: 0,
      effective: 0,
      sessions: 0,
      energy: 0,
    });
    day = next;
    start = end;
  }

  /** Calls fn for each day that [a, b) overlaps, with the overlap in ms. */
  const overlaps = (a: number, b: number, fn: (d: DayAcc, ms: number) => void): void => {
    let lo = 0;
    let hi = days.length;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (days[mid]!.start <= a) lo = mid;
      else hi = mid;
    }
    for (let i = lo; i < days.length && days[i]!.start < b; i++) {
      const d = days[i]!;
      const ms = Math.min(b, d.end) - Math.max(a, d.start);
      if (ms > 0) fn(d, ms);
    }
  };

  for (const iv of intervals) {
    const len = iv.end - iv.start;
    overlaps(iv.start, iv.end, (d, ms) => {
      d.ms[iv.state] += ms;
      d.covered += ms;
      d.energy += ms >= len ? iv.energy_kwh : iv.energy_kwh * (ms / len);
    });
  }
  for (const s of sessions) {
    overlaps(s.start, s.end, (d, ms) => {
      d.effective += ms;
    });
    if (s.start >= from && s.start < to) overlaps(s.start, s.start + 1, (d) => d.sessions++);
  }

  return days.map((d) => {
    const periodMs = d.end - d.start;
    const unknownMs = d.ms.unknown + Math.max(0, periodMs - d.covered);
    return {
      day: d.day,
      period_s: periodMs / 1000,
      off_s: d.ms.off / 1000,
      standby_s: d.ms.standby / 1000,
      active_s: d.ms.active / 1000,
      fault_s: d.ms.fault / 1000,
      unknown_s: unknownMs / 1000,
      effective_s: d.effective / 1000,
      sessions: d.sessions,
      energy_kwh: d.energy,
      coverage: periodMs > 0 ? (periodMs - unknownMs) / periodMs : 0,
    };
  });
}

/** The sum of daily rollups (a month, a year, any range); coverage is recomputed over the whole period. */
export function sumRollups(rollups: Iterable<DailyRollup>): RollupTotals {
  const t: RollupTotals = {
    days: 0,
    period_s: 0,
    off_s: 0,
    standby_s: 0,
    active_s: 0,
    fault_s: 0,
    unknown_s: 0,
    effective_s: 0,
    sessions: 0,
    energy_kwh: 0,
    coverage: 0,
  };
  for (const r of rollups) {
    t.days++;
    t.period_s += r.period_s;
    t.off_s += r.off_s;
    t.standby_s += r.standby_s;
    t.active_s += r.active_s;
    t.fault_s += r.fault_s;
    t.unknown_s += r.unknown_s;
    t.effective_s += r.effective_s;
    t.sessions += r.sessions;
    t.energy_kwh += r.energy_kwh;
  }
  t.coverage = t.period_s > 0 ? (t.period_s - t.unknown_s) / t.period_s : 0;
  return t;
}
