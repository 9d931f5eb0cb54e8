/**
 * The annual assessment export end to end, on a known-answer year: crafted readings go through the real ingest
 * route and engine, bookings through POST /api/v1/bookings (CSV, with bad rows), the registry from a collector
 * config; the export is asked for as JSON, XLSX (read back cell by cell), CSV and HTML.
 *
 * 2025, Asia/Shanghai (UTC+8). now = 2026-01-10.
 * - SEM-1 (原值 1,200,000, rated 1400 h): 2025-03-04 one sample a minute 08:00-13:00, 800 W 09:00-12:00, else
 *   0 W -> one session 09:00-12:00 (3 h, no warm-up or post: no standby). 2025-03-05 0 W 08:00-12:00 (off).
 *   Bookings: external 08:30-10:00 (覃, 外校), internal 10:00-11:00, internal 2025-03-05 09:00-11:00 (no-show),
 *   external booking of 2024-12-31 23:00 - 2025-01-01 01:00 (crosses New Year: only 1 h is in 2025; unknown).
 *   -> external 1 h (09-10), internal 1 h (10-11), unattributed 1 h (11-12); sharing 1/3; utilization 3/1400.
 *   Known time: 03-04 08:00-13:00 = 5 h (the 19 h gap to the next sample is unknown as a whole: longer than
 *   max_gap); 03-05 08:00-12:15 = 4.25 h (the very last sample holds for max_gap = 15 min).
 * - XRD-2 (原值 300,000 < 500,000 threshold): configured, no data -> a row with no_data, coverage 0.
 * - LCMS-3: commissioned 2025-07-01 -> partial, rated 1400 x 184/365 h; no data either.
 */
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock.ts';
import { silentLogger } from '../common/log.ts';
import { WIRE_VERSION, type Sample } from '../common/wire.ts';
import { buildApp, type CollectorApp } from '../collector/app.ts';
import { sha256Hex } from '../collector/auth.ts';
import { collectorConfigFromObject } from '../collector/config.ts';
import { EngineRunner } from '../collector/engine-runner.ts';
import { syncRegistryFromConfig } from '../collector/sharing/registry.ts';
import type { AnnualReport } from '../collector/sharing/types.ts';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';

const sh = (wall: string) => Date.parse(`${wall.replace(' ', 'T')}:00+08:00`);
const AGENT_TOKEN = 'annual-agent-token';
const ADMIN_TOKEN = 'annual-admin-token';

const CONFIG = collectorConfigFromObject(
  {
    agents: [{ id: 'lab-pc-1', token_sha256: sha256Hex(AGENT_TOKEN) }],
    admins: [{ id: 'asset-office', token_sha256: sha256Hex(ADMIN_TOKEN) }],
    instruments: [
      {
        id: 'SEM-1',
        name: '扫描电子显微镜',
        name_en: 'Scanning electron microscope, "field emission"',
        model: 'SU8010',
        category_code: '03040701',
        manufacturer: 'Hitachi',
        country: '日本',
        original_value_cny: 1_200_000,
        owner_unit: '材料学院',
        lab: '电镜室',
        off_w: 20,
        active_w: 300,
        annual: [{ year: 2025, service_income_cny: 56_000, trained_users: 12 }],
      },
      { id: 'XRD-2', name: 'X射线衍射仪', original_value_cny: 300_000 },
      { id: 'LCMS-3', name: '液质联用仪', commissioned: '2025-07-01', original_value_cny: 2_500_000 },
    ],
  },
  'annual-test',
);

function samples(): Sample[] {
  const out: Sample[] = [];
  for (let t = sh('2025-03-04 08:00'); t <= sh('2025-03-04 13:00'); t += 60_000) {
    const w = t >= sh('2025-03-04 09:00') && t < sh('2025-03-04 12:00') ? 800 : 0;
    out.push({ instrument_id: 'SEM-1', ts: t, readings: { power_w: w } });
  }
  for (let t = sh('2025-03-05 08:00'); t <= sh('2025-03-05 12:00'); t += 60_000) out.push({ instrument_id: 'SEM-1', ts: t, readings: { power_w: 0 } });
  return out;
}

const BOOKINGS_CSV = [
  '\ufeff仪器编号,开始时间,结束时间,使用人,单位,类型,用途,收费',
  'SEM-1,2025-03-04 08:30,2025-03-04 10:00,覃明,"外校大学, 化学系",校外,形貌观察,800',
  'SEM-1,2025-03-04 10:00,2025-03-04 11:00,李华,材料学院,校内,,',
  'SEM-1,2025-03-05 09:00,2025-03-05 11:00,王强,材料学院,internal,能谱,',
  'SEM-1,2024-12-31 23:00,2025-01-01 01:00,覃明,外校大学,external,,',
  'SEM-1,2025-13-01 09:00,2025-03-04 10:00,坏行,材料学院,internal,,',
  'NOPE-9,2025-03-04 09:00,2025-03-04 10:00,某人,材料学院,internal,,',
  'SEM-1,2025-03-06 10:00,2025-03-06 09:00,倒序,材料学院,internal,,',
].join('\r\n');

describe('annual assessment export (known-answer year)', () => {
  const clock = new ManualClock(sh('2026-01-10 12:00'));
  const store = openSqliteStore(':memory:');
  let app: CollectorApp;

  beforeAll(async () => {
    store.upsertAgent('lab-pc-1', sha256Hex(AGENT_TOKEN));
    syncRegistryFromConfig(store.sharing, CONFIG.instruments, clock.now());
    const params = new Map(CONFIG.instruments.map((i) => [i.id, i.params]));
    const engine = new EngineRunner({ store: store.engine, params: (id) => params.get(id) ?? CONFIG.defaultParams, timeZone: CONFIG.timeZone, clock, logger: silentLogger() });
    app = buildApp({ store, clock, engine, registry: CONFIG.instruments, sharing: { admins: CONFIG.admins } });
    const all = samples();
    for (let k = 0; k < all.length; k += 200) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/ingest',
        headers: { authorization: `Bearer ${AGENT_TOKEN}` },
        payload: { wire_version: WIRE_VERSION, agent_id: 'lab-pc-1', batch_id: `b${k}`, seq: k, sent_at: clock.now(), samples: all.slice(k, k + 200) },
      });
      expect(res.statusCode).toBe(200);
    }
  });
  afterAll(async () => {
    await app.close();
    store.close();
  });

  it('imports the good booking rows and reports every bad one by line number', async () => {
    const noToken = await app.inject({ method: 'POST', url: '/api/v1/bookings', headers: { 'content-type': 'text/csv' }, payload: BOOKINGS_CSV });
    expect(noToken.statusCode).toBe(401);
    expect(noToken.json().code).toBe('JISHI_ERR_UNAUTHORIZED');
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/bookings',
      headers: { 'content-type': 'text/csv', authorization: `Bearer ${ADMIN_TOKEN}`, 'x-file-name': 'bookings-2025.csv' },
      payload: BOOKINGS_CSV,
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ inserted: 4, duplicates: 0, rejected: 3 });
    expect(body.errors.map((e: { line: number }) => e.line)).toEqual([6, 7, 8]);
    expect(body.errors[1]).toMatchObject({ line: 7, column: 'instrument', value: 'NOPE-9' });
    // The same file again adds nothing twice.
    const again = await app.inject({
      method: 'POST',
      url: '/api/v1/bookings',
      headers: { 'content-type': 'text/csv', authorization: `Bearer ${ADMIN_TOKEN}` },
      payload: BOOKINGS_CSV,
    });
    expect(again.json()).toMatchObject({ inserted: 0, duplicates: 4 });
    const list = await app.inject({ url: '/api/v1/bookings?from=2025-01-01&to=2025-12-31&instrument=SEM-1' });
    expect(list.json().bookings).toHaveLength(4);
    expect(list.json().bookings[1]).toMatchObject({ user: '覃明', organisation: '外校大学, 化学系', kind: 'external', fee_cny: 800, source: 'bookings-2025.csv:2' });
  });

  let report: AnnualReport;
  it('gives the hand-computed figures per instrument (JSON)', async () => {
    const res = await app.inject({ url: '/api/v1/exports/annual?year=2025&format=json' });
    expect(res.statusCode).toBe(200);
    report = res.json() as AnnualReport;
    expect(report.rows.map((r) => r.id)).toEqual(['LCMS-3', 'SEM-1', 'XRD-2']);
    const [lcms, sem, xrd] = report.rows;
    expect(sem).toMatchObject({ in_scope: true, from: '2025-01-01', to: '2025-12-31', partial: false, no_data: false, sessions: 1, bookings: 4 });
    expect(sem!.effective_h).toBeCloseTo(3, 9);
    expect(sem!.active_h).toBeCloseTo(3, 9);
    expect(sem!.external_h).toBeCloseTo(1, 9);
    expect(sem!.internal_h).toBeCloseTo(1, 9);
    expect(sem!.unattributed_h).toBeCloseTo(1, 9);
    expect(sem!.sharing_rate).toBeCloseTo(1 / 3, 9);
    expect(sem!.rated_h).toBeCloseTo(1400, 9);
    expect(sem!.utilization_rate).toBeCloseTo(3 / 1400, 9);
    expect(sem!.coverage).toBeCloseTo((5 + 4.25) / 8760, 9);
    expect(sem!.energy_kwh).toBeCloseTo(0.8 * 3, 6);
    // Booked: 1.5 + 1 + 2 + 1 (the New Year booking clipped to 2025) = 5.5 h; the 03-05 booking is a no-show (2 h).
    expect(sem!.booked_h).toBeCloseTo(5.5, 9);
    expect(sem!.no_show_h).toBeCloseTo(2, 9);
    expect(sem).toMatchObject({ service_income_cny: 56_000, trained_users: 12 });
    expect(sem!.asset).toMatchObject({ name: '扫描电子显微镜', model: 'SU8010', original_value_cny: 1_200_000, owner_unit: '材料学院' });
    expect(xrd).toMatchObject({ in_scope: false, no_data: true, effective_h: 0, coverage: 0, sessions: 0, sharing_rate: null, utilization_rate: 0 });
    expect(lcms).toMatchObject({ from: '2025-07-01', to: '2025-12-31', partial: true, no_data: true });
    expect(lcms!.rated_h).toBeCloseTo((1400 * 184) / 365, 6);
    expect(report.totals.effective_h).toBeCloseTo(3, 9);
    expect(report.totals.rated_h).toBeCloseTo(1400 + 1400 + (1400 * 184) / 365, 6);
    // Evidence: the session, and the mismatches.
    expect(report.sessions).toEqual([
      expect.objectContaining({ instrument_id: 'SEM-1', start: sh('2025-03-04 09:00'), end: sh('2025-03-04 12:00') }),
    ]);
    const kinds = report.mismatches.map((m) => `${m.kind} ${new Date(m.start).toISOString()}`);
    expect(kinds).toContain(`no_show ${new Date(sh('2025-03-05 09:00')).toISOString()}`);
    expect(kinds).toContain(`unattributed ${new Date(sh('2025-03-04 11:00')).toISOString()}`);
    expect(report.mismatches.find((m) => m.kind === 'unattributed')).toMatchObject({ end: sh('2025-03-04 12:00'), hours: 1 });
  });

  it('writes an XLSX whose cells carry the same figures, with Chinese headers', async () => {
    const res = await app.inject({ url: '/api/v1/exports/annual?year=2025' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('spreadsheetml');
    expect(res.headers['content-disposition']).toContain('jishi-annual-2025.xlsx');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(res.rawPayload as unknown as ArrayBuffer);
    expect(wb.worksheets.map((w) => w.name)).toEqual(expect.arrayContaining(['年度汇总', '机时明细', '预约核对']));
    const ws = wb.getWorksheet('年度汇总')!;
    let headerRow = 0;
    ws.eachRow((row, n) => {
      if (headerRow === 0 && row.values && (row.values as unknown[]).includes('仪器编号')) headerRow = n;
    });
    expect(headerRow).toBeGreaterThan(0);
    const col = new Map<string, number>();
    ws.getRow(headerRow).eachCell((cell, n) => col.set(String(cell.value), n));
    for (const h of ['有效工作机时（小时）', '对外服务机时（小时）', '校内服务机时（小时）', '未归属机时（小时）', '利用率', '共享率', '数据覆盖率', '原值（元）']) {
      expect(col.has(h), h).toBe(true);
    }
    const rowOf = (id: string) => {
      for (let n = headerRow + 1; n <= ws.rowCount; n++) if (ws.getRow(n).getCell(col.get('仪器编号')!).value === id) return ws.getRow(n);
      throw new Error(`no row for ${id}`);
    };
    const sem = rowOf('SEM-1');
    expect(sem.getCell(col.get('有效工作机时（小时）')!).value).toBeCloseTo(3, 9);
    expect(sem.getCell(col.get('对外服务机时（小时）')!).value).toBeCloseTo(1, 9);
    expect(sem.getCell(col.get('共享率')!).value).toBeCloseTo(1 / 3, 9);
    expect(sem.getCell(col.get('原值（元）')!).value).toBe(1_200_000);
    expect(sem.getCell(col.get('仪器名称')!).value).toBe('扫描电子显微镜');
    // Instruments without data are shown, not dropped.
    expect(String(rowOf('XRD-2').getCell(col.get('备注')!).value)).toContain('无数据');
    const sessions = wb.getWorksheet('机时明细')!;
    let found = false;
    sessions.eachRow((row) => {
      if ((row.values as unknown[]).includes('SEM-1')) found = true;
    });
    expect(found).toBe(true);
  });

  it('writes the CSV sheets and the one-page HTML summary', async () => {
    const csv = await app.inject({ url: '/api/v1/exports/annual?year=2025&format=csv' });
    expect(csv.statusCode).toBe(200);
    expect(csv.body.startsWith('\ufeff')).toBe(true);
    const lines = csv.body.slice(1).split('\r\n').filter((l) => l !== '');
    expect(lines[0]).toContain('仪器编号');
    expect(lines.filter((l) => /^(LCMS-3|SEM-1|XRD-2),/.test(l))).toHaveLength(3);
    const sessions = await app.inject({ url: '/api/v1/exports/annual?year=2025&format=csv&sheet=sessions' });
    expect(sessions.body).toContain('SEM-1');
    const html = await app.inject({ url: '/api/v1/exports/annual?year=2025&format=html' });
    expect(html.headers['content-type']).toContain('text/html');
    expect(html.body).toContain('<svg');
    for (const id of ['SEM-1', 'XRD-2', 'LCMS-3']) expect(html.body).toContain(id);
  });

  it('refuses bad export queries with stable codes', async () => {
    expect((await app.inject({ url: '/api/v1/exports/annual?year=1999' })).json().code).toBe('JISHI_ERR_VALIDATION');
    expect((await app.inject({ url: '/api/v1/exports/annual?year=2025&format=pdf' })).statusCode).toBe(400);
    expect((await app.inject({ url: '/api/v1/exports/annual?year=2025&sheet=sessions' })).statusCode).toBe(400);
    expect((await app.inject({ url: '/api/v1/exports/annual' })).statusCode).toBe(400);
  });

  it('keeps the history of registry changes: the config, then an admin through the API', async () => {
    const patch = await app.inject({
      method: 'PATCH',
      url: '/api/v1/registry/SEM-1',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      payload: { location: '理科楼 B102', contact: '张老师 010-12345678', original_value_cny: 1_250_000 },
    });
    expect(patch.statusCode).toBe(200);
    expect(patch.json().changes.map((c: { field: string }) => c.field).sort()).toEqual(['contact', 'location', 'original_value_cny']);
    // Rated hours and thresholds belong to the config file.
    const refused = await app.inject({
      method: 'PATCH',
      url: '/api/v1/registry/SEM-1',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      payload: { rated_hours: 800 },
    });
    expect(refused.statusCode).toBe(400);
    // A later config with other thresholds and rated hours: the change is recorded, with the old value.
    const changed = collectorConfigFromObject({ instruments: [{ id: 'SEM-1', off_w: 25, active_w: 300, rated_hours: 800 }] }, 'later');
    syncRegistryFromConfig(store.sharing, changed.instruments, sh('2026-01-11 09:00'));
    const one = (await app.inject({ url: '/api/v1/registry/SEM-1' })).json();
    expect(one).toMatchObject({ location: '理科楼 B102', original_value_cny: 1_250_000, rated_hours: 800 });
    const history = one.history as Array<{ field: string; old_value: unknown; new_value: unknown; source: string }>;
    expect(history.filter((h) => h.field === 'original_value_cny')).toEqual([
      expect.objectContaining({ old_value: null, new_value: 1_200_000, source: 'config' }),
      expect.objectContaining({ old_value: 1_200_000, new_value: 1_250_000, source: 'api:asset-office' }),
    ]);
    expect(history.filter((h) => h.field === 'rated_hours').map((h) => [h.old_value, h.new_value])).toEqual([
      [null, 1400],
      [1400, 800],
    ]);
    expect(history.find((h) => h.field === 'off_w' && h.new_value === 25)).toMatchObject({ old_value: 20, source: 'config' });
  });
});
