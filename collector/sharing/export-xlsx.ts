/**
 * The annual assessment workbook (DOMAIN.md "Annual assessment export"):
 * - `年度汇总`: row 1 the title, row 2 period / time zone / generation time and the colour legend, row 3 the
 *   Chinese headers (each with a cell note: English header, unit, definition), one row per instrument (every
 *   row: no-data and partial ones included), then the 合计 row. Numbers stay full precision; hours show one
 *   decimal and rates a percentage through numFmt. Rows with coverage below 90 % are filled light yellow; the
 *   利用率 cell of an instrument under its rated hours is light red. Header frozen, autofilter on the
 *   instrument rows (the 合计 row stays out of sorting).
 * - `机时明细`: every session, the evidence; start and end are real Excel date-times showing the local time in
 *   the report's time zone (Excel dates have no zone).
 * - `预约核对`: bookings vs measurements (预约未使用, 部分使用, 无预约使用, 预约重叠).
 * - `说明`: definitions, generation time, time zone, the large-instrument threshold, the column list.
 */

import ExcelJS from 'exceljs';
import type { Cell, Fill, Worksheet } from 'exceljs';
import { formatLocalDateTime, wallMs } from '../engine/time-zone.ts';
import {
  ANNUAL_COLUMNS,
  COVERAGE_WARN,
  DEFINITIONS_ZH,
  MISMATCH_COLUMNS,
  SESSION_COLUMNS,
  isLowCoverage,
  isUnderRated,
  mismatchesTable,
  sessionsTable,
  summaryTable,
} from './export-columns.ts';
import type { CellValue, ColumnFormat, ExportColumn, ExportTable } from './export-columns.ts';
import type { AnnualReport } from './types.ts';

/** Excel number formats per column format. */
const NUM_FMT: Partial<Record<ColumnFormat, string>> = {
  hours: '#,##0.0',
  energy: '#,##0.0',
  rate: '0.0%',
  money: '#,##0.00',
  int: '#,##0',
  date: 'yyyy-mm-dd',
  datetime: 'yyyy-mm-dd hh:mm:ss',
};

const solid = (argb: string): Fill => ({ type: 'pattern', pattern: 'solid', fgColor: { argb } });
/** Light yellow: coverage below 90 %. */
export const FILL_LOW_COVERAGE = 'FFFFF2CC';
/** Light red (Excel's "light red fill"): utilization below rated hours. */
export const FILL_UNDER_RATED = 'FFFFC7CE';
const FILL_HEADER = 'FFD9E1F2';
const FILL_TOTALS = 'FFEDEDED';
const FONT_UNDER_RATED = 'FF9C0006';

/** Display width of a string: CJK and full-width characters count 2. */
function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u.test(ch) ? 2 : 1;
  return w;
}

/** A YYYY-MM-DD day as an Excel date (midnight, zone-free). */
function dayDate(day: string): Date | string {
  const ms = Date.parse(`${day}T00:00:00Z`);
  return Number.isNaN(ms) ? day : new Date(ms);
}

/** The value written into a cell: numbers stay numbers, times become local Excel dates, booleans 是/否. */
function cellValue(v: CellValue, format: ColumnFormat, timeZone: string): ExcelJS.CellValue {
  if (v === null) return null;
  if (typeof v === 'boolean') return v ? '是' : '否';
  if (format === 'date' && typeof v === 'string') return dayDate(v);
  if (format === 'datetime' && typeof v === 'number') return new Date(wallMs(v, timeZone));
  return v;
}

/** How a value reads in the sheet, for column widths. */
function shownText(v: CellValue, format: ColumnFormat): string {
  if (v === null) return '';
  if (typeof v === 'boolean') return '是';
  if (typeof v === 'string') return v;
  switch (format) {
    case 'datetime':
      return '2025-01-01 00:00:00';
    case 'rate':
      return `${(v * 100).toFixed(1)}%`;
    case 'money':
      return v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    case 'int':
      return Math.round(v).toLocaleString('en-US');
    default:
      return v.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  }
}

function headerNote(c: ExportColumn): string {
  const lines = [c.unit === undefined ? c.header_en : `${c.header_en} (${c.unit})`];
  if (c.description !== undefined) lines.push(c.description);
  return lines.join('\n');
}

/**
 * Writes a table from `headerRow` on: the header row (with English notes), the rows, and the totals row when
 * there is one. Returns the row numbers written.
 */
function writeTable(
  ws: Worksheet,
  table: ExportTable,
  headerRow: number,
  timeZone: string,
): { firstRow: number; lastRow: number; totalsRow: number | null } {
  const header = ws.getRow(headerRow);
  table.columns.forEach((c, i) => {
    const cell = header.getCell(i + 1);
    cell.value = c.header_zh;
    cell.note = headerNote(c);
    cell.font = { bold: true };
    cell.fill = solid(FILL_HEADER);
    cell.alignment = { vertical: 'middle', horizontal: 'center', wrapText: true };
    cell.border = { bottom: { style: 'thin' } };
  });
  header.height = 32;

  const firstRow = headerRow + 1;
  const writeRow = (values: CellValue[], r: number): void => {
    const row = ws.getRow(r);
    table.columns.forEach((c, i) => {
      const cell = row.getCell(i + 1);
      cell.value = cellValue(values[i] ?? null, c.format, timeZone);
      const fmt = NUM_FMT[c.format];
      if (fmt !== undefined) cell.numFmt = fmt;
    });
  };
  table.rows.forEach((values, i) => writeRow(values, firstRow + i));
  const lastRow = firstRow + table.rows.length - 1;
  let totalsRow: number | null = null;
  if (table.totals !== undefined) {
    totalsRow = lastRow + 1;
    writeRow(table.totals, totalsRow);
    ws.getRow(totalsRow).eachCell({ includeEmpty: true }, (cell) => {
      cell.font = { bold: true };
      cell.fill = solid(FILL_TOTALS);
      cell.border = { top: { style: 'thin' } };
    });
  }

  // Column widths from the header and the shown values, within bounds.
  table.columns.forEach((c, i) => {
    let width = displayWidth(c.header_zh);
    for (const values of [...table.rows, ...(table.totals === undefined ? [] : [table.totals])]) {
      width = Math.max(width, displayWidth(shownText(values[i] ?? null, c.format)));
    }
    ws.getColumn(i + 1).width = Math.min(Math.max(width + 2, 8), c.key === 'notes' ? 60 : 40);
  });

  const lastCol = table.columns.length;
  if (lastCol > 0) {
    ws.autoFilter = { from: { row: headerRow, column: 1 }, to: { row: Math.max(lastRow, headerRow), column: lastCol } };
  }
  return { firstRow, lastRow, totalsRow };
}

function summarySheet(wb: ExcelJS.Workbook, report: AnnualReport): void {
  const ws = wb.addWorksheet('年度汇总', {
    views: [{ state: 'frozen', xSplit: 2, ySplit: 3 }],
    pageSetup: { orientation: 'landscape', paperSize: 9, fitToPage: true, fitToWidth: 1, fitToHeight: 0 },
  });
  const table = summaryTable(report);
  const lastCol = table.columns.length;

  ws.mergeCells(1, 1, 1, lastCol);
  const title = ws.getCell(1, 1);
  title.value = `${report.year} 年度大型科研仪器开放共享机时统计`;
  title.font = { bold: true, size: 14 };
  title.alignment = { vertical: 'middle', horizontal: 'left' };
  ws.getRow(1).height = 24;

  ws.mergeCells(2, 1, 2, lastCol);
  const sub = ws.getCell(2, 1);
  sub.value =
    `统计期 ${report.year}-01-01 至 ${report.year}-12-31（${report.time_zone} 本地时间）；` +
    `生成于 ${formatLocalDateTime(report.generated_at, report.time_zone)}；` +
    `浅黄色：数据覆盖率低于 ${Math.round(COVERAGE_WARN * 100)}%；浅红色：利用率低于定额机时；机时明细与预约核对见后续工作表。`;
  sub.font = { size: 9, color: { argb: 'FF595959' } };

  const { firstRow } = writeTable(ws, table, 3, report.time_zone);

  const rateCol = ANNUAL_COLUMNS.findIndex((c) => c.key === 'utilization_rate') + 1;
  report.rows.forEach((row, i) => {
    const r = ws.getRow(firstRow + i);
    if (isLowCoverage(row)) {
      for (let c = 1; c <= lastCol; c++) r.getCell(c).fill = solid(FILL_LOW_COVERAGE);
    }
    if (isUnderRated(row) && rateCol > 0) {
      const cell: Cell = r.getCell(rateCol);
      cell.fill = solid(FILL_UNDER_RATED);
      cell.font = { color: { argb: FONT_UNDER_RATED } };
    }
  });
}

function plainSheet(wb: ExcelJS.Workbook, name: string, table: ExportTable, timeZone: string): void {
  const ws = wb.addWorksheet(name, { views: [{ state: 'frozen', xSplit: 1, ySplit: 1 }] });
  writeTable(ws, table, 1, timeZone);
}

function notesSheet(wb: ExcelJS.Workbook, report: AnnualReport): void {
  const ws = wb.addWorksheet('说明');
  ws.getColumn(1).width = 24;
  ws.getColumn(2).width = 100;
  ws.getColumn(3).width = 14;
  ws.getColumn(4).width = 60;
  const add = (a: string, b: string, bold = false): void => {
    const row = ws.addRow([a, b]);
    row.getCell(2).alignment = { wrapText: true, vertical: 'top' };
    row.getCell(1).alignment = { vertical: 'top' };
    if (bold) row.font = { bold: true };
  };
  add(`${report.year} 年度大型科研仪器开放共享机时统计：说明`, '', true);
  ws.getRow(1).font = { bold: true, size: 14 };
  add('统计年度', `${report.year}-01-01 至 ${report.year}-12-31（本地日历日）`);
  add('时区', report.time_zone);
  add('生成时间', `${formatLocalDateTime(report.generated_at, report.time_zone)}（${report.time_zone}）`);
  add('大型仪器门槛', `原值不低于 ${report.threshold_cny.toLocaleString('en-US')} 元的仪器“纳入考核”为“是”；全部仪器均列出。`);
  add('覆盖率提示线', `${Math.round(COVERAGE_WARN * 100)}%`);
  add('仪器数', String(report.rows.length));
  add('使用时段数（机时明细）', String(report.sessions.length));
  add('预约核对条目', String(report.mismatches.length));
  ws.addRow([]);
  add('术语', '定义', true);
  for (const d of DEFINITIONS_ZH) add(d.term, d.text);
  ws.addRow([]);
  const head = ws.addRow(['工作表 / 列名', 'English', '单位', '说明']);
  head.font = { bold: true };
  const sheets: [string, readonly ExportColumn[]][] = [
    ['年度汇总', ANNUAL_COLUMNS],
    ['机时明细', SESSION_COLUMNS],
    ['预约核对', MISMATCH_COLUMNS],
  ];
  for (const [sheet, columns] of sheets) {
    ws.addRow([sheet]).font = { bold: true };
    for (const c of columns) {
      const row = ws.addRow([c.header_zh, c.header_en, c.unit ?? '', c.description ?? '']);
      row.getCell(4).alignment = { wrapText: true, vertical: 'top' };
    }
  }
}

/** The annual assessment workbook as an XLSX file. */
export async function writeAnnualXlsx(report: AnnualReport): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'jishi';
  wb.created = new Date(report.generated_at);
  wb.modified = new Date(report.generated_at);
  wb.title = `${report.year} 年度大型科研仪器开放共享机时统计`;
  summarySheet(wb, report);
  plainSheet(wb, '机时明细', sessionsTable(report), report.time_zone);
  plainSheet(wb, '预约核对', mismatchesTable(report), report.time_zone);
  notesSheet(wb, report);
  const data = await wb.xlsx.writeBuffer();
  return Buffer.from(data as ArrayBuffer);
}
