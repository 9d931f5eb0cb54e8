/**
 * The annual assessment export as CSV, one file per sheet of the workbook: `summary` (年度汇总, with the 合计
 * row last), `sessions` (机时明细), `mismatches` (预约核对). Same Chinese headers and values as the XLSX.
 *
 * - UTF-8 with a byte order mark, so Excel opens the Chinese text correctly; CRLF line ends, also after the
 *   last record; RFC 4180 quoting (a field with a comma, a double quote, CR or LF is quoted, quotes doubled).
 * - No title row: the first line is the header.
 * - Numbers with fixed decimals and no thousands separator: hours and kWh 2 decimals, money 2 decimals,
 *   rates (利用率, 共享率, 数据覆盖率) 4 decimals as fractions (0.1702 is 17.02 %), counts as integers.
 *   Dates `YYYY-MM-DD`, date-times `YYYY-MM-DD HH:MM:SS` local time in the report's time zone, booleans 是/否,
 *   missing values empty.
 * - A text field starting with `=`, `+`, `@`, a tab or CR, or `-` followed by something other than a digit, gets
 *   a leading `'` so a spreadsheet does not run it as a formula (names come from config and imports).
 */

import { formatLocalDateTime } from '../engine/time-zone.ts';
import { mismatchesTable, sessionsTable, summaryTable } from './export-columns.ts';
import type { CellValue, ColumnFormat, ExportTable } from './export-columns.ts';
import type { AnnualReport } from './types.ts';

export type CsvSheet = 'summary' | 'sessions' | 'mismatches';

const BOM = '\uFEFF';
const EOL = '\r\n';

/** RFC 4180: quote a field holding a comma, a double quote, CR or LF; double the quotes inside. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Keeps a spreadsheet from reading text as a formula. `-80 °C 冰箱` stays as it is. */
function defuse(s: string): string {
  return /^[=+@\t\r]/.test(s) || /^-[^\d\s.]/.test(s) ? `'${s}` : s;
}

function fixed(v: number, digits: number): string {
  const s = v.toFixed(digits);
  // No "-0.00".
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}

function text(v: CellValue, format: ColumnFormat, timeZone: string): string {
  if (v === null) return '';
  if (typeof v === 'boolean') return v ? '是' : '否';
  if (typeof v === 'string') return format === 'text' ? defuse(v) : v;
  if (!Number.isFinite(v)) return '';
  switch (format) {
    case 'hours':
    case 'energy':
    case 'money':
      return fixed(v, 2);
    case 'rate':
      return fixed(v, 4);
    case 'int':
      return String(Math.round(v));
    case 'datetime':
      return formatLocalDateTime(v, timeZone);
    default:
      return String(v);
  }
}

function tableCsv(table: ExportTable, timeZone: string): string {
  const lines = [table.columns.map((c) => csvField(c.header_zh)).join(',')];
  const line = (values: CellValue[]): string =>
    table.columns.map((c, i) => csvField(text(values[i] ?? null, c.format, timeZone))).join(',');
  for (const values of table.rows) lines.push(line(values));
  if (table.totals !== undefined) lines.push(line(table.totals));
  return BOM + lines.map((l) => l + EOL).join('');
}

/** One sheet of the annual report as CSV text (starts with the BOM). */
export function annualCsv(report: AnnualReport, sheet: CsvSheet): string {
  switch (sheet) {
    case 'summary':
      return tableCsv(summaryTable(report), report.time_zone);
    case 'sessions':
      return tableCsv(sessionsTable(report), report.time_zone);
    case 'mismatches':
      return tableCsv(mismatchesTable(report), report.time_zone);
    default:
      throw new RangeError(`unknown CSV sheet ${JSON.stringify(sheet)}: summary, sessions or mismatches`);
  }
}
