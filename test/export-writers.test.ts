import ExcelJS from 'exceljs';
import type { Worksheet } from 'exceljs';
import { beforeAll, describe, expect, it } from 'vitest';
import { annualCsv, csvField } from '../collector/sharing/export-csv.ts';
import {
  ANNUAL_COLUMNS,
  MISMATCH_COLUMNS,
  SESSION_COLUMNS,
  columnsMarkdown,
} from '../collector/sharing/export-columns.ts';
import { formatLocalDateTime, wallMs } from '../collector/engine/time-zone.ts';
import type { AnnualColumnKey } from '../collector/sharing/export-columns.ts';
import { FILL_LOW_COVERAGE, FILL_UNDER_RATED, writeAnnualXlsx } from '../collector/sharing/export-xlsx.ts';
import { annualSummaryHtml, escapeHtml } from '../collector/sharing/summary-html.ts';
import type { AnnualReport, AnnualRow } from '../collector/sharing/types.ts';
import { FIXTURE_IDS, annualFixture, shanghai } from './helpers/annual-fixture.ts';

/** 1-based column of a main-sheet key. */
function col(key: AnnualColumnKey): number {
  const i = ANNUAL_COLUMNS.findIndex((c) => c.key === key);
  if (i < 0) throw new Error(`no column ${key}`);
  return i + 1;
}

function rowOf(report: AnnualReport, id: string): AnnualRow {
  const r = report.rows.find((x) => x.id === id);
  if (r === undefined) throw new Error(`no row ${id}`);
  return r;
}

function fillOf(ws: Worksheet, r: number, c: number): string | undefined {
  const fill = ws.getCell(r, c).fill;
  return fill !== undefined && fill.type === 'pattern' ? fill.fgColor?.argb : undefined;
}

const [SEM, LCMS, CONFOCAL, XRD] = FIXTURE_IDS as [string, string, string, string];
/** Main sheet layout: title row 1, subtitle row 2, headers row 3, instruments from row 4. */
const HEADER_ROW = 3;
const FIRST_ROW = 4;

describe('annual fixture', () => {
  it('is consistent: attribution adds up, totals are sums', () => {
    const r = annualFixture();
    for (const row of r.rows) {
      expect(row.external_h + row.internal_h + row.unattributed_h).toBeCloseTo(row.effective_h, 9);
    }
    for (const s of r.sessions) {
      expect(s.external_h + s.internal_h + s.unattributed_h).toBeCloseTo((s.end - s.start) / 3_600_000, 9);
    }
    expect(r.totals.effective_h).toBeCloseTo(r.rows.reduce((s, x) => s + x.effective_h, 0), 9);
    expect(new Set(r.mismatches.map((m) => m.kind))).toEqual(new Set(['no_show', 'partly_used', 'unattributed', 'overlapping_bookings']));
    expect(r.sessions.some((s) => formatLocalDateTime(s.start, r.time_zone).slice(0, 10) !== formatLocalDateTime(s.end, r.time_zone).slice(0, 10))).toBe(true);
  });
});

describe('column lists', () => {
  it('have unique keys and headers, the form order, and render as a Markdown table', () => {
    for (const cols of [ANNUAL_COLUMNS, SESSION_COLUMNS, MISMATCH_COLUMNS]) {
      expect(new Set(cols.map((c) => c.key)).size).toBe(cols.length);
      expect(new Set(cols.map((c) => c.header_zh)).size).toBe(cols.length);
    }
    const keys = ANNUAL_COLUMNS.map((c) => c.key);
    expect(keys.slice(0, 2)).toEqual(['id', 'name']);
    expect(keys.indexOf('in_scope')).toBeLessThan(keys.indexOf('period'));
    expect(keys.indexOf('period')).toBeLessThan(keys.indexOf('effective_h'));
    expect(keys.at(-1)).toBe('notes');
    const md = columnsMarkdown(ANNUAL_COLUMNS);
    expect(md.split('\n')).toHaveLength(ANNUAL_COLUMNS.length + 3);
    expect(md).toContain('| 有效工作机时（小时） | Effective working hours | h | hours |');
  });
});

describe('local times', () => {
  it('formats wall time in the zone, also across DST', () => {
    expect(formatLocalDateTime(shanghai('2025-03-12 09:05'), 'Asia/Shanghai')).toBe('2025-03-12 09:05:00');
    // 2025-03-30 01:30 UTC is 03:30 CEST in Berlin (after the change at 02:00 CET).
    expect(formatLocalDateTime(Date.UTC(2025, 2, 30, 1, 30), 'Europe/Berlin')).toBe('2025-03-30 03:30:00');
    expect(wallMs(Date.UTC(2025, 0, 1, 0, 0, 0, 250), 'UTC')).toBe(Date.UTC(2025, 0, 1, 0, 0, 0, 250));
  });
});

describe('writeAnnualXlsx', () => {
  const report = annualFixture();
  const wb = new ExcelJS.Workbook();

  beforeAll(async () => {
    const buf = await writeAnnualXlsx(report);
    expect(Buffer.isBuffer(buf)).toBe(true);
    await wb.xlsx.load(buf as unknown as ArrayBuffer);
  });

  const sheet = (name: string): Worksheet => {
    const ws = wb.getWorksheet(name);
    if (ws === undefined) throw new Error(`no sheet ${name}`);
    return ws;
  };

  it('has the four sheets in order', () => {
    expect(wb.worksheets.map((w) => w.name)).toEqual(['年度汇总', '机时明细', '预约核对', '说明']);
  });

  it('年度汇总: title, every header with its English note, frozen header, autofilter', () => {
    const ws = sheet('年度汇总');
    expect(ws.getCell(1, 1).value).toBe('2025 年度大型科研仪器开放共享机时统计');
    ANNUAL_COLUMNS.forEach((c, i) => {
      const cell = ws.getCell(HEADER_ROW, i + 1);
      expect(cell.value).toBe(c.header_zh);
      const note = cell.note;
      const noteText = typeof note === 'string' ? note : (note?.texts ?? []).map((t) => t.text).join('');
      expect(noteText).toContain(c.header_en);
    });
    expect(ws.getCell(HEADER_ROW, ANNUAL_COLUMNS.length + 1).value).toBeNull();
    const view = ws.views[0];
    expect(view?.state).toBe('frozen');
    expect(view !== undefined && 'ySplit' in view ? view.ySplit : undefined).toBe(HEADER_ROW);
    expect(ws.autoFilter).toBeDefined();
    expect(ws.getColumn(col('name')).width).toBeGreaterThan(10);
  });

  it('one row per instrument, in order, none dropped, figures as numbers equal to the report', () => {
    const ws = sheet('年度汇总');
    report.rows.forEach((row, i) => {
      const r = FIRST_ROW + i;
      expect(ws.getCell(r, col('id')).value).toBe(row.id);
      expect(ws.getCell(r, col('name')).value).toBe(row.asset.name);
      for (const key of ['effective_h', 'active_h', 'powered_on_h', 'external_h', 'internal_h', 'unattributed_h', 'rated_h', 'sessions', 'coverage', 'energy_kwh'] as const) {
        expect(ws.getCell(r, col(key)).value, `${row.id} ${key}`).toBe(row[key]);
      }
      expect(ws.getCell(r, col('utilization_rate')).value).toBe(row.utilization_rate);
      expect(ws.getCell(r, col('sharing_rate')).value).toBe(row.sharing_rate);
    });
    const sem = FIRST_ROW + FIXTURE_IDS.indexOf(SEM);
    expect(ws.getCell(sem, col('effective_h')).value).toBe(1612.4);
    expect(ws.getCell(sem, col('effective_h')).numFmt).toBe('#,##0.0');
    expect(ws.getCell(sem, col('utilization_rate')).numFmt).toBe('0.0%');
    expect(ws.getCell(sem, col('sharing_rate')).value).toBeCloseTo(274.5 / 1612.4, 12);
    expect(ws.getCell(sem, col('shared')).value).toBe('是');
    expect(ws.getCell(sem, col('original_value_cny')).value).toBe(3_280_000);
    expect(ws.getCell(sem, col('commissioned')).value).toEqual(new Date('2015-09-01T00:00:00Z'));
    expect(ws.getCell(sem, col('notes')).value).toBeNull();
    // Registry rated hours per year: the registered 1,400, and for the LC-MS (none registered) scaled back.
    expect(ws.getCell(sem, col('rated_hours_per_year')).value).toBe(1400);
    expect(ws.getCell(FIRST_ROW + 1, col('rated_hours_per_year')).value).toBe(1400);
    expect(ws.getCell(FIRST_ROW + 3, col('in_scope')).value).toBe('否');
  });

  it('keeps the no-data row with its note and marks the partial year', () => {
    const ws = sheet('年度汇总');
    const nd = FIRST_ROW + FIXTURE_IDS.indexOf(CONFOCAL);
    expect(ws.getCell(nd, col('id')).value).toBe(CONFOCAL);
    expect(ws.getCell(nd, col('effective_h')).value).toBe(0);
    expect(ws.getCell(nd, col('sharing_rate')).value).toBeNull();
    expect(String(ws.getCell(nd, col('notes')).value)).toContain('无数据');
    const p = FIRST_ROW + FIXTURE_IDS.indexOf(LCMS);
    expect(ws.getCell(p, col('period')).value).toBe('2025-07-01 至 2025-12-31（部分年度）');
    expect(String(ws.getCell(p, col('notes')).value)).toContain('部分年度：2025-07-01 启用');
    expect(ws.getCell(p, col('rated_h')).value).toBeCloseTo((1400 * 184) / 365, 9);
  });

  it('highlights low coverage rows (yellow) and under-rated utilization (red)', () => {
    const ws = sheet('年度汇总');
    const at = (id: string): number => FIRST_ROW + FIXTURE_IDS.indexOf(id);
    // LC-MS coverage 0.862 and the no-data row: yellow; SEM and XRD are not.
    expect(fillOf(ws, at(LCMS), col('name'))).toBe(FILL_LOW_COVERAGE);
    expect(fillOf(ws, at(CONFOCAL), col('coverage'))).toBe(FILL_LOW_COVERAGE);
    expect(fillOf(ws, at(SEM), col('name'))).toBeUndefined();
    // XRD at 44 %: red rate cell; SEM at 115 %: not; the no-data row is not "under" (nothing is known).
    expect(fillOf(ws, at(XRD), col('utilization_rate'))).toBe(FILL_UNDER_RATED);
    expect(fillOf(ws, at(SEM), col('utilization_rate'))).toBeUndefined();
    expect(fillOf(ws, at(CONFOCAL), col('utilization_rate'))).toBe(FILL_LOW_COVERAGE);
  });

  it('ends with the 合计 row: sums of the rows, rates from the sums', () => {
    const ws = sheet('年度汇总');
    const t = FIRST_ROW + report.rows.length;
    expect(ws.getCell(t, col('id')).value).toBe('合计');
    expect(ws.getCell(t + 1, col('id')).value).toBeNull();
    for (const key of ['effective_h', 'external_h', 'internal_h', 'unattributed_h', 'active_h', 'powered_on_h', 'energy_kwh', 'rated_h'] as const) {
      const sum = report.rows.reduce((s, r) => s + r[key], 0);
      expect(ws.getCell(t, col(key)).value as number, key).toBeCloseTo(sum, 6);
    }
    expect(ws.getCell(t, col('effective_h')).value).toBeCloseTo(3045.2, 6);
    expect(ws.getCell(t, col('sessions')).value).toBe(486 + 203 + 0 + 311);
    expect(ws.getCell(t, col('sharing_rate')).value as number).toBeCloseTo(405.5 / 3045.2, 12);
    expect(ws.getCell(t, col('utilization_rate')).value).toBe(report.totals.utilization_rate);
    expect(ws.getCell(t, col('original_value_cny')).value).toBe(3_280_000 + 4_150_000 + 2_650_000 + 460_000);
    expect(ws.getCell(t, col('service_income_cny')).value).toBe(186_400 + 98_000 + 12_600);
  });

  it('机时明细: every session, local times as Excel dates', () => {
    const ws = sheet('机时明细');
    SESSION_COLUMNS.forEach((c, i) => expect(ws.getCell(1, i + 1).value).toBe(c.header_zh));
    expect(ws.rowCount).toBe(1 + report.sessions.length);
    // An Excel date has no zone: the cell holds the Shanghai wall time (read back as that time in UTC fields).
    const start = ws.getCell(2, 2);
    expect(start.value).toEqual(new Date('2025-03-12T09:05:00Z'));
    expect(start.numFmt).toBe('yyyy-mm-dd hh:mm:ss');
    expect(ws.getCell(2, 1).value).toBe(SEM);
    expect(ws.getCell(2, 4).value).toBeCloseTo(155 / 60, 12);
    // The session across midnight.
    expect(ws.getCell(4, 2).value).toEqual(new Date('2025-06-18T21:30:00Z'));
    expect(ws.getCell(4, 3).value).toEqual(new Date('2025-06-19T02:15:00Z'));
    expect(ws.getCell(4, 8).value).toBe(2.25);
    expect(ws.getCell(6, 10).value).toBe('202, 203');
  });

  it('预约核对: one row per mismatch with its Chinese kind', () => {
    const ws = sheet('预约核对');
    MISMATCH_COLUMNS.forEach((c, i) => expect(ws.getCell(1, i + 1).value).toBe(c.header_zh));
    expect(ws.rowCount).toBe(1 + report.mismatches.length);
    const kinds = Array.from({ length: report.mismatches.length }, (_, i) => ws.getCell(i + 2, 1).value);
    expect(kinds).toEqual(['部分使用', '无预约使用', '预约重叠', '预约未使用', '预约未使用']);
    // partly used: the unused part of the booking.
    expect(ws.getCell(2, 5).value).toBe(0.5);
    expect(ws.getCell(2, 6).value).toBe('刘洋');
    expect(String(ws.getCell(2, 8).value)).toContain('#102');
    expect(ws.getCell(4, 8).value).toBe('预约 #202、#203 时间重叠');
    expect(String(ws.getCell(5, 8).value)).toContain('无数据');
    expect(ws.getCell(6, 7).value).toBe('某新材料科技有限公司');
  });

  it('说明: definitions, time zone, generation time, threshold', () => {
    const ws = sheet('说明');
    const text: string[] = [];
    ws.eachRow((row) => row.eachCell((c) => text.push(String(c.value))));
    const all = text.join('\n');
    for (const term of ['有效工作机时', '共享率', '利用率', '数据覆盖率', 'Asia/Shanghai', '2026-01-05 10:30:00', '500,000']) {
      expect(all).toContain(term);
    }
  });
});

describe('annualCsv', () => {
  const report = annualFixture();

  it('summary: BOM, CRLF, Chinese header, one line per instrument + 合计, RFC 4180 quoting', () => {
    const csv = annualCsv(report, 'summary');
    expect(csv.startsWith('\uFEFF仪器编号,仪器名称,')).toBe(true);
    expect(csv.endsWith('\r\n')).toBe(true);
    expect(csv.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    const lines = csv.slice(1).split('\r\n').slice(0, -1);
    expect(lines[0]).toBe(ANNUAL_COLUMNS.map((c) => c.header_zh).join(','));
    expect(lines).toHaveLength(1 + report.rows.length + 1);
    expect(lines[1]).toContain(',"Field emission SEM, ""Sigma 300""",');
    expect(lines[1]?.startsWith(`${SEM},场发射扫描电子显微镜,`)).toBe(true);
    // Hours 2 decimals, rates 4 decimals as fractions.
    expect(lines[1]).toContain(',1612.40,1188.70,3950.20,274.50,1290.30,47.60,1400.00,1.1517,0.1702,486,0.9730,');
    expect(lines[3]).toContain('无数据');
    expect(lines[2]).toContain('（部分年度）');
    expect(lines[5]?.startsWith('合计,共 4 台,')).toBe(true);
    expect(lines[5]).toContain(',3045.20,');
  });

  it('sessions and mismatches: headers and row counts, local times as text', () => {
    const s = annualCsv(report, 'sessions').slice(1).split('\r\n').slice(0, -1);
    expect(s[0]).toBe(SESSION_COLUMNS.map((c) => c.header_zh).join(','));
    expect(s).toHaveLength(1 + report.sessions.length);
    expect(s[1]).toBe(`${SEM},2025-03-12 09:05:00,2025-03-12 11:40:00,2.58,2.10,2.58,0.00,0.00,8.40,101`);
    expect(s[5]).toContain(',"202, 203"');
    const m = annualCsv(report, 'mismatches').slice(1).split('\r\n').slice(0, -1);
    expect(m[0]).toBe(MISMATCH_COLUMNS.map((c) => c.header_zh).join(','));
    expect(m).toHaveLength(1 + report.mismatches.length);
  });

  it('quotes fields with quotes, commas and line breaks; defuses formulas', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('plain')).toBe('plain');
    const r = annualFixture();
    r.rows[0]!.asset.name = '=HYPERLINK("http://x","y")';
    r.rows[1]!.asset.name = '-80 °C 超低温冰箱';
    const lines = annualCsv(r, 'summary').slice(1).split('\r\n');
    expect(lines[1]).toContain(`${SEM},"'=HYPERLINK(""http://x"",""y"")",`);
    expect(lines[2]).toContain(`${LCMS},-80 °C 超低温冰箱,`);
  });

  it('rejects an unknown sheet', () => {
    expect(() => annualCsv(report, 'nope' as 'summary')).toThrow(RangeError);
  });
});

describe('annualSummaryHtml', () => {
  it('is one self-contained page with every instrument, a chart and the totals', () => {
    const report = annualFixture();
    const html = annualSummaryHtml(report);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<title>2025 年度大型科研仪器开放共享机时统计</title>');
    for (const id of FIXTURE_IDS) expect(html).toContain(id);
    expect(html).toContain('<svg');
    expect(html).toContain('@media print');
    expect(html).toContain('size: A4 portrait');
    expect(html).toContain('2026-01-05 10:30:00');
    expect(html).toContain('3,045.2');
    // Nothing external, nothing executable.
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(|https?:\/\/(?!www\.w3\.org\/2000\/svg)/i);
  });

  it('highlights instruments under their rated hours, not the no-data one', () => {
    const html = annualSummaryHtml(annualFixture());
    const list = /<ul class="under-list">(.*?)<\/ul>/s.exec(html)?.[1] ?? '';
    expect(list).toContain(XRD);
    expect(list).not.toContain(SEM);
    expect(list).not.toContain(CONFOCAL);
    expect(html).toMatch(new RegExp(`<g class="bar under" data-id="${XRD}">`));
    expect(html).toMatch(new RegExp(`<tr class="under" data-id="${XRD}">`));
    expect(html).toMatch(new RegExp(`<g class="bar no-data" data-id="${CONFOCAL}">`));
    expect(html).toContain('低于定额机时（1 台）');
    expect(html).toContain('class="value halo under">利用率 44.3% ▼ 低于定额</text>');
  });

  it('escapes names from config', () => {
    const r = annualFixture();
    r.rows[0]!.asset.name = '<script>alert("x")</script> & <marquee>';
    r.rows[3]!.asset.name = '<img src=x onerror=alert(1)>';
    const html = annualSummaryHtml(r);
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<marquee>');
    expect(html).toContain(escapeHtml('<script>alert("x")</script> & <marquee>'));
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
  });

  it('puts the label of a bar past the axis end inside the bar', () => {
    const r = annualFixture();
    r.rows[0]!.utilization_rate = 4.2;
    const html = annualSummaryHtml(r);
    expect(html).toContain('text-anchor="end" class="value inside">» 利用率 420.0%</text>');
  });

  it('rates without rated hours and a report without rows still render', async () => {
    const r = annualFixture();
    r.rows[0]!.utilization_rate = null;
    r.rows = [r.rows[0]!];
    expect(annualSummaryHtml(r)).toContain(SEM);
    const empty: AnnualReport = { ...annualFixture(), rows: [], sessions: [], mismatches: [] };
    expect(annualSummaryHtml(empty)).toContain('<svg');
    expect(annualCsv(empty, 'summary').split('\r\n')).toHaveLength(3);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load((await writeAnnualXlsx(empty)) as unknown as ArrayBuffer);
    expect(wb.getWorksheet('年度汇总')?.getCell(FIRST_ROW, 1).value).toBe('合计');
    expect(wb.getWorksheet('机时明细')?.rowCount).toBe(1);
    expect(rowOf(annualFixture(), XRD).utilization_rate).toBeLessThan(1);
  });
});
