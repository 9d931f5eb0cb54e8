/**
 * The built-in web console (issue #10) in headless Chromium, against a real collector fed by a real agent
 * reading simulated meters on a Modbus TCP simulator, with two weeks of history ingested first:
 * - the live board lists every instrument and follows a forced state change through the event stream, without
 *   a reload; the language switch changes the labels;
 * - an instrument page draws the power chart (an SVG path with points), the state strip, sessions, daily hours
 *   and the calibration histogram;
 * - the year page shows utilization and sharing rates and its XLSX link downloads a real XLSX (zip) file;
 * - every page fits 1366 px; the static route serves only the console's files with their content types.
 * With JISHI_SCREENSHOTS=1 (`npm run screenshots`) it also writes docs/screenshots/*.png.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { agentConfigFromObject } from '../agent/config.ts';
import { startAgent, type RunningAgent } from '../agent/agent.ts';
import { sha256Hex } from '../collector/auth.ts';
import { collectorConfigFromObject } from '../collector/config.ts';
import { dayStart, localDay, wallMs } from '../collector/engine/time-zone.ts';
import { startCollector, type RunningCollector } from '../collector/server.ts';
import { silentLogger } from '../common/log.ts';
import { mulberry32 } from '../common/prng.ts';
import type { InstrumentList, Sample } from '../common/wire.ts';
import { sdm120 } from '../devices/eastron/sdm120.ts';
import { startModbusTcpSimulator, type ModbusTcpSimulator } from '../devices/simulators/modbus-tcp.ts';
import { createTrace, DEMO_TRACES } from '../devices/traces.ts';
import { executable, requireOrSkip } from './helpers/require-tool.ts';
import { until } from './helpers/wait.ts';
import { bookingsWorkbook } from './helpers/bookings-workbook.ts';

// Browser globals used inside page.evaluate / waitForFunction callbacks (the project's lib has no DOM types).
interface PageElement {
  textContent: string | null;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement> & { length: number };
  documentElement: { lang: string; scrollWidth: number };
};
declare const window: object;
declare const location: { hash: string };

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = process.env.JISHI_SCREENSHOTS === '1';
const SCREENSHOT_DIR = new URL('../docs/screenshots/', import.meta.url);
const TZ = 'Asia/Shanghai';
const AGENT_TOKEN = 'web-console-agent-token-0123456789';
const ADMIN_TOKEN = 'web-console-admin-token-0123456789';
const HISTORY_DAYS = 14;
const HISTORY_STEP_MS = 60_000;

/** A day of one instrument: [from hour, to hour, watts, noise] runs in local time; the rest of the day is `base`. */
type DayPlan = { base: [number, number]; runs: Array<[number, number, number, number]> };

const FLEET = [
  {
    id: 'FCM-2019-001', name: '流式细胞仪 FACSCanto II', unit: 1, trace: DEMO_TRACES['flow-cytometer'], off_w: 20, active_w: 300,
    original_value_cny: 1_850_000,
    plans: [
      { base: [0.6, 0.2], runs: [[8.5, 9, 150, 8], [9, 11.75, 450, 25], [11.75, 13.5, 150, 8], [13.5, 16.5, 450, 25], [16.5, 17, 150, 8]] },
      { base: [0.6, 0.2], runs: [[10, 10.4, 150, 8], [10.4, 12, 450, 25], [12, 12.5, 150, 8]] },
      { base: [0.6, 0.2], runs: [] },
    ] as DayPlan[],
  },
  {
    id: 'SEQ-2021-003', name: '基因测序仪 NovaSeq 6000', unit: 2, trace: DEMO_TRACES.sequencer, off_w: 20, active_w: 700,
    original_value_cny: 6_200_000,
    plans: [
      { base: [250, 10], runs: [[0, 4, 1200, 60], [9, 21, 1200, 60]] },
      { base: [250, 10], runs: [[13, 24, 1200, 60]] },
      { base: [250, 10], runs: [[0, 6, 1200, 60]] },
    ] as DayPlan[],
  },
  {
    id: 'LCMS-2020-004', name: '液质联用仪 Orbitrap Exploris', unit: 3, trace: DEMO_TRACES['mass-spectrometer'], off_w: 100, active_w: 2150,
    original_value_cny: 4_300_000,
    plans: [
      { base: [1800, 50], runs: [[10, 12, 2500, 80], [14, 18.5, 2500, 80], [20, 23, 2500, 80]] },
      { base: [1800, 50], runs: [[9, 17, 2500, 80]] },
      { base: [1800, 50], runs: [[0, 2, 2500, 80]] },
    ] as DayPlan[],
  },
] as const;
const FORCED = FLEET[2];

/** History readings of [from, to): local-time day plans, weekends lighter, seeded noise. */
function historySamples(from: number, to: number): Sample[] {
  const samples: Sample[] = [];
  FLEET.forEach((f, k) => {
    const noise = mulberry32(1000 + k);
    for (let ts = from; ts < to; ts += HISTORY_STEP_MS) {
      const wall = wallMs(ts, TZ);
      const day = Math.floor(wall / 86_400_000);
      const weekday = new Date(wall).getUTCDay();
      const plan = f.plans[weekday === 0 || weekday === 6 ? 2 : (day * 7 + k) % 2]!;
      const hour = (wall % 86_400_000) / 3_600_000;
      const run = plan.runs.find(([a, b]) => hour >= a && hour < b);
      const [w, n] = run ? [run[2], run[3]] : plan.base;
      samples.push({ instrument_id: f.id, ts, readings: { power_w: Math.max(0, w + (noise() * 2 - 1) * n) } });
    }
  });
  return samples.sort((a, b) => a.ts - b.ts);
}

async function post(url: string, token: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
}

describe('web console browser modules', () => {
  it('type-check as strict JSDoc-typed JavaScript (tsc -p collector/web)', async () => {
    const tsc = new URL('../node_modules/typescript/bin/tsc', import.meta.url).pathname;
    const root = new URL('..', import.meta.url).pathname;
    await expect(promisify(execFile)(process.execPath, [tsc, '-p', 'collector/web'], { cwd: root })).resolves.toBeDefined();
  });
});

describe.skipIf(requireOrSkip('chromium', executable(CHROMIUM)))('web console in headless Chromium', () => {
  let dataDir: string;
  let sim: ModbusTcpSimulator;
  let collector: RunningCollector;
  let agent: RunningAgent;
  let context: BrowserContext;
  let page: Page;
  let base: string;
  let bookedExternal = false;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'jishi-web-'));
    const now = Date.now();
    sim = await startModbusTcpSimulator({
      port: 0,
      devices: FLEET.map((f) => ({ unit: f.unit, profile: sdm120, trace: createTrace(f.trace, { seed: f.unit, epochMs: now }) })),
    });
    sim.setState(FORCED.unit, 'standby');
    collector = await startCollector(
      collectorConfigFromObject(
        {
          listen: { host: '127.0.0.1', port: 0 },
          data_dir: dataDir,
          timezone: TZ,
          agents: [{ id: 'lab-pc-1', token_sha256: sha256Hex(AGENT_TOKEN) }],
          admins: [{ id: 'office', token_sha256: sha256Hex(ADMIN_TOKEN) }],
          instruments: FLEET.map((f) => ({
            id: f.id, name: f.name, off_w: f.off_w, active_w: f.active_w, min_dwell_s: 1, original_value_cny: f.original_value_cny,
          })),
        },
        'web-console',
      ),
      { logger: silentLogger() },
    );
    base = collector.url;

    // Two weeks of history, as an agent that had been running would have sent it.
    const historyEnd = now - 10_000;
    const history = historySamples(dayStart(localDay(now - HISTORY_DAYS * 86_400_000, TZ), TZ), historyEnd);
    for (let i = 0, seq = 0; i < history.length; i += 5000, seq++) {
      const res = await post(`${base}/api/v1/ingest`, AGENT_TOKEN, {
        wire_version: 1, agent_id: 'lab-pc-1', batch_id: `history-${seq}`, seq, sent_at: Date.now(), samples: history.slice(i, i + 5000),
      });
      expect(res.status, await res.clone().text()).toBe(200);
    }
    // Bookings: yesterday's morning run of the flow cytometer was an external user's, the sequencer's an internal one.
    const yesterday = localDay(now - 86_400_000, TZ);
    const at = (day: string, hour: number): number => dayStart(day, TZ) + hour * 3_600_000;
    bookedExternal = yesterday.slice(0, 4) === localDay(now, TZ).slice(0, 4);
    const booked = await post(`${base}/api/v1/bookings`, ADMIN_TOKEN, {
      bookings: [
        { instrument_id: FLEET[0].id, start: at(yesterday, 8), end: at(yesterday, 18), user: 'Li Wei', organisation: 'Example Biotech', kind: 'external' },
        { instrument_id: FLEET[1].id, start: at(yesterday, 0), end: at(yesterday, 23), user: 'Zhang Min', organisation: 'School of Life Sciences', kind: 'internal' },
      ],
    });
    expect(booked.status, await booked.clone().text()).toBe(200);

    agent = await startAgent(
      agentConfigFromObject(
        {
          agent: { id: 'lab-pc-1' },
          collector: { url: base, token: AGENT_TOKEN },
          state_dir: join(dataDir, 'agent-state'),
          poll_interval_s: 0.5,
          batch_interval_s: 0.5,
          instruments: FLEET.map((f) => ({ id: f.id, name: f.name, profile: 'eastron-sdm120', transport: sim.url(f.unit) })),
        },
        'web-console',
        { env: {} },
      ),
      { logger: silentLogger() },
    );
    await until('the forced instrument in standby', async () => {
      const list = (await (await fetch(`${base}/api/v1/instruments`)).json()) as InstrumentList;
      return list.instruments.find((i) => i.id === FORCED.id)?.state === 'standby';
    });

    context = await chromium.launchPersistentContext(join(dataDir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1366, height: 768 },
      locale: 'en-US',
      timezoneId: 'Europe/Berlin', // not the collector's zone: the console must show the collector's times
      acceptDownloads: true,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });

  afterEach(() => {
    expect(pageErrors).toEqual([]);
  });

  afterAll(async () => {
    await context?.close();
    await agent?.stop();
    await collector?.close();
    await sim?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const fitsWidth = async (): Promise<void> => {
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(scrollWidth).toBeLessThanOrEqual(1366);
  };

  /** Chooses a bookings file on the year page and sends it; `answer` is what to wait for (success, or a refusal). */
  const importBookings = async (file: string, answer: string): Promise<void> => {
    await page.setInputFiles('#bookings-file', file);
    await page.click('#bookings-submit');
    await page.waitForSelector(answer);
  };

  /** Answers the console's token prompt. */
  const enterToken = async (token: string): Promise<void> => {
    await page.fill('#token-input', token);
    await page.click('#token-input ~ button[type="submit"]');
  };

  const screenshot = async (name: string, fullPage = false): Promise<void> => {
    if (SCREENSHOTS) await page.screenshot({ path: new URL(`${name}.png`, SCREENSHOT_DIR).pathname, fullPage });
  };

  it('serves the console files with their content types and nothing else', async () => {
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
    const js = await fetch(`${base}/web/app.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await fetch(`${base}/web/style.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
    for (const path of ['/web/../app.ts', '/web/%2e%2e/routes/web.ts', '/web/..%2f..%2fpackage.json', '/web/nope.js', '/web/']) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    }
  });

  it('shows every instrument and agent on the live board', async () => {
    await page.goto(`${base}/`);
    await page.waitForFunction((n) => document.querySelectorAll('#board-cards .card').length === n, FLEET.length);
    const ids = await page.$$eval('#board-cards .card', (cards) => cards.map((c) => c.getAttribute('data-id')));
    expect(ids.sort()).toEqual(FLEET.map((f) => f.id).sort());
    const names = await page.$$eval('#board-cards .card-name', (els) => els.map((e) => e.textContent));
    for (const f of FLEET) expect(names).toContain(f.name);
    expect(await page.getAttribute(`.card[data-id="${FORCED.id}"]`, 'data-state')).toBe('standby');
    expect(await page.textContent(`.card[data-id="${FORCED.id}"] .badge`)).toBe('standby');
    expect(await page.textContent(`.card[data-id="${FORCED.id}"] .power`)).toMatch(/kW$/);
    await page.waitForSelector('#board-agents tr[data-agent="lab-pc-1"][data-health="ok"]');
    expect(await page.textContent('#conn')).toBe('live');
    await fitsWidth();
  });

  it('follows a state change through the event stream without reloading', async () => {
    await page.evaluate(() => void Object.assign(window, { __sameDocument: true }));
    const snapshotsBefore = Number(await page.getAttribute('#main', 'data-snapshots'));
    sim.setState(FORCED.unit, 'active');
    await page.waitForSelector(`.card[data-id="${FORCED.id}"][data-state="active"]`, { timeout: 15_000 });
    expect(await page.textContent(`.card[data-id="${FORCED.id}"] .badge`)).toBe('active');
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
    expect(Number(await page.getAttribute('#main', 'data-snapshots'))).toBeGreaterThan(snapshotsBefore);
    await page.waitForFunction((id) => [...document.querySelectorAll('#board-changes li')].some((li) => li.textContent?.includes('standby') && li.textContent.includes('active') && li.querySelector(`a[href$="${id}"]`)), FORCED.id);
    await screenshot('board');
  });

  it('switches between Chinese and English', async () => {
    await page.selectOption('#lang', 'zh');
    await page.waitForFunction(() => document.querySelector('[data-nav="board"]')?.textContent === '实时看板');
    await page.waitForSelector(`.card[data-id="${FORCED.id}"] .badge:text-is("运行")`);
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('zh-CN');
    await screenshot('board-zh');
    // The choice is remembered.
    await page.reload();
    await page.waitForSelector(`.card[data-id="${FORCED.id}"] .badge:text-is("运行")`);
    await page.selectOption('#lang', 'en');
    await page.waitForFunction(() => document.querySelector('[data-nav="board"]')?.textContent === 'Live board');
  });

  it('draws an instrument page: power chart, states, sessions, daily hours and the calibration histogram', async () => {
    await page.goto(`${base}/#/instrument/${FLEET[0].id}?range=7d`);
    await page.waitForFunction(() => Number(document.querySelector('#power-chart .power-line')?.getAttribute('data-points') ?? 0) > 50);
    const d = await page.getAttribute('#power-chart .power-line', 'd');
    expect((d ?? '').split('L').length).toBeGreaterThan(50);
    expect(await page.$$eval('#power-chart .state-strip rect[data-state="active"]', (r) => r.length)).toBeGreaterThan(0);
    expect(await page.$$eval('#power-chart .threshold', (r) => r.length)).toBe(2);
    await page.waitForSelector('#sessions-table tbody tr');
    expect(await page.$$eval('#sessions-table tbody tr', (r) => r.length)).toBeGreaterThan(3);
    await page.waitForSelector('#daily-chart rect.bar', { state: 'attached' });
    expect(await page.$$eval('#daily-chart rect.bar', (r) => r.length)).toBe(30);
    expect(await page.$$eval('#daily-chart .pace-line', (r) => r.length)).toBe(1);
    await page.waitForSelector('#calibration .histogram-chart rect.bar', { state: 'attached' });
    expect(await page.textContent('#params-table tr[data-param="off_w"] td')).toBe('20 W');
    expect(await page.textContent('#params-table tr[data-param="active_w"] td')).toBe('300 W');
    expect(await page.textContent('#calibration .proposal')).toMatch(/off_w = .* W, active_w = .* W/);
    await fitsWidth();
    await screenshot('instrument', true);

    // Another range: the chart follows, through the range buttons.
    await page.click('[data-range="1h"]');
    await page.waitForFunction(() => location.hash.endsWith('range=1h'));
    await page.waitForFunction(() => Number(document.querySelector('#power-chart .power-line')?.getAttribute('data-points') ?? 0) > 0);
  });

  it('shows the year with utilization and sharing rates, and downloads the XLSX export', async () => {
    const year = localDay(Date.now(), TZ).slice(0, 4);
    await page.goto(`${base}/#/year/${year}`);
    await page.waitForSelector('#year-table tbody tr');
    expect(await page.$$eval('#year-table tbody tr', (r) => r.map((x) => x.getAttribute('data-id')))).toEqual(FLEET.map((f) => f.id).sort());
    const util = await page.textContent(`#year-table tr[data-id="${FLEET[1].id}"] td.rate .rate-text`);
    expect(util).toMatch(/^\d+(\.\d)? %$/);
    if (bookedExternal) {
      const sharing = await page.$$eval(`#year-table tr[data-id="${FLEET[0].id}"] td.rate .rate-text`, (els) => els[1]?.textContent);
      expect(sharing).toMatch(/^\d+(\.\d)? %$/);
      expect(sharing).not.toBe('0.0 %');
    }
    await fitsWidth();
    await screenshot('year');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a.dl-xlsx')]);
    expect(download.suggestedFilename()).toBe(`jishi-annual-${year}.xlsx`);
    const file = await readFile((await download.path())!);
    expect(file.subarray(0, 4)).toEqual(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
    expect(await page.getAttribute('a.dl-csv', 'href')).toBe(`/api/v1/exports/annual?year=${year}&format=csv`);
    expect(await page.getAttribute('a.dl-html', 'href')).toBe(`/api/v1/exports/annual?year=${year}&format=html`);
  });

  it('imports a GBK bookings CSV from the year page: asks for an admin token, then lists what it stored and the bad rows', async () => {
    const year = localDay(Date.now(), TZ).slice(0, 4);
    const day = localDay(Date.now(), TZ);
    // Excel's plain "CSV" on Chinese Windows: a GBK header (仪器编号,开始时间,结束时间,使用人,使用单位,用户类型) and
    // organisation (复旦大学), bytes made with iconv; a Chinese file name.
    const gbk = (hex: string): Buffer => Buffer.from(hex, 'hex');
    const file = join(dataDir, '预约记录.csv');
    await writeFile(
      file,
      Buffer.concat([
        gbk('d2c7c6f7b1e0bac52cbfaacabccab1bce42cbde1caf8cab1bce42ccab9d3c3c8cb2ccab9d3c3b5a5cebb2cd3c3bba7c0e0d0cd'),
        Buffer.from(`\r\n${FLEET[2].id},${day} 00:10,${day} 00:40,Wang Fang,`),
        gbk('b8b4b5a9b4f3d1a7'),
        Buffer.from(`,external\r\nNOPE-1,${day} 00:10,${day} 00:40,X,Y,internal\r\n`),
      ]),
    );
    await page.goto(`${base}/#/year/${year}`);
    await page.waitForSelector('#year-table tbody tr');
    // Without a token: the collector answers 401 and the panel says what is needed, keeping the page.
    await importBookings(file, '#bookings-token');
    expect(await page.textContent('#bookings-summary')).toMatch(/^Importing needs an admin token: /);
    await page.click('#bookings-token');
    await enterToken(ADMIN_TOKEN);
    await page.waitForSelector('#year-table tbody tr');
    await importBookings(file, '#bookings-summary.ok');
    expect(await page.textContent('#bookings-summary')).toBe('预约记录.csv: 1 imported, 0 already there, 1 bad row(s) left out.');
    expect(await page.textContent('#bookings-errors tr[data-line="3"]')).toContain('NOPE-1');
    expect(await page.textContent('#bookings-warnings')).toContain('GB18030');
    const stored = (await (await fetch(`${base}/api/v1/bookings?instrument=${FLEET[2].id}&from=${day}&to=${day}`)).json()) as {
      bookings: Array<{ user: string; organisation: string; kind: string; source: string }>;
    };
    expect(stored.bookings).toEqual([expect.objectContaining({ user: 'Wang Fang', organisation: '复旦大学', kind: 'external', source: '预约记录.csv:2' })]);
    await fitsWidth();
    await screenshot('year-bookings', true);
    await page.click('#forget-token');
  });

  it("lists an instrument's bookings of the range and deletes one with an admin token", async () => {
    // The booking the GBK import above stored: today 00:10-00:40 (collector time) on FLEET[2].
    const from = dayStart(localDay(Date.now(), TZ), TZ);
    await page.goto(`${base}/#/instrument/${encodeURIComponent(FLEET[2].id)}?from=${from}&to=${from + 86_400_000}`);
    await page.waitForSelector('#bookings-table tbody tr');
    const row = await page.textContent('#bookings-table tbody tr');
    expect(row).toContain('Wang Fang');
    expect(row).toContain('复旦大学');
    expect(row).toContain('external');
    expect(row).toContain('预约记录.csv:2');
    page.on('dialog', (d) => void d.accept());
    // No token (the test above forgot it): the collector refuses, the panel says what is needed.
    await page.click('#bookings-table .delete-booking');
    await page.waitForSelector('#bookings-denied');
    expect(await page.textContent('#bookings-denied')).toMatch(/^Deleting needs an admin token: /);
    await page.click('#bookings-denied button');
    await enterToken(ADMIN_TOKEN);
    await page.waitForSelector('#bookings-table tbody tr');
    await page.click('#bookings-table .delete-booking');
    await page.waitForFunction(() => document.querySelector('#bookings table') === null);
    expect(await page.textContent('#bookings')).toBe('No bookings in this range.');
    const left = (await (await fetch(`${base}/api/v1/bookings?instrument=${FLEET[2].id}`)).json()) as { bookings: unknown[] };
    expect(left.bookings).toEqual([]);
    await fitsWidth();
    await page.click('#forget-token');
  });

  it('imports an Excel workbook (.xlsx) from the year page', async () => {
    const year = localDay(Date.now(), TZ).slice(0, 4);
    const file = join(dataDir, 'bookings-2025.xlsx');
    await writeFile(file, await bookingsWorkbook([FLEET[0].id, FLEET[1].id]));
    await page.goto(`${base}/#/year/${year}`);
    await page.waitForSelector('#year-table tbody tr');
    // An admin's token saved as the token prompt saves it.
    await page.evaluate((token) => (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } }).localStorage.setItem('jishi.token', token), ADMIN_TOKEN);
    await page.reload();
    await page.waitForSelector('#year-table tbody tr');
    await importBookings(file, '#bookings-summary.ok');
    expect(await page.textContent('#bookings-summary')).toBe('bookings-2025.xlsx: 2 imported, 0 already there, 1 bad row(s) left out.');
    expect(await page.textContent('#bookings-errors tr[data-line="5"]')).toContain('NOPE-9');
    expect(await page.textContent('#bookings-warnings')).toContain('read sheet "预约记录" of the workbook');
    await page.click('#forget-token');
  });

  it('ends open event streams when the collector closes', async () => {
    await page.goto(`${base}/`);
    await page.waitForSelector('#conn[data-state="live"]');
    await agent.stop();
    const started = Date.now();
    await collector.close();
    expect(Date.now() - started).toBeLessThan(5000);
    await page.waitForSelector('#conn[data-state="reconnecting"]');
  });
});
