/**
 * Rated hours and the rates built on them (DOMAIN "Hours and rates").
 *
 * - Rated hours (定额机时): a yearly figure per instrument, 1,400 h for general instruments and 800 h for special
 *   ones (教高司条函[2000]010号), configurable. For part of a year, or an instrument commissioned or retired
 *   during it, the figure is pro-rated by calendar days in service: each day in service is worth
 *   ratedHoursPerYear / (days in that calendar year, 365 or 366). A full year in service is exactly the yearly
 *   figure, leap year or not.
 * - Utilization rate (利用率) = effective hours / rated hours.
 * - Sharing rate (共享率) = external service hours / effective hours.
 * - Utilization of opening hours = effective hours on working days / opening hours of those working days
 *   (see openingHoursUtilization).
 * A rate whose denominator is 0 is null ("not defined"), never 0 or Infinity.
 */
import type { DailyRollup } from './types.ts';
import { daysBetween, daysInYear, eachDay, isValidDay, uncoveredYears, yearOf, type WorkCalendar } from './calendar.ts';

/** Ministry of Education rated hours per year for general instruments: 7 h x 5 d x 40 weeks. */
export const RATED_HOURS_GENERAL = 1400;
/** Ministry of Education rated hours per year for special instruments. */
export const RATED_HOURS_SPECIAL = 800;
export const DEFAULT_RATED_HOURS_PER_YEAR = RATED_HOURS_GENERAL;

/** The days an instrument is in service: commissioned <= day <= retired, both inclusive, either open. */
export interface ServicePeriod {
  /** First day in service (启用日期), YYYY-MM-DD; none: in service since before the period. */
  commissioned?: string;
  /** Last day in service, YYYY-MM-DD; none: still in service. */
  retired?: string;
}

export interface RatedHoursOptions extends ServicePeriod {
  ratedHoursPerYear: number;
  fromDay: string;
  toDayInclusive: string;
}

export interface RatedHoursYear {
  year: number;
  /** 365 or 366. */
  days_in_year: number;
  /** Days of this year within the period and in service. */
  days_in_service: number;
  rated_h: number;
}

export interface RatedHours {
  rated_h: number;
  /** Days in [fromDay, toDayInclusive]. */
  days_in_period: number;
  /** Days of the period in service. */
  days_in_service: number;
  /** One entry per calendar year the period touches. */
  by_year: RatedHoursYear[];
}

function assertDay(name: string, day: string): void {
  if (typeof day !== 'string' || !isValidDay(day)) throw new RangeError(`${name} is not a YYYY-MM-DD day (got ${JSON.stringify(day)})`);
}

function assertService(service: ServicePeriod): void {
  if (service.commissioned !== undefined) assertDay('commissioned', service.commissioned);
  if (service.retired !== undefined) assertDay('retired', service.retired);
  if (service.commissioned !== undefined && service.retired !== undefined && service.retired < service.commissioned) {
    throw new RangeError(`retired (${service.retired}) is before commissioned (${service.commissioned})`);
  }
}

/** Whether the instrument is in service on `day`. */
export function inService(day: string, service: ServicePeriod): boolean {
  return (service.commissioned === undefined || service.commissioned <= day) && (service.retired === undefined || day <= service.retired);
}

const later = (a: string, b: string): string => (a > b ? a : b);
const earlier = (a: string, b: string): string => (a < b ? a : b);

/**
 * Rated hours of [fromDay, toDayInclusive] for an instrument in service from `commissioned` to `retired`.
 * Throws a RangeError for malformed days, a negative or non-finite yearly figure, an empty period, or a
 * retirement before commissioning.
 */
export function ratedHours(options: RatedHoursOptions): RatedHours {
  const { ratedHoursPerYear, fromDay, toDayInclusive } = options;
  if (typeof ratedHoursPerYear !== 'number' || !Number.isFinite(ratedHoursPerYear) || ratedHoursPerYear < 0) {
    throw new RangeError(`ratedHoursPerYear must be a finite number >= 0 (got ${JSON.stringify(ratedHoursPerYear)})`);
  }
  assertDay('fromDay', fromDay);
  assertDay('toDayInclusive', toDayInclusive);
  if (toDayInclusive < fromDay) throw new RangeError(`toDayInclusive (${toDayInclusive}) is before fromDay (${fromDay})`);
  assertService(options);

  const by_year: RatedHoursYear[] = [];
  let rated_h = 0;
  let days_in_service = 0;
  for (let year = yearOf(fromDay); year <= yearOf(toDayInclusive); year++) {
    let first = later(fromDay, `${year}-01-01`);
    let last = earlier(toDayInclusive, `${year}-12-31`);
    if (options.commissioned !== undefined) first = later(first, options.commissioned);
    if (options.retired !== undefined) last = earlier(last, options.retired);
    const days = last < first ? 0 : daysBetween(first, last) + 1;
    const days_in_year = daysInYear(year);
    // Multiply first, divide last: a full year gives exactly ratedHoursPerYear.
    const h = (ratedHoursPerYear * days) / days_in_year;
    by_year.push({ year, days_in_year, days_in_service: days, rated_h: h });
    rated_h += h;
    days_in_service += days;
  }
  return { rated_h, days_in_period: daysBetween(fromDay, toDayInclusive) + 1, days_in_service, by_year };
}

/** Utilization rate (利用率) = effective hours / rated hours; null when rated_h is not above 0. */
export function utilizationRate(effective_h: number, rated_h: number): number | null {
  return rated_h > 0 ? effective_h / rated_h : null;
}

/** Sharing rate (共享率) = external service hours / effective hours; null when effective_h is not above 0. */
export function sharingRate(external_h: number, effective_h: number): number | null {
  return effective_h > 0 ? external_h / effective_h : null;
}

export interface OpeningHoursUtilizationOptions extends ServicePeriod {
  /** Daily rollups (or anything with a day and its effective seconds); days outside the period are ignored. */
  days: ReadonlyArray<Pick<DailyRollup, 'day' | 'effective_s'>>;
  calendar: WorkCalendar;
  fromDay: string;
  toDayInclusive: string;
}

export interface OpeningHoursUtilization {
  /** Working days of the period in service: the days the instrument was open. */
  working_days: number;
  /** Of those, days with a rollup (the rest count as 0 effective hours: check coverage). */
  working_days_with_data: number;
  /** Opening hours of those working days (working_days x opening hours per day). */
  opening_h: number;
  /** Effective hours on those working days, at any time of the day. */
  effective_h: number;
  /** Effective hours on the other days of the period (weekends, holidays, out of service): not in the rate. */
  effective_other_days_h: number;
  /** effective_h / opening_h; null when opening_h is 0. Above 1 when the instrument runs beyond opening hours. */
  rate: number | null;
  /** Years of the period the calendar has no holiday data for (Monday-Friday was assumed): warn. */
  uncovered_years: number[];
}

/**
 * Utilization of opening hours: how much of the time the instrument was open for use was effective working
 * time. Definition:
 *
 *   rate = (effective seconds on the working days of the period in service)
 *          / (sum over those days of calendar.openingSeconds(day))
 *
 * The numerator counts a working day's effective time at any hour, not only inside the opening window, because
 * daily rollups have no time-of-day split: evening and night runs on working days count, so the rate can exceed
 * 1 (say 1.4 for an instrument run in two shifts). Effective time on weekends and holidays is not in the rate;
 * it is reported beside it (effective_other_days_h), never dropped. A working day without a rollup counts as 0
 * effective seconds; working_days_with_data says how many had one.
 */
export function openingHoursUtilization(options: OpeningHoursUtilizationOptions): OpeningHoursUtilization {
  const { calendar, fromDay, toDayInclusive } = options;
  assertDay('fromDay', fromDay);
  assertDay('toDayInclusive', toDayInclusive);
  if (toDayInclusive < fromDay) throw new RangeError(`toDayInclusive (${toDayInclusive}) is before fromDay (${fromDay})`);
  assertService(options);

  const open = new Set<string>();
  let opening_s = 0;
  for (const day of eachDay(fromDay, toDayInclusive)) {
    if (!inService(day, options) || !calendar.isWorkingDay(day)) continue;
    open.add(day);
    opening_s += calendar.openingSeconds(day);
  }
  let effective_s = 0;
  let other_s = 0;
  const withData = new Set<string>();
  for (const r of options.days) {
    if (r.day < fromDay || r.day > toDayInclusive) continue;
    if (open.has(r.day)) {
      effective_s += r.effective_s;
      withData.add(r.day);
    } else {
      other_s += r.effective_s;
    }
  }
  const opening_h = opening_s / 3600;
  const effective_h = effective_s / 3600;
  return {
    working_days: open.size,
    working_days_with_data: withData.size,
    opening_h,
    effective_h,
    effective_other_days_h: other_s / 3600,
    rate: opening_h > 0 ? effective_h / opening_h : null,
    uncovered_years: uncoveredYears(calendar, fromDay, toDayInclusive),
  };
}
