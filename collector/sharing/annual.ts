/**
 * The annual assessment report (DOMAIN.md "Annual assessment export"): one row per instrument for a calendar
 * year in the collector's time zone, built from the measured figures (daily rollups, sessions), the bookings
 * matched to the sessions, and the registry.
 *
 * - Every known instrument gets a row (configured, in the registry, or ever seen): instruments without data and
 *   partial years are shown, never dropped (`no_data`, `partial`, and the covered days `from`..`to`).
 * - Effective, active and powered-on hours, sessions, energy, rated hours, utilization and coverage are the
 *   figures of GET /api/v1/utilization for the year (group=total), so the two never disagree.
 * - External and internal hours are the session time covered by external / internal bookings (external wins
 *   where both overlap); unattributed = effective - external - internal, so the three add up to effective hours.
 * - Sessions crossing the year boundary are cut at it; the session sheet lists every (cut) session of the year.
 */
import { addDays, dayStart, localDay } from '../engine/time-zone.ts';
import { createCalendar, type WorkCalendar } from '../engine/calendar.ts';
import type { EngineRunner } from '../engine-runner.ts';
import type { Store } from '../store/store.ts';
import { periodRows, type InstrumentService } from '../utilization.ts';
import { attributeSessions, bookingUse, clipSpans, clipToRange, findMismatches } from './attribution.ts';
import { annualOf, assetOf } from './registry.ts';
import type { AnnualReport, AnnualRow, AttributedSession, BookingUse, Mismatch, SessionSpan } from './types.ts';

export interface AnnualReportOptions {
  year: number;
  now: number;
  store: Store;
  engine: EngineRunner;
  timeZone: string;
  /** Rated hours per year of instruments without their own. */
  defaultRatedHours: number;
  /** Original value (CNY) from which an instrument is in the assessment. */
  thresholdCny: number;
  /** Instrument ids besides those of the store (the configured ones). */
  instrumentIds?: readonly string[];
  calendar?: WorkCalendar;
}

/** The years with data or bookings are not known in advance: a report can be asked for any year 2000..2100. */
export function isReportYear(year: number): boolean {
  return Number.isInteger(year) && year >= 2000 && year <= 2100;
}

export function buildAnnualReport(o: AnnualReportOptions): AnnualReport {
  const { year, now, store, engine, timeZone: tz } = o;
  const calendar = o.calendar ?? createCalendar();
  const fromDay = `${year}-01-01`;
  const toDay = `${year}-12-31`;
  const today = localDay(now, tz);
  const yearStart = dayStart(fromDay, tz);
  const yearEnd = Math.min(dayStart(addDays(toDay, 1), tz), now);
  const records = new Map(store.sharing.registry().map((r) => [r.id, r]));
  const ids = [...new Set([...(o.instrumentIds ?? []), ...records.keys(), ...store.instrumentIds()])].sort();
  const storedNames = new Map(store.listInstruments().map((i) => [i.id, i.name]));

  const started = yearEnd > yearStart;
  const sessions: SessionSpan[] = started
    ? clipSpans(
        engine.sessions(ids, yearStart, yearEnd).map((s) => ({ instrument_id: s.instrument_id, start: s.start, end: s.end, active_s: s.active_s, energy_kwh: s.energy_kwh })),
        yearStart,
        yearEnd,
      )
    : [];
  // Bookings crossing New Year (or running now) count only their part inside the year.
  const bookings = started ? clipToRange(store.sharing.bookings(ids, yearStart, yearEnd), yearStart, yearEnd) : [];
  // Unknown time: everything of the year not covered by a known state (before the first reading there are no
  // intervals at all, and that time is unknown too).
  const unknown = started ? ids.flatMap((id) => unknownSpans(id, engine.timeline(id, yearStart, yearEnd).intervals, yearStart, yearEnd)) : [];
  const attributed: AttributedSession[] = attributeSessions(sessions, bookings);
  const uses: BookingUse[] = bookingUse(bookings, sessions, unknown);
  const mismatches: Mismatch[] = findMismatches(attributed, uses);

  // By instrument once (a filter per instrument would be quadratic: 1,000 instruments x a year of sessions).
  const attributedBy = groupBy(attributed, (s) => s.instrument_id);
  const usesBy = groupBy(uses, (u) => u.booking.instrument_id);
  // Elapsed days in service per row: the weight of its coverage in the totals.
  const days: number[] = [];
  const rows: AnnualRow[] = ids.map((id) => {
    const fields = records.get(id)?.fields ?? {};
    const asset = assetOf(fields);
    if (asset.name === undefined) {
      const stored = storedNames.get(id);
      if (stored) asset.name = stored;
    }
    const service: InstrumentService = {
      ratedHoursPerYear: asset.rated_hours ?? o.defaultRatedHours,
      ...(asset.commissioned !== undefined ? { commissioned: asset.commissioned } : {}),
      ...(asset.retired !== undefined ? { retired: asset.retired } : {}),
    };
    const rollups = started ? engine.rollups(id, fromDay, toDay < today ? toDay : today, now) : [];
    const period = periodRows(rollups, { group: 'total', fromDay, toDay, today, service, calendar })[0]!;
    const mine = attributedBy.get(id) ?? [];
    const external_h = sum(mine.map((s) => s.external_h));
    const internal_h = sum(mine.map((s) => s.internal_h));
    const myUses = usesBy.get(id) ?? [];
    const entered = annualOf(fields).find((e) => e.year === year);
    // The covered days: the year clipped to the days in service and to today.
    const first = maxDay(fromDay, service.commissioned);
    const last = minDay(minDay(toDay, service.retired), today);
    const covers = started && first <= last;
    const effective = period.effective_h;
    days.push(period.days_in_service);
    return {
      id,
      asset,
      in_scope: asset.original_value_cny !== undefined && asset.original_value_cny >= o.thresholdCny,
      from: covers ? first : null,
      to: covers ? last : null,
      partial: !covers || first !== fromDay || last !== toDay,
      no_data: rollups.length === 0 || period.coverage === 0,
      effective_h: effective,
      active_h: period.active_h,
      powered_on_h: period.powered_on_h,
      external_h,
      internal_h,
      unattributed_h: Math.max(0, effective - external_h - internal_h),
      rated_h: period.rated_h,
      utilization_rate: period.utilization_rate,
      sharing_rate: effective > 0 ? external_h / effective : null,
      sessions: period.sessions,
      coverage: period.coverage,
      energy_kwh: period.energy_kwh,
      booked_h: sum(myUses.map((u) => u.booked_h)),
      no_show_h: sum(myUses.filter((u) => u.used_h === 0).map((u) => u.booked_h - u.unknown_h)),
      bookings: myUses.length,
      service_income_cny: entered?.service_income_cny ?? null,
      trained_users: entered?.trained_users ?? null,
    };
  });

  const totals = totalsOf(rows, days);
  return { year, time_zone: tz, generated_at: now, threshold_cny: o.thresholdCny, rows, totals, sessions: attributed, mismatches };
}

function totalsOf(rows: readonly AnnualRow[], weights: readonly number[]): AnnualReport['totals'] {
  const s = (f: (r: AnnualRow) => number) => sum(rows.map(f));
  const effective_h = s((r) => r.effective_h);
  const rated_h = s((r) => r.rated_h);
  const external_h = s((r) => r.external_h);
  const days = sum(weights);
  const income = rows.filter((r) => r.service_income_cny !== null);
  const trained = rows.filter((r) => r.trained_users !== null);
  return {
    effective_h,
    active_h: s((r) => r.active_h),
    powered_on_h: s((r) => r.powered_on_h),
    external_h,
    internal_h: s((r) => r.internal_h),
    unattributed_h: s((r) => r.unattributed_h),
    rated_h,
    utilization_rate: rated_h > 0 ? effective_h / rated_h : null,
    sharing_rate: effective_h > 0 ? external_h / effective_h : null,
    sessions: s((r) => r.sessions),
    coverage: days > 0 ? sum(rows.map((r, i) => r.coverage * weights[i]!)) / days : 0,
    energy_kwh: s((r) => r.energy_kwh),
    booked_h: s((r) => r.booked_h),
    no_show_h: s((r) => r.no_show_h),
    bookings: s((r) => r.bookings),
    service_income_cny: income.length > 0 ? sum(income.map((r) => r.service_income_cny!)) : null,
    trained_users: trained.length > 0 ? sum(trained.map((r) => r.trained_users!)) : null,
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
function maxDay(a: string, b: string | undefined): string {
  return b !== undefined && b > a ? b : a;
}
function minDay(a: string, b: string | undefined): string {
  return b !== undefined && b < a ? b : a;
}

/** The parts of [from, to) not covered by an interval of a known state. */
function unknownSpans(
  instrument_id: string,
  intervals: ReadonlyArray<{ start: number; end: number; state: string }>,
  from: number,
  to: number,
): Array<{ instrument_id: string; start: number; end: number }> {
  const out: Array<{ instrument_id: string; start: number; end: number }> = [];
  let at = from;
  for (const i of [...intervals].filter((x) => x.state !== 'unknown').sort((a, b) => a.start - b.start)) {
    if (i.start > at) out.push({ instrument_id, start: at, end: Math.min(i.start, to) });
    at = Math.max(at, i.end);
    if (at >= to) break;
  }
  if (at < to) out.push({ instrument_id, start: at, end: to });
  return out.filter((s) => s.end > s.start);
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}
