// @ts-check
/**
 * Numbers, times and durations for display. Times are shown in the collector's time zone (the one its days,
 * months and years are counted in), not the browser's, so the console agrees with the reports.
 */
import { getLang, locale, t } from './i18n.js';

/** @type {Map<string, Intl.NumberFormat>} */
const numberFormats = new Map();

/**
 * @param {number | null | undefined} v
 * @param {number} [digits] fraction digits (default 1)
 */
export function fmtNumber(v, digits = 1) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const key = `${locale()}|${digits}`;
  let f = numberFormats.get(key);
  if (!f) {
    f = new Intl.NumberFormat(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits });
    numberFormats.set(key, f);
  }
  return f.format(v);
}

/** @param {number | null | undefined} h hours */
export function fmtHours(h) {
  return fmtNumber(h, 1);
}

/** @param {number | null | undefined} w watts */
export function fmtPower(w) {
  if (w === null || w === undefined || !Number.isFinite(w)) return '—';
  if (Math.abs(w) >= 10_000) return `${fmtNumber(w / 1000, 1)} kW`;
  if (Math.abs(w) >= 1000) return `${fmtNumber(w / 1000, 2)} kW`;
  return `${fmtNumber(w, w < 10 ? 1 : 0)} W`;
}

/** @param {number | null | undefined} r a rate 0..1 */
export function fmtPercent(r) {
  if (r === null || r === undefined || !Number.isFinite(r)) return '—';
  return `${fmtNumber(r * 100, 1)} %`;
}

/** @type {Map<string, Intl.DateTimeFormat>} */
const dateFormats = new Map();

/**
 * @param {string} tz
 * @param {Intl.DateTimeFormatOptions} options
 */
function dateFormat(tz, options) {
  const key = `${locale()}|${tz}|${JSON.stringify(options)}`;
  let f = dateFormats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale(), { timeZone: tz, hourCycle: 'h23', ...options });
    dateFormats.set(key, f);
  }
  return f;
}

/**
 * `2025-03-04 14:05` (with seconds when asked) in the zone.
 * @param {number | null | undefined} ms
 * @param {string} tz
 * @param {{ seconds?: boolean }} [o]
 */
export function fmtDateTime(ms, tz, o = {}) {
  if (ms === null || ms === undefined) return '—';
  const p = wallParts(ms, tz);
  const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${p.year}-${pad(p.month)}-${pad(p.day)} ${pad(p.hour)}:${pad(p.minute)}${o.seconds ? `:${pad(p.second)}` : ''}`;
}

/**
 * `03-04 14:05` in the zone; only `14:05` when `sameDayAs` falls on the same local day.
 * @param {number} ms
 * @param {string} tz
 * @param {number} [sameDayAs]
 */
export function fmtShortDateTime(ms, tz, sameDayAs) {
  const p = wallParts(ms, tz);
  const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');
  const time = `${pad(p.hour)}:${pad(p.minute)}`;
  if (sameDayAs !== undefined && localDay(sameDayAs, tz) === localDay(ms, tz)) return time;
  return `${pad(p.month)}-${pad(p.day)} ${time}`;
}

/**
 * `14:05` (with seconds when asked) in the zone.
 * @param {number | null | undefined} ms
 * @param {string} tz
 * @param {{ seconds?: boolean }} [o]
 */
export function fmtTime(ms, tz, o = {}) {
  if (ms === null || ms === undefined) return '—';
  return dateFormat(tz, { hour: '2-digit', minute: '2-digit', ...(o.seconds ? { second: '2-digit' } : {}) }).format(ms);
}

/**
 * Short date for axes: `3/4` or `3月4日`.
 * @param {number} ms
 * @param {string} tz
 */
export function fmtShortDate(ms, tz) {
  return dateFormat(tz, { month: 'numeric', day: 'numeric' }).format(ms);
}

/**
 * Wall-clock fields of an instant in the zone.
 * @param {number} ms
 * @param {string} tz
 */
export function wallParts(ms, tz) {
  /** @type {Record<string, number>} */
  const v = {};
  const f = dateFormat(tz, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  for (const part of f.formatToParts(ms)) if (part.type !== 'literal') v[part.type] = Number(part.value);
  return { year: v.year ?? 1970, month: v.month ?? 1, day: v.day ?? 1, hour: (v.hour ?? 0) % 24, minute: v.minute ?? 0, second: v.second ?? 0 };
}

/**
 * The zone's UTC offset at an instant, ms (wall time minus UTC).
 * @param {number} ms
 * @param {string} tz
 */
export function zoneOffset(ms, tz) {
  const p = wallParts(ms, tz);
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return wall - (Math.floor(ms / 1000) * 1000);
}

/**
 * The instant of a wall-clock time in the zone (the earlier one in a DST overlap).
 * @param {number} wall the wall time read as UTC (Date.UTC(...))
 * @param {string} tz
 */
export function wallToUtc(wall, tz) {
  let t = wall - zoneOffset(wall, tz);
  t = wall - zoneOffset(t, tz);
  return t;
}

/**
 * The local day `YYYY-MM-DD` of an instant in the zone.
 * @param {number} ms
 * @param {string} tz
 */
export function localDay(ms, tz) {
  const p = wallParts(ms, tz);
  return `${p.year}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
}

/**
 * @param {string} day YYYY-MM-DD
 * @param {number} n
 */
export function addDays(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/**
 * `12 s ago`, `3 min ago`...
 * @param {number | null | undefined} ms
 * @param {number} now
 */
export function fmtAgo(ms, now) {
  if (ms === null || ms === undefined) return t('common.never');
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 90) return t('common.ago.s', { n: s });
  if (s < 90 * 60) return t('common.ago.min', { n: Math.round(s / 60) });
  if (s < 36 * 3600) return t('common.ago.h', { n: Math.round(s / 3600) });
  return t('common.ago.d', { n: Math.round(s / 86400) });
}

/**
 * `1 h 05 min`, `42 s`.
 * @param {number | null | undefined} s seconds
 */
export function fmtDuration(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '—';
  const zh = getLang() === 'zh';
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (h > 0) return zh ? `${h} 小时 ${m} 分` : `${h} h ${String(m).padStart(2, '0')} min`;
  if (m > 0) return zh ? `${m} 分 ${sec} 秒` : `${m} min ${String(sec).padStart(2, '0')} s`;
  return zh ? `${sec} 秒` : `${sec} s`;
}
