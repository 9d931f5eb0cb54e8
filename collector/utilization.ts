/**
 * Period queries (day, month, year, any range) built on daily rollups: hours per state, effective hours,
 * sessions, energy, coverage, rated hours pro-rated by days in service, and the utilization rate.
 * Terms as in the domain notes: effective hours = session time; utilization rate = effective / rated hours.
 */
import { sumRollups } from './engine/rollup.ts';
import type { WorkCalendar } from './engine/calendar.ts';
import { openingHoursUtilization, ratedHours, utilizationRate } from './engine/rated.ts';
import { addDays } from './engine/time-zone.ts';
import type { DailyRollup, RollupTotals } from './engine/types.ts';

export type Group = 'day' | 'month' | 'year' | 'total';
export const GROUPS: readonly Group[] = ['day', 'month', 'year', 'total'];

/** What the period rows need to know about an instrument (registry entry). */
export interface InstrumentService {
  ratedHoursPerYear: number;
  commissioned?: string;
  retired?: string;
}

export interface PeriodRow {
  /** `2025-03-04` (day), `2025-03` (month), `2025` (year) or `2025-01-01..2025-06-30` (total). */
  period: string;
  /** First and last local day of the period, clipped to the query. */
  from: string;
  to: string;
  /** Elapsed hours of the period (up to now for a period that includes today). */
  period_h: number;
  off_h: number;
  standby_h: number;
  active_h: number;
  fault_h: number;
  unknown_h: number;
  /** standby + active + fault. */
  powered_on_h: number;
  /** Effective working hours: the time of sessions. */
  effective_h: number;
  sessions: number;
  energy_kwh: number;
  /** Share of the elapsed in-service time with a known state, 0..1. */
  coverage: number;
  /** Rated hours for the elapsed days in service. */
  rated_h: number;
  days_in_service: number;
  /** effective_h / rated_h; null when rated_h is 0. */
  utilization_rate: number | null;
  /** Elapsed working days in service (Chinese public holidays and adjusted working days applied). */
  working_days: number;
  /** Opening hours of those working days (7 h a day by default). */
  opening_h: number;
  /** Effective hours on working days / opening hours ("utilization of opening hours"); null when opening_h is 0. */
  opening_utilization_rate: number | null;
}

const H = 3600;

function periodKey(day: string, group: Group): string {
  if (group === 'day') return day;
  if (group === 'month') return day.slice(0, 7);
  if (group === 'year') return day.slice(0, 4);
  return 'total';
}

function inService(day: string, s: InstrumentService): boolean {
  return (s.commissioned === undefined || day >= s.commissioned) && (s.retired === undefined || day <= s.retired);
}

/**
 * Groups one instrument's daily rollups into period rows over [fromDay, toDay] (inclusive). Only days in service
 * count (commissioned <= day <= retired); days after `today` have not started and are left out of every
 * figure; today counts as far as its rollup goes.
 */
export function periodRows(
  rollups: readonly DailyRollup[],
  options: { group: Group; fromDay: string; toDay: string; today: string; service: InstrumentService; calendar: WorkCalendar },
): PeriodRow[] {
  const { group, fromDay, toDay, today, service, calendar } = options;
  const lastDay = toDay < today ? toDay : today;
  const byDay = new Map(rollups.map((r) => [r.day, r]));
  const periods = new Map<string, { from: string; to: string; days: DailyRollup[]; inServiceS: number; knownS: number }>();
  for (let day = fromDay; day <= toDay; day = addDays(day, 1)) {
    const key = periodKey(day, group);
    let p = periods.get(key);
    if (p === undefined) periods.set(key, (p = { from: day, to: day, days: [], inServiceS: 0, knownS: 0 }));
    p.to = day;
    if (day > lastDay) continue;
    const r = byDay.get(day);
    if (inService(day, service)) {
      // Days out of service (before commissioning, after retirement) count in no figure.
      if (r !== undefined) p.days.push(r);
      // A day with no rollup at all is a day with no data: unknown for its whole (elapsed) length.
      p.inServiceS += r?.period_s ?? 86_400;
      if (r !== undefined) p.knownS += r.period_s - r.unknown_s;
    }
  }
  const rows: PeriodRow[] = [];
  for (const [key, p] of periods) {
    const t: RollupTotals = sumRollups(p.days);
    const elapsedTo = p.to < lastDay ? p.to : lastDay;
    const servicePeriod = {
      ...(service.commissioned !== undefined ? { commissioned: service.commissioned } : {}),
      ...(service.retired !== undefined ? { retired: service.retired } : {}),
    };
    const started = elapsedTo >= p.from;
    const rated = started
      ? ratedHours({ ratedHoursPerYear: service.ratedHoursPerYear, fromDay: p.from, toDayInclusive: elapsedTo, ...servicePeriod })
      : { rated_h: 0, days_in_service: 0 };
    const opening = started
      ? openingHoursUtilization({ days: p.days, calendar, fromDay: p.from, toDayInclusive: elapsedTo, ...servicePeriod })
      : { working_days: 0, opening_h: 0, rate: null };
    const effective_h = t.effective_s / H;
    rows.push({
      period: group === 'total' ? `${p.from}..${p.to}` : key,
      from: p.from,
      to: p.to,
      period_h: t.period_s / H,
      off_h: t.off_s / H,
      standby_h: t.standby_s / H,
      active_h: t.active_s / H,
      fault_h: t.fault_s / H,
      unknown_h: t.unknown_s / H,
      powered_on_h: (t.standby_s + t.active_s + t.fault_s) / H,
      effective_h,
      sessions: t.sessions,
      energy_kwh: t.energy_kwh,
      coverage: p.inServiceS > 0 ? p.knownS / p.inServiceS : 0,
      rated_h: rated.rated_h,
      days_in_service: rated.days_in_service,
      utilization_rate: utilizationRate(effective_h, rated.rated_h),
      working_days: opening.working_days,
      opening_h: opening.opening_h,
      opening_utilization_rate: opening.rate,
    });
  }
  return rows;
}
