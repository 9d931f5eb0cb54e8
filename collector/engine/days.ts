/**
 * Calendar days written YYYY-MM-DD: zone-free date arithmetic shared by the calendar, rated hours and the
 * time-zone functions (a local day is a date; only its start instant depends on the zone).
 */

export const DAY_MS = 86_400_000;
const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Whether `day` is a real calendar date written YYYY-MM-DD. */
export function isValidDay(day: string): boolean {
  const m = DAY_RE.exec(day);
  if (m === null) return false;
  // Years 1970 to 2999: a day range must be able to end the day after its last day (9999-12-31 cannot).
  const year = Number(m[1]);
  if (year < 1970 || year > 2999) return false;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return formatDay(ms) === day;
}

/** The day's midnight UTC in ms; throws a RangeError for anything but a real YYYY-MM-DD date. */
export function parseDay(day: string): number {
  if (!isValidDay(day)) throw new RangeError(`not a calendar day YYYY-MM-DD: ${JSON.stringify(day)}`);
  return Date.parse(`${day}T00:00:00Z`);
}

export function formatDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The day `n` calendar days after `day` (before when n is negative). */
export function addDays(day: string, n: number): string {
  return formatDay(parseDay(day) + n * DAY_MS);
}

/** Day of the week as Date.getUTCDay: 0 Sunday, 1 Monday ... 6 Saturday. */
export function dayOfWeek(day: string): number {
  return new Date(parseDay(day)).getUTCDay();
}

/** Calendar days from `fromDay` to `toDay`, toDay excluded: daysBetween('2025-01-01', '2026-01-01') = 365. */
export function daysBetween(fromDay: string, toDay: string): number {
  return Math.round((parseDay(toDay) - parseDay(fromDay)) / DAY_MS);
}

/** Every day of [fromDay, toDayInclusive] in order; [] when toDayInclusive is before fromDay. */
export function eachDay(fromDay: string, toDayInclusive: string): string[] {
  const days: string[] = [];
  const end = parseDay(toDayInclusive);
  for (let ms = parseDay(fromDay); ms <= end; ms += DAY_MS) days.push(formatDay(ms));
  return days;
}

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** 365 or 366. */
export function daysInYear(year: number): number {
  return isLeapYear(year) ? 366 : 365;
}

/** The year of a YYYY-MM-DD day. */
export function yearOf(day: string): number {
  parseDay(day);
  return Number(day.slice(0, 4));
}

