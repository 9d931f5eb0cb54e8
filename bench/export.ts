/**
 * Benchmark 5, the annual export for 1,000 instruments: seconds of buildAnnualReport + writeAnnualXlsx over a
 * store holding a year of measured results, against baselines measured in the same run.
 *
 * The store is built directly through the store APIs (no readings are replayed): for each instrument the
 * registry record (asset fields, rated hours, the year's service income), a year (2025, Asia/Shanghai) of state
 * intervals and sessions (EngineStore.commit, which also writes the result log), the daily rollups computed from
 * them by the engine's own dailyRollups (EngineStore.upsertRollups), and an engine state whose stable boundary is
 * the end of the year, so the report reads the stored rollups as it does in production. The days: weekdays off
 * at night, warm-up, a morning and an afternoon run with lunch in standby, post-processing (one session, about
 * 10 h, jittered per instrument); weekends off. Bookings: 90 % of sessions are booked (a quarter of them
 * external), a few weekend bookings are no-shows.
 *
 * Baselines:
 * - build: the same rows read straight from the store (rollups, sessions, intervals and bookings of the year);
 * - xlsx: exceljs alone writing the same cells (the same values in the same sheets, rows and columns, without
 *   styles, notes or number formats) to a buffer;
 * - total: both baselines together.
 */
import ExcelJS from 'exceljs';
import { EngineRunner } from '../collector/engine-runner.ts';
import { InstrumentEngine } from '../collector/engine/engine.ts';
import { resolveParams } from '../collector/engine/params.ts';
import { dailyRollups } from '../collector/engine/rollup.ts';
import { addDays, dayStart } from '../collector/engine/time-zone.ts';
import type { Session, StateInterval } from '../collector/engine/types.ts';
import { buildAnnualReport } from '../collector/sharing/annual.ts';
import { mismatchesTable, sessionsTable, summaryTable, type ExportTable } from '../collector/sharing/export-columns.ts';
import { writeAnnualXlsx } from '../collector/sharing/export-xlsx.ts';
import type { BookingInsert } from '../collector/store/sharing-store.ts';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';
import type { Store } from '../collector/store/store.ts';
import { systemClock } from '../common/clock.ts';
import { silentLogger } from '../common/log.ts';
import { mulberry32 } from '../common/prng.ts';
import { join } from 'node:path';
import { procMemory, progress, tempDir } from './lib/proc.ts';
import { figureFromRuns, type BenchOptions, type Figure } from './lib/report.ts';

const YEAR = 2025;
const TIME_ZONE = 'Asia/Shanghai';
const H = 3_600_000;
const M = 60_000;

interface Day {
  day: string;
  start: number;
  weekday: boolean;
}

function yearDays(): Day[] {
  const days: Day[] = [];
  for (let d = `${YEAR}-01-01`; d <= `${YEAR}-12-31`; d = addDays(d, 1)) {
    const dow = new Date(`${d}T00:00:00Z`).getUTCDay();
    days.push({ day: d, start: dayStart(d, TIME_ZONE), weekday: dow >= 1 && dow <= 5 });
  }
  return days;
}

/** One instrument's year: maximal state intervals (off merged across nights and weekends) and sessions. */
function instrumentYear(days: readonly Day[], rnd: () => number): { intervals: StateInterval[]; sessions: Session[] } {
  const intervals: StateInterval[] = [];
  const sessions: Session[] = [];
  const add = (start: number, end: number, state: StateInterval['state'], kw: number): void => {
    const last = intervals[intervals.length - 1];
    if (last !== undefined && last.state === state && last.end === start) {
      last.end = end;
      last.energy_kwh += ((end - start) / H) * kw;
    } else intervals.push({ start, end, state, energy_kwh: ((end - start) / H) * kw });
  };
  for (const d of days) {
    if (!d.weekday) {
      add(d.start, d.start + 24 * H, 'off', 0.002);
      continue;
    }
    const j = (): number => Math.round((rnd() - 0.5) * 30) * M; // +-15 min
    const on = d.start + 8 * H + j();
    const run1 = on + H;
    const lunch = d.start + 12 * H + j();
    const run2 = lunch + H;
    const done = d.start + 17 * H + j();
    const off = done + H;
    add(d.start, on, 'off', 0.002);
    add(on, run1, 'standby', 0.15);
    add(run1, lunch, 'active', 0.8);
    add(lunch, run2, 'standby', 0.15);
    add(run2, done, 'active', 0.8);
    add(done, off, 'standby', 0.15);
    add(off, d.start + 24 * H, 'off', 0.002);
    const active = (lunch - run1 + (done - run2)) / 1000;
    sessions.push({ start: on, end: off, active_s: active, warmup_s: 3600, post_s: 3600, energy_kwh: (active / 3600) * 0.8 + 3 * 0.15 });
  }
  return { intervals, sessions };
}

const ORGS = ['化学与分子工程学院', '材料科学与工程学院', '生命科学学院', '物理学院', '某某科技有限公司', '某某研究所'];

/** Builds the store: registry, a year of intervals, sessions, rollups and bookings per instrument. */
function buildStore(store: Store, instruments: number, now: number, log: (m: string) => void): { sessions: number; intervals: number; bookings: number } {
  const days = yearDays();
  const yearStart = days[0]!.start;
  const yearEnd = dayStart(`${YEAR + 1}-01-01`, TIME_ZONE);
  const dayStarts = new Map(days.map((d) => [d.day, d.start]));
  // An engine whose first sample is at the end of the year: its stable boundary is there, so every day of the
  // year has a final (stored) rollup, as after a year of streaming.
  const template = new InstrumentEngine(resolveParams({}));
  template.push({ ts: yearEnd, power_w: 2, energy_kwh: 1000 });
  template.push({ ts: yearEnd + 1000, power_w: 2, energy_kwh: 1000 });
  const state = { lastTs: template.lastTs, checkpoint: template.checkpoint() };
  const rnd = mulberry32(2025);
  let sessions = 0;
  let intervals = 0;
  let bookings = 0;
  let lastLog = performance.now();
  for (let i = 0; i < instruments; i++) {
    const id = `GX-${String(2010 + (i % 15))}-${String(i + 1).padStart(4, '0')}`;
    const org = ORGS[i % 4]!;
    store.sharing.setRegistryFields(
      id,
      {
        name: `大型仪器 ${i + 1} 号`,
        name_en: `Instrument ${i + 1}`,
        model: `M-${(i * 37) % 1000}`,
        category_code: `0304${String(i % 100).padStart(4, '0')}`,
        manufacturer: ['卡尔蔡司（ZEISS）', '布鲁克（Bruker）', '沃特世（Waters）', '岛津（Shimadzu）'][i % 4],
        country: ['德国', '德国', '美国', '日本'][i % 4],
        original_value_cny: 300_000 + ((i * 7919) % 50) * 100_000,
        commissioned: `${2010 + (i % 15)}-0${1 + (i % 9)}-15`,
        owner_unit: org,
        lab: `实验室 ${1 + (i % 40)}`,
        location: `楼 ${1 + (i % 12)} - ${100 + (i % 300)}`,
        contact: `联系人 ${i + 1} user${i + 1}@example.edu.cn`,
        funding_source: '中央高校改善基本办学条件专项',
        shared: true,
        asset_status: '在用',
        rated_hours: 1400,
        annual: [{ year: YEAR, service_income_cny: 10_000 + ((i * 131) % 200) * 1000, trained_users: 5 + (i % 40) }],
      },
      'bench',
      now,
    );
    const y = instrumentYear(days, rnd);
    store.engine.commit(id, { intervals: y.intervals, sessions: y.sessions, drainTs: yearEnd, state, dayCheckpoints: [] });
    const rollups = dailyRollups(y.intervals, y.sessions, { timeZone: TIME_ZONE, from: yearStart, to: yearEnd });
    store.engine.upsertRollups(id, rollups.map((r) => ({ ...r, start: dayStarts.get(r.day)! })));
    const b: BookingInsert[] = [];
    y.sessions.forEach((s, k) => {
      const r = rnd();
      if (r < 0.9) {
        const external = rnd() < 0.25;
        b.push({
          instrument_id: id,
          start: s.start + 10 * M,
          end: s.end,
          user: `user-${(i * 13 + k) % 500}`,
          organisation: external ? ORGS[4 + (k % 2)]! : org,
          kind: external ? 'external' : 'internal',
          ...(external ? { fee_cny: 800 } : {}),
          source: 'bench',
        });
      }
      // Now and then a booked Saturday nobody came for.
      if (k % 40 === 0) b.push({ instrument_id: id, start: s.start + 4 * 86_400_000, end: s.start + 4 * 86_400_000 + 4 * H, user: 'no-show', organisation: org, kind: 'internal', source: 'bench' });
    });
    store.sharing.insertBookings(b, now);
    sessions += y.sessions.length;
    intervals += y.intervals.length;
    bookings += b.length;
    if (performance.now() - lastLog > 5000) {
      lastLog = performance.now();
      log(`store: ${i + 1} / ${instruments} instruments`);
    }
  }
  return { sessions, intervals, bookings };
}

/** exceljs alone: the same cells, plain (no styles, notes or formats), to a buffer. */
async function plainWorkbook(tables: ReadonlyArray<{ name: string; table: ExportTable }>): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  for (const { name, table } of tables) {
    const ws = wb.addWorksheet(name);
    ws.addRow(table.columns.map((c) => c.header_zh));
    for (const row of table.rows) ws.addRow(row.map((v) => (typeof v === 'boolean' ? (v ? '是' : '否') : v)));
    if (table.totals) ws.addRow(table.totals);
  }
  return Buffer.from((await wb.xlsx.writeBuffer()) as ArrayBuffer);
}

export async function runExport(o: BenchOptions): Promise<Figure[]> {
  const t = performance.now();
  const log = (m: string): void => progress('export', t, m);
  const instruments = o.quick ? 100 : 1000;
  const { dir, remove } = await tempDir('jishi-bench-export-');
  try {
    const store = openSqliteStore(join(dir, 'jishi.sqlite'));
    try {
      const now = dayStart(`${YEAR + 1}-01-15`, TIME_ZONE);
      log(`building a store with ${instruments} instruments x a year of intervals, sessions, rollups and bookings`);
      const built = buildStore(store, instruments, now, log);
      log(
        `store built: ${built.intervals.toLocaleString('en-US')} intervals, ${built.sessions.toLocaleString('en-US')} sessions, ` +
          `${(instruments * 365).toLocaleString('en-US')} rollups, ${built.bookings.toLocaleString('en-US')} bookings`,
      );
      const engine = new EngineRunner({ store: store.engine, params: () => resolveParams({}), timeZone: TIME_ZONE, clock: systemClock, logger: silentLogger() });
      const yearStart = dayStart(`${YEAR}-01-01`, TIME_ZONE);
      const yearEnd = dayStart(`${YEAR + 1}-01-01`, TIME_ZONE);
      const runs: Array<{ build: number; xlsx: number; readRows: number; plain: number; bytes: number; cells: number; rows: string }> = [];
      // One run only, whatever --runs says: at 1,000 instruments a run takes minutes (see docs/benchmarks.md).
      const exportRuns = 1;
      for (let run = 0; run < exportRuns; run++) {
        engine.reset();
        const t0 = performance.now();
        const report = buildAnnualReport({ year: YEAR, now, store, engine, timeZone: TIME_ZONE, defaultRatedHours: 1400, thresholdCny: 500_000 });
        const t1 = performance.now();
        const xlsx = await writeAnnualXlsx(report);
        const t2 = performance.now();
        // Baseline 1: the same rows straight from the store.
        const ids = store.sharing.registry().map((r) => r.id);
        let readRows = 0;
        readRows += store.engine.rollups(ids, `${YEAR}-01-01`, `${YEAR}-12-31`).length;
        readRows += store.engine.sessions(ids, yearStart, yearEnd).length;
        readRows += store.sharing.bookings(ids, yearStart, yearEnd).length;
        for (const id of ids) readRows += store.engine.intervals(id, yearStart, yearEnd).length;
        const t3 = performance.now();
        // Baseline 2: exceljs alone, the same cells.
        const tables = [
          { name: '年度汇总', table: summaryTable(report) as ExportTable },
          { name: '机时明细', table: sessionsTable(report) as ExportTable },
          { name: '预约核对', table: mismatchesTable(report) as ExportTable },
        ];
        const cells = tables.reduce((n, x) => n + (x.table.rows.length + 1 + (x.table.totals ? 1 : 0)) * x.table.columns.length, 0);
        const t4 = performance.now();
        await plainWorkbook(tables);
        const t5 = performance.now();
        const rows = tables.map((x) => `${x.name} ${x.table.rows.length.toLocaleString('en-US')}`).join(', ');
        runs.push({ build: (t1 - t0) / 1000, xlsx: (t2 - t1) / 1000, readRows: (t3 - t2) / 1000, plain: (t5 - t4) / 1000, bytes: xlsx.length, cells, rows });
        log(
          `run ${run + 1}/${exportRuns}: buildAnnualReport ${((t1 - t0) / 1000).toFixed(1)} s (store reads alone ${((t3 - t2) / 1000).toFixed(1)} s, ${readRows.toLocaleString('en-US')} rows), ` +
            `writeAnnualXlsx ${((t2 - t1) / 1000).toFixed(1)} s (${(xlsx.length / 1e6).toFixed(1)} MB; exceljs alone ${((t5 - t4) / 1000).toFixed(1)} s for ${cells.toLocaleString('en-US')} cells)`,
        );
      }
      const r0 = runs[0]!;
      const note =
        `${instruments} instruments, year ${YEAR}: ${built.sessions.toLocaleString('en-US')} sessions, ${built.intervals.toLocaleString('en-US')} state intervals, ` +
        `${built.bookings.toLocaleString('en-US')} bookings; workbook rows: ${r0.rows}; ${r0.cells.toLocaleString('en-US')} cells, ${(r0.bytes / 1e6).toFixed(1)} MB; ` +
        `one run; bench process peak RSS ${(procMemory(process.pid).hwmKb / 1024).toFixed(0)} MB`;
      return [
        figureFromRuns(
          { bench: 'export', id: 'export.total', label: `export: annual report + XLSX, ${instruments} instruments`, unit: 's', baselineLabel: 'store reads + exceljs alone, same cells', note },
          runs.map((r) => ({ value: r.build + r.xlsx, baseline: r.readRows + r.plain })),
        ),
        figureFromRuns(
          { bench: 'export', id: 'export.build', label: 'export: buildAnnualReport', unit: 's', baselineLabel: "the same rows read from the store" },
          runs.map((r) => ({ value: r.build, baseline: r.readRows })),
        ),
        figureFromRuns(
          { bench: 'export', id: 'export.xlsx', label: 'export: writeAnnualXlsx', unit: 's', baselineLabel: 'exceljs alone, same cells' },
          runs.map((r) => ({ value: r.xlsx, baseline: r.plain })),
        ),
      ];
    } finally {
      store.close();
    }
  } finally {
    await remove();
  }
}
