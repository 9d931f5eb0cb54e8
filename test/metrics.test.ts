import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock.ts';
import { JishiError } from '../common/errors.ts';
import { silentLogger } from '../common/log.ts';
import { INGEST_PATH, type Sample } from '../common/wire.ts';
import { buildApp, type BuildAppOptions, type CollectorApp } from '../collector/app.ts';
import { sha256Hex } from '../collector/auth.ts';
import { EngineRunner } from '../collector/engine-runner.ts';
import { resolveParams } from '../collector/engine/params.ts';
import { DEFAULT_TIME_ZONE } from '../collector/engine/time-zone.ts';
import type { ForwarderStatus } from '../collector/influx/forwarder.ts';
import { escapeHelp, escapeLabelValue, formatValue, MetricsRegistry, PROMETHEUS_CONTENT_TYPE } from '../collector/metrics.ts';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';
import type { Store } from '../collector/store/store.ts';
import { batch, T0 } from './helpers/batches.ts';

const TOKEN = 'jishi_test-token-metrics-1';
const auth = { authorization: `Bearer ${TOKEN}` };
const s = (ts: number, power: number): Sample => ({ instrument_id: 'MS-1', ts, readings: { power_w: power } });

/** Every sample line of a text exposition: name, labels, value. Fails on a line that is not valid 0.0.4. */
function parseExposition(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  expect(text.endsWith('\n')).toBe(true);
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  const typed = new Map<string, string>();
  for (const line of text.slice(0, -1).split('\n')) {
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (comment) {
      if (comment[1] === 'TYPE') {
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(comment[3]);
        expect(typed.has(comment[2]!), `TYPE of ${comment[2]} twice`).toBe(false);
        typed.set(comment[2]!, comment[3]!);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)$/.exec(line);
    expect(m, `not a sample line: ${JSON.stringify(line)}`).not.toBeNull();
    const labels: Record<string, string> = {};
    for (const l of (m![2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const raw = m![3]!;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    expect(raw === 'NaN' || !Number.isNaN(value), `value ${raw}`).toBe(true);
    const family = m![1]!.replace(/_(bucket|sum|count)$/, '');
    expect(typed.has(m![1]!) || typed.get(family) === 'histogram', `sample of ${m![1]} before its TYPE`).toBe(true);
    samples.push({ name: m![1]!, labels, value });
  }
  return samples;
}

function valueOf(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  return parseExposition(text).find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value;
}

describe('metrics registry', () => {
  it('escapes HELP text and label values as the text format requires', () => {
    expect(escapeHelp('a\\b\nc "d"')).toBe('a\\\\b\\nc "d"');
    expect(escapeLabelValue('a\\b\nc "d"')).toBe('a\\\\b\\nc \\"d\\"');
    expect([NaN, Infinity, -Infinity, 0.25, 3, 1e21].map(formatValue)).toEqual(['NaN', '+Inf', '-Inf', '0.25', '3', '1e+21']);
  });

  it('renders counters, gauges and histograms with HELP and TYPE lines', () => {
    const r = new MetricsRegistry();
    const c = r.counter({ name: 'x_requests_total', help: 'Requests\nby path', labelNames: ['path'] });
    c.inc({ path: '/a"b\\c\nd' });
    c.inc({ path: '/a"b\\c\nd' }, 2);
    c.inc({ path: '/e' });
    r.gauge({ name: 'x_temperature', help: 'T' }).set({}, -1.5);
    const h = r.histogram({ name: 'x_seconds', help: 'Durations', buckets: [0.1, 1] });
    for (const v of [0.05, 0.1, 0.5, 3]) h.observe({}, v);
    r.counter({ name: 'x_empty_total', help: 'Nothing yet' });
    const text = r.render();
    expect(text).toBe(
      [
        '# HELP x_requests_total Requests\\nby path',
        '# TYPE x_requests_total counter',
        'x_requests_total{path="/a\\"b\\\\c\\nd"} 3',
        'x_requests_total{path="/e"} 1',
        '# HELP x_temperature T',
        '# TYPE x_temperature gauge',
        'x_temperature -1.5',
        '# HELP x_seconds Durations',
        '# TYPE x_seconds histogram',
        'x_seconds_bucket{le="0.1"} 2',
        'x_seconds_bucket{le="1"} 3',
        'x_seconds_bucket{le="+Inf"} 4',
        'x_seconds_sum 3.65',
        'x_seconds_count 4',
        '# HELP x_empty_total Nothing yet',
        '# TYPE x_empty_total counter',
        'x_empty_total 0',
        '',
      ].join('\n'),
    );
    const parsed = parseExposition(text);
    expect(parsed.find((p) => p.name === 'x_requests_total' && p.value === 3)?.labels).toEqual({ path: '/a"b\\c\nd' });
  });

  it('refuses what Prometheus would not take', () => {
    const r = new MetricsRegistry();
    expect(() => r.counter({ name: 'bad-name', help: '' })).toThrow(/metric name/);
    expect(() => r.counter({ name: 'ok_total', help: '', labelNames: ['le'] })).toThrow(/label name/);
    const c = r.counter({ name: 'ok_total', help: '', labelNames: ['a'] });
    expect(() => r.counter({ name: 'ok_total', help: '' })).toThrow(/twice/);
    expect(() => c.inc({ a: 'x' }, -1)).toThrow(/only goes up/);
    expect(() => c.inc({ b: 'x' })).toThrow(/takes the labels/);
    expect(() => c.inc({})).toThrow(/takes the labels/);
    expect(() => r.histogram({ name: 'h', help: '', buckets: [1, 1] })).toThrow(/increasing/);
  });

  it('reports a failing collect callback and still renders the rest', () => {
    const r = new MetricsRegistry();
    r.gauge({ name: 'g', help: '' }).set({}, 1);
    r.onCollect(() => {
      throw new Error('store is gone');
    });
    const errors: unknown[] = [];
    expect(r.render((e) => errors.push(e))).toContain('g 1');
    expect(errors).toHaveLength(1);
  });
});

describe('GET /metrics', () => {
  let store: Store;
  let clock: ManualClock;
  let app: CollectorApp;
  let failWrites: boolean;

  async function start(extra: Partial<BuildAppOptions> = {}): Promise<void> {
    store = openSqliteStore(':memory:');
    store.upsertAgent('lab-pc-1', sha256Hex(TOKEN));
    store.upsertAgent('lab-pc-2', sha256Hex(`${TOKEN}-2`));
    clock = new ManualClock(T0 + 1000);
    failWrites = false;
    const real = store;
    // The store as the app sees it: ingest fails with STORE_UNAVAILABLE while failWrites is set.
    const seen = new Proxy(real, {
      get(target, prop) {
        if (prop === 'ingest' && failWrites) {
          return () => {
            throw new JishiError('JISHI_ERR_STORE_UNAVAILABLE', 'disk I/O error');
          };
        }
        const v: unknown = Reflect.get(target, prop);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const engine = new EngineRunner({
      store: store.engine,
      params: () => resolveParams({ min_dwell_s: 0 }),
      timeZone: DEFAULT_TIME_ZONE,
      clock,
      logger: silentLogger(),
    });
    app = buildApp({ store: seen, clock, engine, clockSkewThresholdMs: 86_400_000, ...extra });
    await app.ready();
  }

  beforeEach(() => start());
  afterEach(async () => {
    await app.close();
    store.close();
  });

  const scrape = async (): Promise<string> => {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(PROMETHEUS_CONTENT_TYPE);
    return res.body;
  };

  it('lists every documented metric in valid text format', async () => {
    const text = await scrape();
    parseExposition(text);
    const doc = readFileSync(new URL('../docs/observability.md', import.meta.url), 'utf8');
    const families = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1]!);
    for (const name of [
      'jishi_up',
      'jishi_ingest_batches_total',
      'jishi_ingest_samples_total',
      'jishi_ingest_batch_duration_seconds',
      'jishi_http_requests_total',
      'jishi_http_errors_total',
      'jishi_store_write_errors_total',
      'jishi_agents_seen',
      'jishi_process_resident_memory_bytes',
      'jishi_process_cpu_seconds_total',
      'jishi_store_bytes',
      'jishi_store_free_bytes',
    ]) {
      expect(families).toContain(name);
    }
    // docs/observability.md documents every metric the collector exposes (jishi_forwarder_pending too).
    for (const name of [...families, 'jishi_forwarder_pending']) expect(doc, name).toContain(`\`${name}\``);
    expect(valueOf(text, 'jishi_up')).toBe(1);
    expect(valueOf(text, 'jishi_process_resident_memory_bytes')).toBeGreaterThan(1e6);
    expect(valueOf(text, 'jishi_process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(valueOf(text, 'jishi_store_bytes')).toBeGreaterThan(4096); // the migrated schema's pages
    expect(valueOf(text, 'jishi_store_free_bytes')).toBeGreaterThanOrEqual(0);
    expect(valueOf(text, 'jishi_ingest_batches_total', { result: 'accepted' })).toBe(0);
    expect(valueOf(text, 'jishi_ingest_batch_duration_seconds_bucket', { le: '+Inf' })).toBe(0);
    // No forwarder configured: no backlog gauge.
    expect(families).not.toContain('jishi_forwarder_pending');
  });

  it('counts requests by route pattern, method and status, and errors by code', async () => {
    await app.inject({ method: 'GET', url: '/healthz' });
    await app.inject({ method: 'GET', url: '/healthz' });
    await app.inject({ method: 'GET', url: '/no/such/route?x=1' });
    await app.inject({ method: 'GET', url: '/another/unknown/path' });
    await app.inject({ method: 'GET', url: '/api/v1/utilization?group=fortnight' });
    await app.inject({ method: 'GET', url: '/api/v1/registry/%zz' });
    const text = await scrape();
    expect(valueOf(text, 'jishi_http_requests_total', { route: '/healthz', method: 'GET', status: '200' })).toBe(2);
    // Unmatched paths share one label value, so a scan cannot grow the series without bound.
    expect(valueOf(text, 'jishi_http_requests_total', { route: '(unmatched)', method: 'GET', status: '404' })).toBe(2);
    expect(valueOf(text, 'jishi_http_requests_total', { route: '/api/v1/utilization', method: 'GET', status: '400' })).toBe(1);
    expect(valueOf(text, 'jishi_http_requests_total', { route: '(unmatched)', method: 'GET', status: '400' })).toBe(1);
    expect(valueOf(text, 'jishi_http_errors_total', { code: 'JISHI_ERR_NOT_FOUND' })).toBe(2);
    expect(valueOf(text, 'jishi_http_errors_total', { code: 'JISHI_ERR_VALIDATION' })).toBe(2);
    expect(text).not.toMatch(/no\/such\/route/);
  });

  it('counts rejected ingest requests and their error codes', async () => {
    const good = batch('b1', [s(T0, 1800)]);
    await app.inject({ method: 'POST', url: INGEST_PATH, payload: good });
    await app.inject({ method: 'POST', url: INGEST_PATH, headers: { ...auth, 'content-type': 'application/json' }, payload: '{"wire_version":' });
    await app.inject({ method: 'POST', url: INGEST_PATH, headers: auth, payload: { ...good, extra: 1 } });
    const text = await scrape();
    expect(valueOf(text, 'jishi_ingest_batches_total', { result: 'rejected' })).toBe(3);
    expect(valueOf(text, 'jishi_http_errors_total', { code: 'JISHI_ERR_UNAUTHORIZED' })).toBe(1);
    expect(valueOf(text, 'jishi_http_errors_total', { code: 'JISHI_ERR_MALFORMED_JSON' })).toBe(1);
    expect(valueOf(text, 'jishi_http_errors_total', { code: 'JISHI_ERR_VALIDATION' })).toBe(1);
    expect(valueOf(text, 'jishi_ingest_batch_duration_seconds_count')).toBe(0);
  });

  it('times stored batches, and counts store write failures', async () => {
    expect((await app.inject({ method: 'POST', url: INGEST_PATH, headers: auth, payload: batch('b1', [s(T0, 1800)]) })).statusCode).toBe(200);
    failWrites = true;
    const failed = await app.inject({ method: 'POST', url: INGEST_PATH, headers: auth, payload: batch('b2', [s(T0 + 500, 1800)], { seq: 2 }) });
    expect(failed.statusCode).toBe(503);
    const text = await scrape();
    expect(valueOf(text, 'jishi_ingest_batch_duration_seconds_count')).toBe(1);
    expect(valueOf(text, 'jishi_ingest_batch_duration_seconds_bucket', { le: '+Inf' })).toBe(1);
    expect(valueOf(text, 'jishi_store_write_errors_total')).toBe(1);
    expect(valueOf(text, 'jishi_http_errors_total', { code: 'JISHI_ERR_STORE_UNAVAILABLE' })).toBe(1);
    expect(valueOf(text, 'jishi_ingest_batches_total', { result: 'rejected' })).toBe(1);
  });

  it('app.metrics.ingest counts stored and duplicate batches and their samples', async () => {
    app.metrics.ingest({ duplicate: false, samples: 3 });
    app.metrics.ingest({ duplicate: false, samples: 2 });
    app.metrics.ingest({ duplicate: true, samples: 0 });
    app.metrics.rejectedSamples([{ code: 'JISHI_ERR_SAMPLE_TIME', count: 4 }]);
    const text = await scrape();
    expect(valueOf(text, 'jishi_ingest_batches_total', { result: 'accepted' })).toBe(2);
    expect(valueOf(text, 'jishi_ingest_batches_total', { result: 'duplicate' })).toBe(1);
    expect(valueOf(text, 'jishi_ingest_samples_total')).toBe(5);
    expect(valueOf(text, 'jishi_ingest_samples_rejected_total', { code: 'JISHI_ERR_SAMPLE_TIME' })).toBe(4);
  });

  // Turns on by itself once the ingest route reports its results (app.metrics.ingest in collector/routes/ingest.ts).
  const INGEST_WIRED = readFileSync(new URL('../collector/routes/ingest.ts', import.meta.url), 'utf8').includes('metrics.ingest(');
  it.skipIf(!INGEST_WIRED)('the ingest route reports stored and duplicate batches', async () => {
    const b = batch('b1', [s(T0, 1800), s(T0 + 500, 2500)]);
    expect((await app.inject({ method: 'POST', url: INGEST_PATH, headers: auth, payload: b })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: INGEST_PATH, headers: auth, payload: b })).statusCode).toBe(200);
    const text = await scrape();
    expect(valueOf(text, 'jishi_ingest_batches_total', { result: 'accepted' })).toBe(1);
    expect(valueOf(text, 'jishi_ingest_batches_total', { result: 'duplicate' })).toBe(1);
    expect(valueOf(text, 'jishi_ingest_samples_total')).toBe(2);
    expect(valueOf(text, 'jishi_ingest_batch_duration_seconds_count')).toBe(2);
  });

  it('counts agents seen in the last 5 minutes', async () => {
    expect(valueOf(await scrape(), 'jishi_agents_seen')).toBe(0);
    expect((await app.inject({ method: 'POST', url: INGEST_PATH, headers: auth, payload: batch('b1', [s(T0, 1800)]) })).statusCode).toBe(200);
    expect(valueOf(await scrape(), 'jishi_agents_seen')).toBe(1);
    clock.advance(5 * 60_000 + 1);
    expect(valueOf(await scrape(), 'jishi_agents_seen')).toBe(0);
  });

  it('shows the forwarder backlog when a forwarder is configured', async () => {
    await app.close();
    store.close();
    let pending = 42;
    const status = (): ForwarderStatus => ({ pending, lastError: null, lastSuccessAt: null, forwarded: 0, skipped: 0 });
    await start({ forwarderStatus: status });
    expect(valueOf(await scrape(), 'jishi_forwarder_pending')).toBe(42);
    pending = 7;
    expect(valueOf(await scrape(), 'jishi_forwarder_pending')).toBe(7);
  });

  it('counts malformed HTTP answered on the socket', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.end('NOT HTTP AT ALL\r\n\r\n'));
      let data = '';
      socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ statusCode: 400, code: 'JISHI_ERR_MALFORMED_HTTP' });
    expect(valueOf(await scrape(), 'jishi_http_errors_total', { code: 'JISHI_ERR_MALFORMED_HTTP' })).toBe(1);
  });
});
