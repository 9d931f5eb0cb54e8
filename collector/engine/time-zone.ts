/**
 * Local calendar days in an IANA time zone, with Intl only (no dependency). Days are `YYYY-MM-DD` strings.
 * A local day is [dayStart(day), dayStart(next day)): 24 h in Asia/Shanghai, 23 h or 25 h on DST change days
 * elsewhere (Europe/Berlin), and it starts at the first instant of the date when midnight is skipped.
 * Also the one place local wall times are converted (wallMs, localWallTimeToUtc, formatLocalDateTime): the
 * engine, the bookings import and the export writers all use these.
 */

import { formatDay, parseDay } from './days.ts';

export { addDays, daysBetween } from './days.ts';

/** The reporting zone by default (DOMAIN: calendar year in local time, Asia/Shanghai). */
export const DEFAULT_TIME_ZONE = 'Asia/Shanghai';

const HOUR_MS = 3_600_000;

/** One formatter per zone: creating them is the slow part. A cache, not state: results never depend on it. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/**
 * The wall-clock time at `ts` in the zone, as ms of that same wall time read as UTC: `new Date(wallMs(ts, tz))`
 * has the local time in its UTC fields (what an Excel date cell holds: Excel dates have no zone).
 */
export function wallMs(ts: number, timeZone: string): number {
  const v: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(ts)) {
    if (part.type !== 'literal') v[part.type] = Number(part.value);
  }
  const seconds = Date.UTC(v.year!, v.month! - 1, v.day!, v.hour!, v.minute!, v.second!);
  return seconds + (ts - Math.floor(ts / 1000) * 1000);
}

/**
 * The instant a local wall time (given as the same wall time read as UTC, see wallMs) happens in the zone; the
 * earlier one when it happens twice (a DST fall-back), null when it never happens (skipped by a spring-forward).
 */
export function localWallTimeToUtc(wall: number, timeZone: string): number | null {
  // The instant is `wall - offset`, for the offset in force then: try the offsets around it (-12 h to +14 h).
  let best: number | null = null;
  for (const probe of [wall - 15 * HOUR_MS, wall, wall + 13 * HOUR_MS]) {
    const t = wall - (wallMs(probe, timeZone) - probe);
    if (wallMs(t, timeZone) === wall && (best === null || t < best)) best = t;
  }
  return best;
}

/** `YYYY-MM-DD HH:MM:SS` local time in the zone (milliseconds dropped). */
export function formatLocalDateTime(ts: number, timeZone: string): string {
  return new Date(wallMs(ts, timeZone)).toISOString().slice(0, 19).replace('T', ' ');
}

/** True when Intl knows the zone. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The local date (YYYY-MM-DD) of `ts` in the zone. */
export function localDay(ts: number, timeZone: string = DEFAULT_TIME_ZONE): string {
  // Samples come in time order: most calls fall in the day of the previous one, known without asking Intl
  // (Intl.DateTimeFormat per sample was most of the engine's time).
  const last = lastDays.get(timeZone);
  if (last !== undefined && ts >= last.start && ts < last.end) return last.day;
  const day = formatDay(wallMs(ts, timeZone));
  if (lastDays.size > 64) lastDays.clear();
  lastDays.set(timeZone, { day, start: dayStart(day, timeZone), end: dayStart(nextDay(day), timeZone) });
  return day;
}

/** The latest day localDay computed per zone, with its bounds [start, end). */
const lastDays = new Map<string, { day: string; start: number; end: number }>();

function nextDay(day: string): string {
  return formatDay(parseDay(day) + 86_400_000);
}

/** ms since epoch of the first instant of the local day (local midnight, or later when midnight is skipped). */
export function dayStart(day: string, timeZone: string = DEFAULT_TIME_ZONE): number {
  const midnight = parseDay(day);
  const start = localWallTimeToUtc(midnight, timeZone);
  if (start !== null) return start;
  // Midnight does not exist that day (a DST change at 00:00): the first instant whose date is `day`.
  let lo = midnight - 15 * HOUR_MS; // local date before `day` at any offset up to +14 h
  let hi = midnight + 13 * HOUR_MS; // local date `day` or later at any offset down to -12 h
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (formatDay(wallMs(mid, timeZone)) < day) lo = mid; // not localDay: it calls dayStart
    else hi = mid;
  }
  return hi;
}


