/**
 * Bookings from an Excel workbook (.xlsx), as booking systems export them and asset offices keep them: the first
 * worksheet with data becomes the text of a CSV file, which parseBookingsCsv (./bookings-csv.ts) reads with every
 * rule of a CSV import. So the workbook needs the same header row and columns as a CSV file.
 *
 * - Row numbers are kept: line N of an error is row N of the sheet (empty rows become empty lines, which the CSV
 *   parser skips; a line break inside a cell becomes a space, so a record never spans two lines).
 * - Cell values: text as it is; numbers as JavaScript writes them; TRUE/FALSE as `true`/`false`; a date cell as its
 *   wall time `YYYY-MM-DD HH:MM:SS` (Excel dates have no time zone: they are read in the collector's time zone like
 *   CSV times); a formula as its last computed result; rich text as its plain text; a hyperlink as its text; an
 *   error value (#N/A) as empty.
 * - exceljs (~10 MB) is loaded on the first workbook read, not at every collector start.
 */
import type { CellValue, Workbook } from 'exceljs';
import { JishiError } from '../../common/errors.ts';

/** The ZIP signature every .xlsx file starts with. */
export function looksLikeXlsx(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

export const XLSX_CONTENT_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** Excel's wall time: exceljs gives a date cell as the Date whose UTC fields are the cell's. */
function wallTime(d: Date): string {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** One cell as CSV field text (unquoted). */
export function cellText(value: CellValue): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? '' : wallTime(value);
  if (typeof value === 'object') {
    if ('richText' in value && Array.isArray(value.richText)) return value.richText.map((r) => r.text).join('');
    if ('formula' in value || 'sharedFormula' in value) return cellText((value as { result?: CellValue }).result ?? null);
    if ('hyperlink' in value && 'text' in value) return cellText((value as { text: CellValue }).text);
    if ('error' in value) return '';
    if ('text' in value) return String((value as { text: unknown }).text);
  }
  return String(value);
}

const quoteField = (s: string): string => {
  const flat = s.replace(/\r\n|\r|\n/g, ' ');
  return /[",]/.test(flat) || flat !== flat.trim() ? `"${flat.replace(/"/g, '""')}"` : flat;
};

/**
 * The first worksheet with data as CSV text, one line per row (see the module comment).
 * @throws JishiError JISHI_ERR_VALIDATION when the bytes are not a workbook exceljs can read, or it has no data.
 */
export async function xlsxBookingsText(bytes: Uint8Array): Promise<{ text: string; sheet: string }> {
  const { default: ExcelJS } = await import('exceljs');
  const workbook: Workbook = new ExcelJS.Workbook();
  try {
    await workbook.xlsx.load(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) as unknown as ArrayBuffer);
  } catch (err) {
    throw new JishiError('JISHI_ERR_VALIDATION', `not a readable Excel workbook (.xlsx): ${err instanceof Error ? err.message : String(err)}`);
  }
  const sheet = workbook.worksheets.find((ws) => ws.actualRowCount > 0);
  if (sheet === undefined) throw new JishiError('JISHI_ERR_VALIDATION', 'the workbook has no worksheet with data');
  const lines: string[] = [];
  const columns = sheet.columnCount;
  for (let r = 1; r <= sheet.rowCount; r++) {
    const row = sheet.getRow(r);
    const fields: string[] = [];
    for (let c = 1; c <= columns; c++) fields.push(quoteField(cellText(row.getCell(c).value)));
    lines.push(fields.join(','));
  }
  return { text: lines.join('\n'), sheet: sheet.name };
}
