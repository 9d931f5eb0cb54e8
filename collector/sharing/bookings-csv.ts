/**
 * Booking / usage records (预约 / 使用记录) from a CSV file, as booking systems and Excel export them
 * (DOMAIN "External service hours": attribution comes from booking records, CSV import or an API).
 *
 * The file
 * - Text: the caller decodes the bytes (./csv-decode.ts: UTF-8 with or without a BOM, or GBK / GB18030, what Excel's
 *   plain "CSV" saves on Chinese Windows); CRLF, LF or CR line ends; RFC 4180 quoting (a field in
 *   double quotes may hold commas, newlines and `""` for a quote). A first line `sep=,` (Excel hint) is skipped.
 * - A header row naming the columns (BOOKING_COLUMNS): any order, case-insensitive, English or Chinese names;
 *   spaces, `-` and `_` are the same, and a unit in brackets is ignored (`收费（元）`, `fee (CNY)`).
 * - Blank lines and rows whose fields are all empty (Excel leaves `,,,,` rows) are skipped.
 *
 * Choices
 * - Unknown header columns (备注, 联系电话, 序号 ... exported by booking systems) are IGNORED and reported once in
 *   `warnings` (header line): the file imports. A Latin name one or two letters away from a documented column
 *   (`fees`, `orgnisation`) is an ERROR instead, because the data of that column would be silently lost; the
 *   other rows still import (without that column).
 * - A missing required column is an error on the header line and nothing is imported (no row can be valid).
 * - Every bad row is reported by the line it starts on (a quoted field may span lines), with the column, the raw
 *   value and the reason; all its problems are listed, and the row is not imported. Every other row is returned.
 * - Times: `YYYY-MM-DD HH:MM[:SS]`, `YYYY-MM-DDTHH:MM[:SS]` or Excel's `YYYY/M/D H:MM` are local wall time in
 *   `timeZone`; ISO 8601 with `Z` or an offset (`+08:00`, `+0800`, `+08`) is absolute. `24:00` is the next
 *   midnight. A local time skipped by a daylight-saving change is an error; a repeated one is the earlier instant.
 * - end must be after start; a booking longer than 31 days is an error (a typo, usually in the month); with
 *   `now`, one starting more than 366 days after `now` is an error (a typo in the year). Bookings in the
 *   future within a year are fine (reservations).
 * - Duplicates (same instrument, start, end and user) inside the file: the first is kept, each later one is an
 *   error naming the kept line.
 */

import { isValidTimeZone, localWallTimeToUtc } from '../engine/time-zone.ts';
import type { Booking, UserKind } from './types.ts';

/** One problem of a bookings file. `column` is the documented column name (or the header text for header problems). */
export interface BookingCsvError {
  line: number;
  column?: string;
  value?: string;
  message: string;
  /** A problem of the header row (a column), not of a data row. */
  header?: true;
}

export type ParsedBooking = Booking & { line: number };

export interface ParseBookingsOptions {
  /** The file name, for messages. */
  file: string;
  /** IANA zone of local times in the file (the collector's zone, Asia/Shanghai by default). */
  timeZone: string;
  /** Instrument ids of the registry; a row naming another id is an error. All ids accepted when absent. */
  knownInstruments?: ReadonlySet<string>;
  /** ms since epoch; enables the "more than a year in the future" check. */
  now?: number;
}

export interface ParseBookingsResult {
  /** Every good row, in file order, with the line it starts on. */
  bookings: ParsedBooking[];
  /** Every bad row and header problem, by line. */
  errors: BookingCsvError[];
  /** Problems that lose no data (ignored unknown columns). */
  warnings: BookingCsvError[];
}

type ColumnName = 'instrument' | 'start' | 'end' | 'user' | 'organisation' | 'kind' | 'purpose' | 'fee' | 'samples';

export interface BookingColumn {
  /** The documented (English) column name. */
  name: ColumnName;
  /** The Booking field it fills. */
  field: keyof Booking;
  required: boolean;
  /** Other accepted header names (case-insensitive). */
  aliases: readonly string[];
  meaning: string;
}

/** The documented columns, for the docs and the parser. */
export const BOOKING_COLUMNS: readonly BookingColumn[] = [
  {
    name: 'instrument',
    field: 'instrument_id',
    required: true,
    aliases: ['instrument_id', '仪器编号', '仪器号', '设备编号', '资产编号'],
    meaning: 'Instrument id (asset number, 仪器编号) as in the registry.',
  },
  {
    name: 'start',
    field: 'start',
    required: true,
    aliases: ['start_time', '开始时间', '开始', '起始时间'],
    meaning:
      'Start: `YYYY-MM-DD HH:MM[:SS]` (or with `T`, or `YYYY/M/D H:MM`) in the collector time zone, or ISO 8601 with an offset or Z.',
  },
  {
    name: 'end',
    field: 'end',
    required: true,
    aliases: ['end_time', '结束时间', '结束', '截止时间'],
    meaning: 'End, same formats; after start, at most 31 days later.',
  },
  {
    name: 'user',
    field: 'user',
    required: true,
    aliases: ['user_name', '使用人', '用户', '预约人', '姓名'],
    meaning: 'Name (or account) of the user.',
  },
  {
    name: 'organisation',
    field: 'organisation',
    required: true,
    aliases: ['organization', 'org', '单位', '使用单位', '用户单位', '单位名称', '所在单位'],
    meaning: "The user's organisation (校外单位 for external users).",
  },
  {
    name: 'kind',
    field: 'kind',
    required: true,
    aliases: ['type', 'user_kind', '校内/校外', '类型', '用户类型', '用户类别'],
    meaning: '`internal` (校内, 内部) or `external` (校外, 外部): external time counts as external service hours.',
  },
  {
    name: 'purpose',
    field: 'purpose',
    required: false,
    aliases: ['用途', '实验内容', '测试内容'],
    meaning: 'Purpose or project (optional, free text).',
  },
  {
    name: 'fee',
    field: 'fee_cny',
    required: false,
    aliases: ['fee_cny', 'fees_cny', '收费', '费用', '收费金额', '金额'],
    meaning: 'Fee charged, CNY (optional): a number >= 0; `¥`, `元` and thousands separators are accepted.',
  },
  {
    name: 'samples',
    field: 'samples',
    required: false,
    aliases: ['sample_count', '样品数', '样品数量'],
    meaning: 'Number of samples (optional): an integer >= 0.',
  },
];

const MAX_BOOKING_MS = 31 * 86_400_000;
const MAX_FUTURE_MS = 366 * 86_400_000;

// ---------------------------------------------------------------------------------------------------------------
// RFC 4180 reader with line numbers

interface RawRecord {
  /** The line the record starts on (1-based). */
  line: number;
  fields: string[];
}

/**
 * Splits CSV text into records, each with the line it starts on. An unterminated quoted field is reported, and
 * reading goes on from the line after the one it opened on, so the rest of the file is not lost.
 */
export function readCsvRecords(text: string): { records: RawRecord[]; errors: BookingCsvError[] } {
  const records: RawRecord[] = [];
  const errors: BookingCsvError[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const recordStart = i;
    const recordLine = line;
    const fields: string[] = [];
    let field = '';
    let quoted = false; // inside quotes
    while (i < n) {
      const c = text[i]!;
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            quoted = false;
            i += 1;
          }
        } else if (c === '\r' || c === '\n') {
          field += '\n';
          i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
          line += 1;
        } else {
          field += c;
          i += 1;
        }
      } else if (c === ',') {
        fields.push(field);
        field = '';
        i += 1;
      } else if (c === '\r' || c === '\n') {
        i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
        line += 1;
        break;
      } else if (c === '"' && field.trim() === '') {
        // An opening quote (spaces before it, as some writers put them, are dropped).
        field = '';
        quoted = true;
        i += 1;
      } else {
        // Anything else, including a quote inside an unquoted field or after a closing quote, is literal.
        field += c;
        i += 1;
      }
    }
    if (quoted) {
      errors.push({ line: recordLine, message: 'a quoted field is never closed (a missing `"`): this line is skipped' });
      // Go on after the line the record started on.
      let j = recordStart;
      while (j < n && text[j] !== '\r' && text[j] !== '\n') j += 1;
      if (j < n) j += text[j] === '\r' && text[j + 1] === '\n' ? 2 : 1;
      i = j;
      line = recordLine + 1;
      continue;
    }
    fields.push(field);
    records.push({ line: recordLine, fields });
  }
  return { records, errors };
}

// ---------------------------------------------------------------------------------------------------------------
// Header

function normalizeHeader(h: string): string {
  return h
    .trim()
    .replace(/\s*[(（][^()（）]*[)）]\s*$/u, '') // a unit in brackets: 收费（元）, fee (CNY)
    .toLowerCase()
    .replace(/[\s_-]+/g, '_');
}

const HEADER_INDEX = new Map<string, BookingColumn>();
for (const col of BOOKING_COLUMNS) {
  for (const name of [col.name, ...col.aliases]) HEADER_INDEX.set(normalizeHeader(name), col);
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/**
 * The accepted header name a Latin header is a likely typo of: one edit away (two for names of 8 letters or
 * more), so `fees`, `orgnisation` and `instrumnet` are caught but `user_id` or `status` are not.
 */
function likelyTypo(norm: string): string | undefined {
  if (!/^[a-z_]{3,}$/.test(norm)) return undefined;
  let best: { name: string; d: number } | undefined;
  for (const name of HEADER_INDEX.keys()) {
    if (!/^[a-z_]+$/.test(name)) continue;
    const d = editDistance(norm, name);
    const limit = Math.min(norm.length, name.length) >= 8 ? 2 : 1;
    if (d <= limit && (best === undefined || d < best.d)) best = { name, d };
  }
  return best?.name;
}

// ---------------------------------------------------------------------------------------------------------------
// Values

const KINDS = new Map<string, UserKind>([
  ['internal', 'internal'],
  ['校内', 'internal'],
  ['内部', 'internal'],
  ['校内用户', 'internal'],
  ['external', 'external'],
  ['校外', 'external'],
  ['外部', 'external'],
  ['校外用户', 'external'],
]);

const TIME_RE =
  /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[Tt]|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** A date-time cell as ms since epoch, or the reason it is not one. */
export function parseBookingTime(text: string, timeZone: string): number | { error: string } {
  const m = TIME_RE.exec(text.trim());
  const formats = `use YYYY-MM-DD HH:MM[:SS] (local time, ${timeZone}) or ISO 8601 with an offset (2025-03-04T09:00+08:00)`;
  if (m === null) {
    if (/^\d{4}[-/]\d{1,2}[-/]\d{1,2}$/.test(text.trim())) return { error: `a date without a time: ${formats}` };
    return { error: `not a date-time: ${formats}` };
  }
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const ms = m[7] === undefined ? 0 : Math.round(Number(`0.${m[7]}`) * 1000);
  if (month < 1 || month > 12) return { error: `no such date-time: month ${month} (1-12)` };
  if (day < 1 || day > daysInMonth(year, month)) return { error: `no such date-time: day ${day} of ${year}-${String(month).padStart(2, '0')}` };
  const midnight24 = hour === 24 && minute === 0 && second === 0 && ms === 0;
  if (hour > 23 && !midnight24) return { error: `no such date-time: hour ${hour} (0-23)` };
  if (minute > 59) return { error: `no such date-time: minute ${minute} (0-59)` };
  if (second > 59) return { error: `no such date-time: second ${second} (0-59)` };
  const wall = Date.UTC(year, month - 1, day, midnight24 ? 0 : hour, minute, second);
  const dayShift = midnight24 ? 86_400_000 : 0;
  const offset = m[8];
  if (offset !== undefined) {
    if (offset === 'Z' || offset === 'z') return wall + dayShift + ms;
    const om = /^([+-])(\d{2}):?(\d{2})?$/.exec(offset)!;
    const oh = Number(om[2]);
    const omin = om[3] === undefined ? 0 : Number(om[3]);
    if (oh > 14 || omin > 59) return { error: `no such UTC offset ${offset}` };
    const sign = om[1] === '-' ? -1 : 1;
    return wall + dayShift + ms - sign * (oh * 60 + omin) * 60_000;
  }
  const t = localWallTimeToUtc(wall + dayShift, timeZone);
  if (t === null) return { error: `this local time does not exist in ${timeZone} (skipped by a daylight-saving change)` };
  return t + ms;
}

function parseFee(text: string): number | { error: string } {
  let s = text.trim().replace(/^[¥￥]\s*/u, '').replace(/\s*(元|cny|rmb)$/iu, '');
  if (/^-?\d{1,3}(,\d{3})+(\.\d+)?$/.test(s)) s = s.replace(/,/g, '');
  if (!/^[-+]?(\d+(\.\d*)?|\.\d+)$/.test(s)) return { error: 'not a number (CNY, e.g. 1200 or 1200.50)' };
  const v = Number(s);
  if (!Number.isFinite(v)) return { error: 'not a number (CNY, e.g. 1200 or 1200.50)' };
  if (v < 0) return { error: 'a fee cannot be negative' };
  return v;
}

function parseSamples(text: string): number | { error: string } {
  const s = text.trim();
  if (!/^[-+]?\d+(\.0*)?$/.test(s)) return { error: 'not a whole number of samples' };
  const v = Number(s);
  if (v < 0) return { error: 'the number of samples cannot be negative' };
  if (!Number.isSafeInteger(v)) return { error: 'not a whole number of samples' };
  return v;
}

// ---------------------------------------------------------------------------------------------------------------
// Rows

/** Parses a bookings CSV: every good row, every problem by line. Throws only for a bad `timeZone` (a programming error). */
export function parseBookingsCsv(text: string, options: ParseBookingsOptions): ParseBookingsResult {
  const { timeZone, knownInstruments, now } = options;
  if (!isValidTimeZone(timeZone)) throw new RangeError(`unknown time zone ${JSON.stringify(timeZone)}`);
  const read = readCsvRecords(text);
  const errors: BookingCsvError[] = [...read.errors];
  const warnings: BookingCsvError[] = [];
  const bookings: ParsedBooking[] = [];

  const isBlank = (r: RawRecord): boolean => r.fields.every((f) => f.trim() === '');
  const records = read.records.filter((r) => !isBlank(r));
  // Excel's `sep=,` hint line reads as the fields `sep=` and ``.
  const first = records[0]?.fields;
  if (first !== undefined && /^sep=.?$/i.test(first[0]!.trim()) && first.slice(1).every((f) => f === '')) records.shift();
  const header = records.shift();
  if (header === undefined) {
    errors.push({ line: 1, message: 'the file is empty: a header row naming the columns is required' });
    return { bookings, errors: sortErrors(errors), warnings };
  }

  // Map columns.
  const columnAt = new Map<number, BookingColumn>();
  const seen = new Map<ColumnName, string>();
  header.fields.forEach((raw, index) => {
    const norm = normalizeHeader(raw);
    if (norm === '') {
      warnings.push({ line: header.line, header: true, column: `#${index + 1}`, message: `column ${index + 1} has no header name: ignored` });
      return;
    }
    const col = HEADER_INDEX.get(norm);
    if (col === undefined) {
      if (raw.includes('\uFFFD')) {
        errors.push({
          line: header.line,
          header: true,
          column: raw,
          message: 'the header has characters that are neither UTF-8 nor GBK (a Big5 or Shift-JIS file?): save the file as "CSV UTF-8" and import again',
        });
        return;
      }
      const typo = likelyTypo(norm);
      if (typo !== undefined) {
        errors.push({ line: header.line, header: true, column: raw, message: `unknown column, ignored: did you mean "${typo}"? Its values are not imported` });
      } else {
        warnings.push({ line: header.line, header: true, column: raw, message: 'unknown column: ignored' });
      }
      return;
    }
    const before = seen.get(col.name);
    if (before !== undefined) {
      errors.push({ line: header.line, header: true, column: col.name, value: raw, message: `a second "${col.name}" column (after "${before}"): only the first is read` });
      return;
    }
    seen.set(col.name, raw);
    columnAt.set(index, col);
  });
  const missing = BOOKING_COLUMNS.filter((c) => c.required && !seen.has(c.name));
  for (const c of missing) {
    errors.push({
      line: header.line,
      header: true,
      column: c.name,
      message: `required column "${c.name}" is missing (accepted names: ${[c.name, ...c.aliases].join(', ')}): nothing imported`,
    });
  }
  if (missing.length > 0) return { bookings, errors: sortErrors(errors), warnings };

  const firstLineOf = new Map<string, number>();
  for (const record of records) {
    const rowErrors: BookingCsvError[] = [];
    const bad = (column: string | undefined, value: string | undefined, message: string): void => {
      rowErrors.push({ line: record.line, ...(column === undefined ? {} : { column }), ...(value === undefined ? {} : { value }), message });
    };
    const extra = record.fields.slice(header.fields.length);
    if (extra.some((f) => f.trim() !== '')) {
      bad(undefined, record.fields.join(','), `the row has ${record.fields.length} fields, the header ${header.fields.length} (a comma in a value that is not quoted?)`);
      errors.push(...rowErrors);
      continue;
    }
    const cell = new Map<ColumnName, string>();
    columnAt.forEach((col, index) => cell.set(col.name, (record.fields[index] ?? '').trim()));
    const get = (name: ColumnName): string => cell.get(name) ?? '';
    const required = (name: ColumnName): string | undefined => {
      const v = get(name);
      if (v === '') {
        bad(name, undefined, 'is required but empty');
        return undefined;
      }
      return v;
    };

    const instrument = required('instrument');
    if (instrument !== undefined && knownInstruments !== undefined && !knownInstruments.has(instrument)) {
      bad('instrument', instrument, 'unknown instrument: no instrument with this id in the registry');
    }
    const startText = required('start');
    const endText = required('end');
    let start: number | undefined;
    let end: number | undefined;
    if (startText !== undefined) {
      const t = parseBookingTime(startText, timeZone);
      if (typeof t === 'number') start = t;
      else bad('start', startText, t.error);
    }
    if (endText !== undefined) {
      const t = parseBookingTime(endText, timeZone);
      if (typeof t === 'number') end = t;
      else bad('end', endText, t.error);
    }
    if (start !== undefined && end !== undefined) {
      if (end <= start) bad('end', endText, `the end is not after the start (${startText})`);
      else if (end - start > MAX_BOOKING_MS) bad('end', endText, `the booking is longer than 31 days (from ${startText}): a typo?`);
    }
    if (start !== undefined && now !== undefined && start - now > MAX_FUTURE_MS) {
      bad('start', startText, 'more than a year in the future: a typo in the year?');
    }
    const user = required('user');
    const organisation = required('organisation');
    const kindText = required('kind');
    let kind: UserKind | undefined;
    if (kindText !== undefined) {
      kind = KINDS.get(kindText.toLowerCase());
      if (kind === undefined) bad('kind', kindText, 'unknown user kind: use internal (校内) or external (校外)');
    }
    const purpose = get('purpose');
    let fee: number | undefined;
    const feeText = get('fee');
    if (feeText !== '') {
      const v = parseFee(feeText);
      if (typeof v === 'number') fee = v;
      else bad('fee', feeText, v.error);
    }
    let samples: number | undefined;
    const samplesText = get('samples');
    if (samplesText !== '') {
      const v = parseSamples(samplesText);
      if (typeof v === 'number') samples = v;
      else bad('samples', samplesText, v.error);
    }

    if (rowErrors.length > 0 || instrument === undefined || start === undefined || end === undefined) {
      errors.push(...rowErrors);
      continue;
    }
    const key = JSON.stringify([instrument, start, end, user]);
    const first = firstLineOf.get(key);
    if (first !== undefined) {
      errors.push({ line: record.line, message: `duplicate of line ${first} (same instrument, start, end and user): line ${first} is kept` });
      continue;
    }
    firstLineOf.set(key, record.line);
    const booking: ParsedBooking = {
      line: record.line,
      instrument_id: instrument,
      start,
      end,
      user: user!,
      organisation: organisation!,
      kind: kind!,
    };
    if (purpose !== '') booking.purpose = purpose;
    if (fee !== undefined) booking.fee_cny = fee;
    if (samples !== undefined) booking.samples = samples;
    bookings.push(booking);
  }
  return { bookings, errors: sortErrors(errors), warnings };
}

function sortErrors(errors: BookingCsvError[]): BookingCsvError[] {
  // Stable: the problems of one line keep their column order.
  return errors.map((e, i) => ({ e, i })).sort((a, b) => a.e.line - b.e.line || a.i - b.i).map((x) => x.e);
}

function quote(value: string | undefined): string {
  if (value === undefined) return '';
  let text = JSON.stringify(value);
  if (text.length > 80) text = `${text.slice(0, 76)}..."`;
  return ` (got ${text})`;
}

/**
 * A multi-line message for people:
 * `bookings.csv: 3 bad rows:\n  - line 7, start: no such date-time: month 13 (1-12) (got "2025-13-01 09:00")`.
 * Header problems are counted apart (`1 header problem, 3 bad rows:`).
 */
export function formatBookingErrors(file: string, errors: readonly BookingCsvError[]): string {
  const rows = new Set<number>();
  let headerProblems = 0;
  for (const e of errors) {
    if (e.header === true) headerProblems += 1;
    else rows.add(e.line);
  }
  const parts: string[] = [];
  if (headerProblems > 0) parts.push(`${headerProblems} header problem${headerProblems === 1 ? '' : 's'}`);
  if (rows.size > 0 || parts.length === 0) parts.push(`${rows.size} bad row${rows.size === 1 ? '' : 's'}`);
  const lines = errors.map((e) => `  - line ${e.line}${e.column === undefined ? '' : `, ${e.column}`}: ${e.message}${quote(e.value)}`);
  return `${file}: ${parts.join(', ')}:${lines.length > 0 ? `\n${lines.join('\n')}` : ''}`;
}
