/**
 * Bookings from an Excel workbook: the first sheet with data read as CSV text (collector/sharing/bookings-xlsx.ts),
 * then the CSV rules. Workbooks are made here with exceljs, as Excel would save them.
 */
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { JishiError } from '../common/errors.ts';
import { parseBookingsCsv } from '../collector/sharing/bookings-csv.ts';
import { ManualClock } from '../common/clock.ts';
import { silentLogger } from '../common/log.ts';
import { buildApp } from '../collector/app.ts';
import { sha256Hex } from '../collector/auth.ts';
import { collectorConfigFromObject } from '../collector/config.ts';
import { EngineRunner } from '../collector/engine-runner.ts';
import { cellText, looksLikeXlsx, XLSX_CONTENT_TYPE, xlsxBookingsText } from '../collector/sharing/bookings-xlsx.ts';
import { syncRegistryFromConfig } from '../collector/sharing/registry.ts';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';
import { bookingsWorkbook } from './helpers/bookings-workbook.ts';

const TZ = 'Asia/Shanghai';
const sh = (wall: string): number => Date.parse(`${wall.replace(' ', 'T')}+08:00`);

describe('bookings from an .xlsx workbook', () => {
  it('reads the first sheet with data, keeping row numbers, into the CSV rules', async () => {
    const bytes = await bookingsWorkbook();
    expect(looksLikeXlsx(bytes)).toBe(true);
    const { text, sheet } = await xlsxBookingsText(bytes);
    expect(sheet).toBe('预约记录');
    const parsed = parseBookingsCsv(text, { file: 'bookings.xlsx', timeZone: TZ, knownInstruments: new Set(['XRD-01', 'NMR-02']) });
    expect(parsed.bookings).toEqual([
      expect.objectContaining({
        line: 2, instrument_id: 'XRD-01', start: sh('2025-05-06 09:00:00'), end: sh('2025-05-06 11:30:00'),
        user: '张伟', organisation: '复旦大学, 化学系', kind: 'external', fee_cny: 800, purpose: '物相分析 第二批',
      }),
      expect.objectContaining({ line: 4, instrument_id: 'NMR-02', start: sh('2025-09-01 14:00:00'), user: '刘洋', organisation: '材料学院', kind: 'internal', fee_cny: 200 }),
    ]);
    // Line N is row N of the sheet (row 3 is empty).
    expect(parsed.errors).toEqual([expect.objectContaining({ line: 5, column: 'instrument', value: 'NOPE-9' })]);
  });

  it('writes each kind of cell as the text a CSV export would have', () => {
    expect(cellText(null)).toBe('');
    expect(cellText(12.5)).toBe('12.5');
    expect(cellText(true)).toBe('true');
    expect(cellText(new Date(Date.UTC(2025, 0, 2, 3, 4, 5)))).toBe('2025-01-02 03:04:05');
    expect(cellText({ error: '#N/A' } as ExcelJS.CellErrorValue)).toBe('');
    expect(cellText({ formula: 'A1', result: 'x' } as ExcelJS.CellFormulaValue)).toBe('x');
  });

  it('refuses what is not a workbook, or a workbook without data, with a clear message', async () => {
    await expect(xlsxBookingsText(Buffer.from('PK\x03\x04 not really a zip'))).rejects.toThrow(JishiError);
    await expect(xlsxBookingsText(Buffer.from('PK\x03\x04 not really a zip'))).rejects.toThrow(/^not a readable Excel workbook \(\.xlsx\): /);
    const empty = new ExcelJS.Workbook();
    empty.addWorksheet('Sheet1');
    await expect(xlsxBookingsText(Buffer.from(await empty.xlsx.writeBuffer()))).rejects.toThrow('the workbook has no worksheet with data');
    expect(looksLikeXlsx(Buffer.from('instrument,start\n'))).toBe(false);
  });
});

describe('POST /api/v1/bookings with an .xlsx workbook', () => {
  it('imports it like a CSV file and says which sheet it read', async () => {
    const ADMIN = 'xlsx-admin-token';
    const clock = new ManualClock(Date.parse('2026-01-10T12:00:00+08:00'));
    const store = openSqliteStore(':memory:');
    const config = collectorConfigFromObject(
      { admins: [{ id: 'office', token_sha256: sha256Hex(ADMIN) }], instruments: [{ id: 'XRD-01' }, { id: 'NMR-02' }] },
      'xlsx-test',
    );
    syncRegistryFromConfig(store.sharing, config.instruments, clock.now());
    const engine = new EngineRunner({ store: store.engine, params: () => config.defaultParams, timeZone: config.timeZone, clock, logger: silentLogger() });
    const app = buildApp({ store, clock, engine, registry: config.instruments, sharing: { admins: config.admins } });
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/bookings',
        headers: { 'content-type': XLSX_CONTENT_TYPE, authorization: `Bearer ${ADMIN}`, 'x-file-name': 'bookings-2025.xlsx' },
        payload: await bookingsWorkbook(),
      });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      expect(body).toMatchObject({ inserted: 2, duplicates: 0, rejected: 1 });
      expect(body.errors).toEqual([expect.objectContaining({ line: 5, value: 'NOPE-9' })]);
      expect(body.warnings[0]).toEqual({ message: 'read sheet "预约记录" of the workbook' });
      const list = await app.inject({ url: '/api/v1/bookings?from=2025-01-01&to=2025-12-31&instrument=NMR-02' });
      expect(list.json().bookings).toEqual([expect.objectContaining({ user: '刘洋', fee_cny: 200, source: 'bookings-2025.xlsx:4' })]);
      const broken = await app.inject({
        method: 'POST',
        url: '/api/v1/bookings',
        headers: { 'content-type': XLSX_CONTENT_TYPE, authorization: `Bearer ${ADMIN}` },
        payload: Buffer.from('not a workbook'),
      });
      expect(broken.statusCode).toBe(400);
      expect(broken.json()).toMatchObject({ code: 'JISHI_ERR_VALIDATION', message: expect.stringMatching(/^not a readable Excel workbook/) });
    } finally {
      await app.close();
      store.close();
    }
  });
});
