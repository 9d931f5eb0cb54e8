/**
 * The working-day calendar (DOMAIN "Hours and rates", secondary: available hours for "utilization of opening
 * hours"). Days are calendar dates as `YYYY-MM-DD` strings, zone-free: the caller has already turned instants
 * into local days (time-zone.ts), so the arithmetic here is plain UTC date math.
 *
 * A day is a working day when, in this order:
 *   1. it is in `extraWorkingDays` (the institution's own, e.g. an open day) -> working;
 *   2. it is in `extraDaysOff` (the institution's own closures, e.g. a winter shutdown) -> not working;
 *   3. it is an adjusted working day (调休上班) of the holiday data -> working;
 *   4. it is a day off of the holiday data (法定节假日) -> not working;
 *   5. otherwise Monday to Friday -> working, Saturday and Sunday -> not.
 * Years the holiday data does not cover fall back to rule 5; `coversYear` tells callers so they can warn.
 *
 * Opening hours default to 08:00-12:00 and 14:00-17:00, 7 h a working day: the usual university office day, and
 * the day behind the Ministry of Education's 1,400 rated hours (7 h x 5 d x 40 weeks).
 */
import { dayOfWeek, eachDay, isValidDay, yearOf } from './days.ts';
import { CN_HOLIDAYS, type HolidayYear } from './holidays-cn.ts';

export { addDays, dayOfWeek, daysBetween, daysInYear, eachDay, isLeapYear, isValidDay, yearOf } from './days.ts';

const TIME_RE = /^(\d{2}):(\d{2})$/;

/** One stretch of opening time within a day, 'HH:MM' (end may be '24:00'; end after start). */
export interface OpeningRange {
  start: string;
  end: string;
}

/** 08:00-12:00 and 14:00-17:00: 7 h a working day. */
export const DEFAULT_OPENING_HOURS: readonly OpeningRange[] = Object.freeze([
  Object.freeze({ start: '08:00', end: '12:00' }),
  Object.freeze({ start: '14:00', end: '17:00' }),
]);

export interface CalendarOptions {
  /** Holiday data; default the Chinese State Council notices (holidays-cn.ts). */
  data?: readonly HolidayYear[];
  /** Further days off of the institution (YYYY-MM-DD). */
  extraDaysOff?: readonly string[];
  /** Further working days of the institution (YYYY-MM-DD); these win over every other rule. */
  extraWorkingDays?: readonly string[];
  /** Opening hours of a working day: one range or several (e.g. morning and afternoon). */
  openingHours?: OpeningRange | readonly OpeningRange[];
}

/** Why a day is or is not a working day (the rule that decided, see the module comment). */
export type DayReason = 'extra_working_day' | 'extra_day_off' | 'adjusted_working_day' | 'holiday' | 'weekday' | 'weekend';

export interface DayInfo {
  day: string;
  working: boolean;
  reason: DayReason;
  /** The holiday block's name for `holiday` and `adjusted_working_day` (e.g. 'National Day and Mid-Autumn Festival'). */
  holiday?: string;
  holiday_zh?: string;
}

export interface WorkCalendar {
  isWorkingDay(day: string): boolean;
  /** Working days in [fromDay, toDayInclusive]; 0 when toDayInclusive is before fromDay. */
  workingDays(fromDay: string, toDayInclusive: string): number;
  /** Opening seconds of the day: the opening hours on a working day, 0 on any other day. */
  openingSeconds(day: string): number;
  /** The rule that decided the day, with the holiday name when a holiday rule did. */
  dayInfo(day: string): DayInfo;
  /** Whether the holiday data covers the year (else the year falls back to Monday-Friday). */
  coversYear(year: number): boolean;
  /** Opening seconds of one working day (25,200 for the default 7 h). */
  readonly openingSecondsPerDay: number;
}

/** Minutes since midnight of 'HH:MM' (00:00 to 24:00), or null when malformed. */
function parseTime(text: string): number | null {
  const m = TIME_RE.exec(text);
  if (m === null) return null;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (min > 59 || h > 24 || (h === 24 && min !== 0)) return null;
  return h * 60 + min;
}

function openingRanges(openingHours: CalendarOptions['openingHours']): readonly OpeningRange[] {
  if (openingHours === undefined) return DEFAULT_OPENING_HOURS;
  return isOpeningRangeList(openingHours) ? openingHours : [openingHours];
}

function isOpeningRangeList(v: OpeningRange | readonly OpeningRange[]): v is readonly OpeningRange[] {
  return Array.isArray(v);
}

/** Every problem with the options, each quoting the bad value; [] when valid. */
export function validateCalendarOptions(options: CalendarOptions = {}): string[] {
  const errors: string[] = [];
  const checkDays = (where: string, days: readonly string[] | undefined): void => {
    if (days === undefined) return;
    if (!Array.isArray(days)) {
      errors.push(`${where} must be a list of YYYY-MM-DD days (got ${JSON.stringify(days)})`);
      return;
    }
    days.forEach((d, i) => {
      if (typeof d !== 'string' || !isValidDay(d)) errors.push(`${where}[${i}] is not a YYYY-MM-DD day (got ${JSON.stringify(d)})`);
    });
  };
  const data = options.data ?? CN_HOLIDAYS;
  const kinds = new Map<string, string>();
  data.forEach((y, yi) => {
    if (!Number.isInteger(y.year)) errors.push(`data[${yi}].year must be an integer (got ${JSON.stringify(y.year)})`);
    y.holidays.forEach((h, hi) => {
      const where = `data[${yi}] (${y.year}) holidays[${hi}] (${h.name})`;
      checkDays(`${where}.days_off`, h.days_off);
      checkDays(`${where}.working_days`, h.working_days);
      for (const [list, kind] of [[h.days_off, 'day off'], [h.working_days, 'working day']] as const) {
        for (const d of list) {
          const other = kinds.get(d);
          if (other !== undefined && other !== kind) errors.push(`${where}: ${d} is listed both as a day off and as a working day`);
          kinds.set(d, kind);
        }
      }
    });
  });
  checkDays('extraDaysOff', options.extraDaysOff);
  checkDays('extraWorkingDays', options.extraWorkingDays);
  if (options.extraDaysOff !== undefined && options.extraWorkingDays !== undefined) {
    const off = new Set(options.extraDaysOff);
    for (const d of options.extraWorkingDays) {
      if (off.has(d)) errors.push(`${d} is in both extraDaysOff and extraWorkingDays`);
    }
  }
  const ranges = options.openingHours === undefined ? [] : openingRanges(options.openingHours);
  const parsed: Array<[number, number]> = [];
  ranges.forEach((r, i) => {
    const start = parseTime(String(r?.start));
    const end = parseTime(String(r?.end));
    if (start === null) errors.push(`openingHours[${i}].start must be HH:MM (got ${JSON.stringify(r?.start)})`);
    if (end === null) errors.push(`openingHours[${i}].end must be HH:MM (got ${JSON.stringify(r?.end)})`);
    if (start !== null && end !== null) {
      if (end <= start) errors.push(`openingHours[${i}]: end ${r.end} must be after start ${r.start}`);
      else parsed.push([start, end]);
    }
  });
  parsed.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < parsed.length; i++) {
    const prev = parsed[i - 1];
    const cur = parsed[i];
    if (prev !== undefined && cur !== undefined && cur[0] < prev[1]) errors.push('openingHours ranges overlap');
  }
  return errors;
}

/** Opening seconds of one working day for these ranges (validated beforehand). */
function openingSecondsOf(ranges: readonly OpeningRange[]): number {
  let s = 0;
  for (const r of ranges) s += ((parseTime(r.end) ?? 0) - (parseTime(r.start) ?? 0)) * 60;
  return s;
}

/** A working-day calendar; throws an Error listing every problem when the options are invalid. */
export function createCalendar(options: CalendarOptions = {}): WorkCalendar {
  const errors = validateCalendarOptions(options);
  if (errors.length > 0) throw new Error(`invalid calendar options:\n  - ${errors.join('\n  - ')}`);
  const data = options.data ?? CN_HOLIDAYS;
  const years = new Set(data.map((y) => y.year));
  const listed = new Map<string, { working: boolean; name: string; name_zh: string }>();
  for (const y of data) {
    for (const h of y.holidays) {
      for (const d of h.days_off) listed.set(d, { working: false, name: h.name, name_zh: h.name_zh });
      for (const d of h.working_days) listed.set(d, { working: true, name: h.name, name_zh: h.name_zh });
    }
  }
  const extraOff = new Set(options.extraDaysOff ?? []);
  const extraWorking = new Set(options.extraWorkingDays ?? []);
  const perDay = openingSecondsOf(openingRanges(options.openingHours));

  const dayInfo = (day: string): DayInfo => {
    const dow = dayOfWeek(day); // validates the day
    if (extraWorking.has(day)) return { day, working: true, reason: 'extra_working_day' };
    if (extraOff.has(day)) return { day, working: false, reason: 'extra_day_off' };
    const l = listed.get(day);
    if (l !== undefined) {
      return { day, working: l.working, reason: l.working ? 'adjusted_working_day' : 'holiday', holiday: l.name, holiday_zh: l.name_zh };
    }
    const weekday = dow >= 1 && dow <= 5;
    return { day, working: weekday, reason: weekday ? 'weekday' : 'weekend' };
  };
  const isWorkingDay = (day: string): boolean => dayInfo(day).working;

  return {
    isWorkingDay,
    dayInfo,
    workingDays(fromDay, toDayInclusive) {
      let n = 0;
      for (const d of eachDay(fromDay, toDayInclusive)) if (isWorkingDay(d)) n++;
      return n;
    },
    openingSeconds(day) {
      return isWorkingDay(day) ? perDay : 0;
    },
    coversYear(year) {
      return years.has(year);
    },
    openingSecondsPerDay: perDay,
  };
}

/** The years of [fromDay, toDayInclusive] the calendar has no holiday data for (Monday-Friday was used). */
export function uncoveredYears(calendar: WorkCalendar, fromDay: string, toDayInclusive: string): number[] {
  const out: number[] = [];
  for (let y = yearOf(fromDay); y <= yearOf(toDayInclusive); y++) if (!calendar.coversYear(y)) out.push(y);
  return out;
}
