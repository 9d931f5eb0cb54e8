/**
 * The InfluxDB 2.x/3.x sink (collector/influx/v2-sink.ts) against a small local server that plays InfluxDB 2's
 * HTTP API (write, buckets, delete) and records what it receives; then the recorded line protocol is replayed to a
 * real influxd 1.x (which has no /api/v2/write) to prove that a real InfluxDB accepts every line and stores the
 * same measurements, tags, field values and field types as the 1.x sink writes.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { IPoint } from 'influx';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../common/net.ts';
import { createInfluxForwarder } from '../collector/influx/forwarder.ts';
import { toLineProtocol } from '../collector/influx/line-protocol.ts';
import { agentReportPoint, infoPoint, livePoint, readingToPoint, resultToPoint } from '../collector/influx/points.ts';
import { createInfluxV1Sink, type InfluxSink } from '../collector/influx/sink.ts';
import { createInfluxV2Sink, DELETE_STOP, deletePredicate, type InfluxV2Options } from '../collector/influx/v2-sink.ts';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';
import type { ResultLogEntry } from '../collector/store/engine-store.ts';
import type { StoredReading } from '../collector/store/store.ts';
import { batch, T0 } from './helpers/batches.ts';
import { influxdAvailable, requireOrSkip, startInfluxd, type RunningInfluxd } from './helpers/influxd.ts';
import { until } from './helpers/wait.ts';

// ---------------------------------------------------------------------------------------------------------------
// A fake InfluxDB 2 HTTP API

interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The body as text, gunzipped when it came gzipped. */
  body: string;
  gzipped: boolean;
}

type Reply = (r: Recorded, res: ServerResponse) => void;

interface FakeBucket {
  id: string;
  name: string;
  orgID: string;
}

const ORGS: Record<string, string> = { lab: '0000000000000001', other: '0000000000000002' };

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

/** What InfluxDB 2.x OSS answers (error bodies `{code, message}`). */
function influx2(buckets: FakeBucket[]): Reply {
  return (r, res) => {
    if (r.method === 'POST' && r.path === '/api/v2/write') {
      res.writeHead(204);
      res.end();
    } else if (r.method === 'GET' && r.path === '/api/v2/buckets') {
      const org = r.query.get('org');
      if (org !== null && ORGS[org] === undefined) {
        json(res, 404, { code: 'not found', message: `organization name "${org}" not found` });
        return;
      }
      const name = r.query.get('name');
      const list = buckets.filter((b) => (org === null || b.orgID === ORGS[org]) && (name === null || b.name === name));
      // Like 2.x, the system buckets are added to a list that has none, whatever the name filter.
      const system = [
        { id: '000000000000000a', name: '_tasks', type: 'system', orgID: org === null ? undefined : ORGS[org] },
        { id: '000000000000000b', name: '_monitoring', type: 'system', orgID: org === null ? undefined : ORGS[org] },
      ];
      json(res, 200, { links: { self: '/api/v2/buckets' }, buckets: [...list.map((b) => ({ ...b, type: 'user', retentionRules: [] })), ...system] });
    } else if (r.method === 'POST' && r.path === '/api/v2/delete') {
      res.writeHead(204);
      res.end();
    } else {
      json(res, 404, { code: 'not found', message: 'path not found' });
    }
  };
}

interface FakeInflux {
  url: string;
  requests: Recorded[];
  /** Replaces how requests are answered (default: influx2 with bucket `jishi` in org `lab`). */
  reply: Reply;
  writes(): Recorded[];
  close(): Promise<void>;
}

async function startFakeInflux(): Promise<FakeInflux> {
  const fake = {
    url: '',
    requests: [] as Recorded[],
    reply: influx2([{ id: '00000000000000b1', name: 'jishi', orgID: ORGS.lab! }]),
    writes: () => fake.requests.filter((r) => r.path === '/api/v2/write'),
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const gzipped = req.headers['content-encoding'] === 'gzip';
      const raw = Buffer.concat(chunks);
      const u = new URL(req.url ?? '/', 'http://fake');
      const r: Recorded = {
        method: req.method ?? '',
        path: u.pathname,
        query: u.searchParams,
        headers: req.headers,
        body: (gzipped ? gunzipSync(raw) : raw).toString('utf8'),
        gzipped,
      };
      fake.requests.push(r);
      fake.reply(r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}

// ---------------------------------------------------------------------------------------------------------------
// Points of every measurement, built by the real functions of collector/influx/points.ts

const T = Date.UTC(2025, 2, 3, 8, 0, 0);

function reading(instrument_id: string, ts: number, readings: Record<string, number>, extra: { status?: string; error?: string } = {}): IPoint {
  const r: StoredReading = { id: 1, instrument_id, agent_id: 'lab-pc-1', ts, readings, received_at: ts + 500, ...extra };
  const p = readingToPoint(r).point;
  if (!p) throw new Error('no point');
  return p;
}

function result(entry: ResultLogEntry): IPoint {
  const p = resultToPoint(entry);
  if (!p) throw new Error('no point');
  return p;
}

/** Write calls in order: a field's first value (450, a whole number) comes before a later 450.5. */
function fixtureCalls(): IPoint[][] {
  const midnight = Date.UTC(2025, 2, 2, 16, 0, 0); // 00:00 in Shanghai
  return [
    [
      reading('FCM-1', T, { power_w: 450, energy_kwh: 12.5, pressure_hpa: 1e-7, power_factor: -0.3 }),
      reading('FCM-1', T + 1000, { power_w: 151.5 }, { status: 'active: RUN "fast" C:\\data\\ 运行中' }),
      reading('MS-1', T + 2000, {}, { error: 'JISHI_ERR_DEVICE_TIMEOUT' }),
      reading('MS-1', T + 3000, { power_w: 0 }, { status: 'line1\nline2, a=b \\' }),
    ],
    [reading('FCM-1', T + 4000, { power_w: 450.5, energy_kwh: 13 })],
    [
      result({ id: 1, instrument_id: 'FCM-1', kind: 'interval', payload: { start: T, end: T + 600_000, state: 'active', energy_kwh: 0.075 } }),
      result({ id: 2, instrument_id: 'FCM-1', kind: 'interval', payload: { start: T + 600_000, end: T + 601_500, state: 'standby', energy_kwh: 0 } }),
      result({
        id: 3,
        instrument_id: 'FCM-1',
        kind: 'session',
        payload: { start: T - 300_000, end: T + 900_000, active_s: 600, warmup_s: 300, post_s: 300, energy_kwh: 0.1 + 0.2 },
      }),
      result({
        id: 4,
        instrument_id: 'FCM-1',
        kind: 'rollup',
        payload: {
          day: '2025-03-03',
          start: midnight,
          period_s: 86400,
          off_s: 28800,
          standby_s: 28800,
          active_s: 14400,
          fault_s: 0,
          unknown_s: 14400,
          effective_s: 16200,
          sessions: 2,
          energy_kwh: 12.25,
          coverage: 2 / 3,
        },
      }),
    ],
    [livePoint('FCM-1', 'active', T - 90_500, T + 5000), livePoint('MS-1', 'unknown', null, T + 5000)],
    [
      infoPoint(
        { id: 'FCM-1', name: '流式细胞仪 "Aria" \\ II', lab: 'Room 3, Bldg=A', owner_unit: '生命科学学院 平台', rated_hours: 1600, original_value_cny: 3_200_000, shared: true },
        T + 6000,
      ),
      infoPoint({ id: 'MS-1', rated_hours: 1200, shared: false }, T + 6000),
    ],
    [
      agentReportPoint({
        id: 1,
        agent_id: 'lab-pc-1',
        sent_at: T,
        received_at: T + 1500,
        samples: 12,
        clock_offset_ms: -250,
        status: {
          started_at: T - 3_600_000,
          outbox_depth: 3,
          outbox_oldest_ts: T - 60_000,
          dropped_samples: 0,
          lost_samples: 0,
          device_errors: 2,
          failing_instruments: ['MS-1'],
          uplink_failures: 1,
        },
      }),
      agentReportPoint({ id: 2, agent_id: 'lab-pc-2', sent_at: T, received_at: T + 2500, samples: 1, clock_offset_ms: 0, status: null }),
    ],
  ];
}

const MEASUREMENTS = ['reading', 'instrument_state', 'instrument_session', 'instrument_daily', 'instrument_live', 'instrument_info', 'agent_health'];

// ---------------------------------------------------------------------------------------------------------------

describe('InfluxDB 2.x/3.x sink against a fake InfluxDB 2 API', () => {
  let fake: FakeInflux;
  const sink = (o: Partial<InfluxV2Options> = {}): InfluxSink =>
    createInfluxV2Sink({ version: 2, url: fake.url, token: 'secret-token', org: 'lab', bucket: 'jishi', requestTimeoutMs: 2000, ...o });

  beforeEach(async () => {
    fake = await startFakeInflux();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('names the target without the token', () => {
    const s2 = createInfluxV2Sink({ version: 2, url: 'http://influx.lab:8086', token: 'secret-token', org: 'lab', bucket: 'jishi' });
    expect(s2.target).toBe('InfluxDB 2 http://influx.lab:8086 bucket jishi (org lab)');
    const s3 = createInfluxV2Sink({ version: 3, url: 'https://influx3.lab/proxy/', token: 'secret-token', bucket: 'jishi' });
    expect(s3.target).toBe('InfluxDB 3 https://influx3.lab/proxy bucket jishi');
    expect(s2.target + s3.target).not.toContain('secret');
  });

  it('writes line protocol with ms timestamps and float fields, in one request per write, with the token', async () => {
    const s = sink();
    await s.write([reading('FCM-1', T, { power_w: 450, energy_kwh: 12.5 }, { status: 'RUN' })]);
    expect(fake.requests).toHaveLength(1);
    const w = fake.requests[0]!;
    expect(w.method).toBe('POST');
    expect(w.path).toBe('/api/v2/write');
    expect(Object.fromEntries(w.query)).toEqual({ org: 'lab', bucket: 'jishi', precision: 'ms' });
    expect(w.headers.authorization).toBe('Token secret-token');
    expect(w.body).toBe(`reading,agent_id=lab-pc-1,instrument_id=FCM-1 energy_kwh=12.5,power_w=450,status="RUN" ${T}`);
  });

  it('escapes tag values and string fields, writes booleans, keeps every measurement of docs/metric-schema.md', () => {
    const info = infoPoint({ id: 'FCM-1', name: '流式细胞仪 "Aria" \\ II', lab: 'Room 3, Bldg=A', owner_unit: '生命科学学院 平台', rated_hours: 1600, shared: true }, T);
    expect(toLineProtocol(info)).toBe(
      'instrument_info,instrument_id=FCM-1,lab=Room\\ 3\\,\\ Bldg\\=A,owner_unit=生命科学学院\\ 平台 ' +
        `name="流式细胞仪 \\"Aria\\" \\\\ II",original_value_cny=0,rated_hours=1600,shared=T ${T}`,
    );
    expect(toLineProtocol(livePoint('X', 'standby', null, 0))).toBe('instrument_live,instrument_id=X since_s=0,state="standby",state_code=1 0');
    const lines = fixtureCalls().flat().map(toLineProtocol);
    expect(lines.every((l) => !/=-?\d+i\b/.test(l))).toBe(true); // never an integer field
    expect(new Set(lines.map((l) => l.slice(0, l.indexOf(','))))).toEqual(new Set(MEASUREMENTS));
  });

  it('sends a large batch in one request, gzipped, without the client batching it', async () => {
    const points = Array.from({ length: 3000 }, (_, i) => reading('SEQ-7', T + i, { power_w: i + 0.5 }));
    await sink().write(points);
    expect(fake.writes()).toHaveLength(1);
    expect(fake.writes()[0]!.gzipped).toBe(true);
    expect(fake.writes()[0]!.body.split('\n')).toHaveLength(3000);
  });

  it('rejects a write InfluxDB refuses (400, 422) as rejected, without retrying', async () => {
    const s = sink();
    fake.reply = (_r, res) =>
      json(res, 400, { code: 'invalid', message: "unable to parse 'reading,instrument_id=X power_w=abc': invalid number" });
    const err400 = await s.write([reading('X', T, { power_w: 1 })]).catch((e: unknown) => e);
    expect(err400).toBeInstanceOf(Error);
    expect((err400 as Error).message).toMatch(/unable to parse/);
    expect(s.isRejected(err400)).toBe(true);

    fake.reply = (_r, res) => json(res, 422, { code: 'unprocessable entity', message: 'failure writing points to database: partial write: points beyond retention policy dropped=1' });
    const err422 = await s.write([reading('X', 0, { power_w: 1 })]).catch((e: unknown) => e);
    expect(s.isRejected(err422)).toBe(true);
    // InfluxDB 3's error body has no `message`.
    fake.reply = (_r, res) => json(res, 400, { error: 'partial write of line protocol occurred', data: [{ original_line: 'x', line_number: 1, error_message: 'bad' }] });
    const err3 = await sink({ version: 3 }).write([reading('X', T, { power_w: 1 })]).catch((e: unknown) => e);
    expect((err3 as Error).message).toMatch(/partial write of line protocol/);
    expect(sink({ version: 3 }).isRejected(err3)).toBe(true);

    await new Promise((r) => setTimeout(r, 200));
    expect(fake.writes()).toHaveLength(3);
  });

  it('fails (not rejected) on 500, a timeout and a refused connection, without retrying', async () => {
    const s = sink({ requestTimeoutMs: 300 });
    fake.reply = (_r, res) => json(res, 500, { code: 'internal error', message: 'engine: cache-max-memory-size exceeded' });
    const e500 = await s.write([reading('X', T, { power_w: 1 })]).catch((e: unknown) => e);
    expect(e500).toBeInstanceOf(Error);
    expect(s.isRejected(e500)).toBe(false);

    fake.reply = () => {}; // never answers
    const started = Date.now();
    const eTimeout = await s.write([reading('X', T, { power_w: 1 })]).catch((e: unknown) => e);
    expect(eTimeout).toBeInstanceOf(Error);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(s.isRejected(eTimeout)).toBe(false);

    const dead = createInfluxV2Sink({ version: 2, url: `http://127.0.0.1:${await freePort()}`, token: 't', org: 'lab', bucket: 'jishi' });
    const eRefused = await dead.write([reading('X', T, { power_w: 1 })]).catch((e: unknown) => e);
    expect(String((eRefused as Error).message) + String((eRefused as NodeJS.ErrnoException).code)).toMatch(/ECONNREFUSED/);
    expect(dead.isRejected(eRefused)).toBe(false);

    await new Promise((r) => setTimeout(r, 200));
    expect(fake.writes()).toHaveLength(2);
  });

  it('rejects points that cannot be written, before sending anything', async () => {
    const s = sink();
    for (const bad of [
      { measurement: 'reading', tags: { instrument_id: 'X' }, fields: { power_w: Number.NaN }, timestamp: String(T) },
      { measurement: 'reading', tags: { instrument_id: 'X' }, fields: { power_w: Number.POSITIVE_INFINITY }, timestamp: String(T) },
      { measurement: 'reading', tags: { instrument_id: 'X' }, fields: {}, timestamp: String(T) },
      { measurement: 'reading', tags: { instrument_id: '' }, fields: { power_w: 1 }, timestamp: String(T) },
      { measurement: 'reading', tags: { instrument_id: 'X' }, fields: { power_w: 1 }, timestamp: '2025-03-03' },
    ] satisfies IPoint[]) {
      const err = await s.write([reading('OK', T, { power_w: 1 }), bad]).catch((e: unknown) => e);
      expect(s.isRejected(err)).toBe(true);
    }
    expect(fake.requests).toHaveLength(0);
  });

  it('ensureReady (2.x) finds the bucket by name and org and never creates one', async () => {
    await sink().ensureReady();
    expect(fake.requests.map((r) => [r.method, r.path, Object.fromEntries(r.query), r.headers.authorization])).toEqual([
      ['GET', '/api/v2/buckets', { name: 'jishi', org: 'lab' }, 'Token secret-token'],
    ]);
    // Only the system buckets come back for an unknown name (as 2.x answers).
    await expect(sink({ bucket: 'nope' }).ensureReady()).rejects.toThrow(/bucket "nope" not found in org "lab".*does not create buckets/);
    // An unknown org is a 404.
    await expect(sink({ org: 'physics' }).ensureReady()).rejects.toThrow(/bucket "jishi" not found in org "physics" \(organization name "physics" not found\)/);
    // The bucket exists, but in another org.
    await expect(sink({ org: 'other' }).ensureReady()).rejects.toThrow(/bucket "jishi" not found in org "other"/);
    fake.reply = (_r, res) => json(res, 401, { code: 'unauthorized', message: 'unauthorized access' });
    await expect(sink().ensureReady()).rejects.toThrow(/token was refused \(HTTP 401: unauthorized access\)/);
    expect(fake.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('ensureReady (2.x) without an org uses the org of the bucket for writes and deletes', async () => {
    const s = sink({ org: undefined });
    expect(s.target).toBe(`InfluxDB 2 ${fake.url} bucket jishi`);
    await s.ensureReady();
    expect(Object.fromEntries(fake.requests[0]!.query)).toEqual({ name: 'jishi' });
    await s.write([reading('X', T, { power_w: 1 })]);
    expect(Object.fromEntries(fake.writes()[0]!.query)).toEqual({ orgID: ORGS.lab, bucket: 'jishi', precision: 'ms' });
    await s.deleteFrom('instrument_state', 'X', T);
    expect(Object.fromEntries(fake.requests.at(-1)!.query)).toEqual({ orgID: ORGS.lab, bucket: 'jishi' });

    fake.reply = influx2([
      { id: '00000000000000b1', name: 'jishi', orgID: ORGS.lab! },
      { id: '00000000000000b2', name: 'jishi', orgID: ORGS.other! },
    ]);
    await expect(sink({ org: undefined }).ensureReady()).rejects.toThrow(/exists in 2 orgs: set influx.org/);
  });

  it('deleteFrom (2.x) posts the predicate from fromMs on', async () => {
    expect(await sink().deleteFrom('instrument_session', 'FCM-1', T + 123)).toBe(true);
    const d = fake.requests[0]!;
    expect([d.method, d.path, Object.fromEntries(d.query), d.headers.authorization]).toEqual(['POST', '/api/v2/delete', { org: 'lab', bucket: 'jishi' }, 'Token secret-token']);
    expect(JSON.parse(d.body)).toEqual({
      start: '2025-03-03T08:00:00.123Z',
      stop: DELETE_STOP,
      predicate: '_measurement="instrument_session" AND instrument_id="FCM-1"',
    });
    expect(Date.parse(DELETE_STOP)).toBeGreaterThan(Date.UTC(2200, 0, 1));
    expect(deletePredicate('instrument_state', 'A "B" \\C')).toBe('_measurement="instrument_state" AND instrument_id="A \\"B\\" \\\\C"');

    fake.reply = (_r, res) => json(res, 400, { code: 'invalid', message: 'invalid request; error parsing predicate' });
    await expect(sink().deleteFrom('instrument_state', 'FCM-1', T)).rejects.toThrow(/error parsing predicate/);
  });

  it('3.x: no org parameter, nothing to check, no delete', async () => {
    const s = sink({ version: 3, org: undefined });
    await s.ensureReady();
    expect(fake.requests).toEqual([]);
    expect(await s.deleteFrom('instrument_state', 'FCM-1', T)).toBe(false);
    expect(fake.requests).toEqual([]);
    await s.write([reading('X', T, { power_w: 1 })]);
    expect(Object.fromEntries(fake.writes()[0]!.query)).toEqual({ bucket: 'jishi', precision: 'ms' });
    // An org, when configured, is passed on (3.x ignores it).
    await sink({ version: 3, org: 'lab' }).write([reading('X', T, { power_w: 1 })]);
    expect(Object.fromEntries(fake.writes()[1]!.query)).toEqual({ org: 'lab', bucket: 'jishi', precision: 'ms' });
  });

  it('drives the forwarder: a refused reading is skipped, a 500 is retried, nothing is lost', async () => {
    let failNext = 1;
    const base = influx2([{ id: '00000000000000b1', name: 'jishi', orgID: ORGS.lab! }]);
    fake.reply = (r, res) => {
      if (r.path === '/api/v2/write' && failNext > 0) {
        failNext--;
        json(res, 500, { code: 'internal error', message: 'unavailable' });
      } else if (r.path === '/api/v2/write' && r.body.includes('power_x_w')) {
        json(res, 400, { code: 'invalid', message: 'partial write: field type conflict: input field "power_x_w" on measurement "reading" is type float, already exists as type string dropped=1' });
      } else base(r, res);
    };
    const store = openSqliteStore(':memory:');
    const f = createInfluxForwarder({ store, sink: sink(), intervalMs: 20, retryBaseMs: 20, retryMaxMs: 50 });
    try {
      store.ingest(
        batch('b1', [
          { instrument_id: 'X-1', ts: T0, readings: { power_w: 1 } },
          { instrument_id: 'X-1', ts: T0 + 1, readings: { power_x_w: 2 } },
          { instrument_id: 'X-1', ts: T0 + 2, readings: { power_w: 3 } },
        ]),
        T0,
      );
      f.start();
      await until('forwarded', () => f.status().pending === 0 && f.status().forwarded === 2);
      expect(f.status()).toMatchObject({ forwarded: 2, skipped: 1, lastError: null });
      const written = fake
        .writes()
        .filter((w) => !w.body.includes('power_x_w'))
        .flatMap((w) => w.body.split('\n'));
      expect(written).toContain(`reading,agent_id=lab-pc-1,instrument_id=X-1 power_w=1 ${T0}`);
      expect(written).toContain(`reading,agent_id=lab-pc-1,instrument_id=X-1 power_w=3 ${T0 + 2}`);
    } finally {
      await f.stop();
      store.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Replay to a real InfluxDB

describe.skipIf(requireOrSkip('influxd', influxdAvailable()))('the v2 line protocol in a real InfluxDB (influxd 1.x)', () => {
  let influxd: RunningInfluxd;
  let fake: FakeInflux;

  const query = async (db: string, q: string): Promise<unknown> => {
    const res = await fetch(`${influxd.url}/query?db=${encodeURIComponent(db)}&epoch=ms&q=${encodeURIComponent(q)}`);
    expect(res.status).toBe(200);
    return res.json();
  };
  const createDatabase = async (db: string): Promise<void> => {
    const res = await fetch(`${influxd.url}/query?q=${encodeURIComponent(`CREATE DATABASE "${db}"`)}`, { method: 'POST' });
    expect(res.status).toBe(200);
  };
  /** Writes each recorded body to influxd like a 1.x client; every one must be accepted whole (204). */
  const replay = async (db: string, bodies: string[]): Promise<void> => {
    for (const body of bodies) {
      const res = await fetch(`${influxd.url}/write?db=${encodeURIComponent(db)}&precision=ms`, { method: 'POST', body });
      expect({ status: res.status, error: await res.text(), body }).toEqual({ status: 204, error: '', body });
    }
  };
  /** The v2 sink's request bodies for these write calls. */
  const recordV2 = async (calls: IPoint[][]): Promise<string[]> => {
    fake.requests.length = 0;
    const s = createInfluxV2Sink({ version: 2, url: fake.url, token: 't', org: 'lab', bucket: 'jishi' });
    for (const points of calls) await s.write(points);
    return fake.writes().map((w) => w.body);
  };
  interface Series {
    name: string;
    columns: string[];
    values: unknown[][];
  }
  const series = (raw: unknown): Series[] => (raw as { results: Array<{ series?: Series[] }> }).results[0]?.series ?? [];

  beforeAll(async () => {
    influxd = await startInfluxd();
    fake = await startFakeInflux();
  });
  afterAll(async () => {
    await fake?.close();
    await influxd?.stop();
  });

  it('accepts every line and stores the same measurements, tags, field values and types', async () => {
    const calls = fixtureCalls();
    const bodies = await recordV2(calls);
    expect(bodies).toHaveLength(calls.length);
    await createDatabase('v2_replay');
    await replay('v2_replay', bodies);

    for (const measurement of MEASUREMENTS) {
      const points = calls.flat().filter((p) => p.measurement === measurement);
      // Field types: numbers are floats (450 included), strings strings, booleans booleans.
      const types = new Map<string, string>();
      for (const p of points) {
        for (const [k, v] of Object.entries(p.fields ?? {})) types.set(k, typeof v === 'number' ? 'float' : typeof v);
      }
      const fieldKeys = series(await query('v2_replay', `SHOW FIELD KEYS FROM "${measurement}"`))[0]!;
      expect(Object.fromEntries(fieldKeys.values.map(([k, t]) => [k, t])), measurement).toEqual(Object.fromEntries(types));
      const tagKeys = series(await query('v2_replay', `SHOW TAG KEYS FROM "${measurement}"`))[0]!;
      expect(tagKeys.values.map(([k]) => k).sort(), measurement).toEqual([...new Set(points.flatMap((p) => Object.keys(p.tags ?? {})))].sort());

      // Every point comes back with its time, tags and field values.
      const rows = series(await query('v2_replay', `SELECT * FROM "${measurement}"`))[0]!;
      const stored = rows.values.map((v) => Object.fromEntries(rows.columns.map((c, i) => [c, v[i]]).filter(([, x]) => x !== null)));
      const expected = points.map((p) => ({ time: Number(p.timestamp), ...p.tags, ...p.fields }));
      const key = (r: Record<string, unknown>) => JSON.stringify([r.time, r.instrument_id, r.agent_id]);
      expect(stored.sort((a, b) => key(a).localeCompare(key(b))), measurement).toEqual(expected.sort((a, b) => key(a).localeCompare(key(b))));
    }
    // Spot checks of the awkward values.
    const info = series(await query('v2_replay', `SELECT * FROM instrument_info WHERE instrument_id = 'FCM-1'`))[0]!;
    const row = Object.fromEntries(info.columns.map((c, i) => [c, info.values[0]![i]]));
    expect(row).toMatchObject({ lab: 'Room 3, Bldg=A', owner_unit: '生命科学学院 平台', name: '流式细胞仪 "Aria" \\ II', shared: true });
    const readings = series(await query('v2_replay', `SELECT power_w, status FROM reading WHERE instrument_id = 'FCM-1'`))[0]!;
    expect(readings.values).toEqual([
      [T, 450, null],
      [T + 1000, 151.5, 'active: RUN "fast" C:\\data\\ 运行中'],
      [T + 4000, 450.5, null],
    ]);
  });

  it('a whole number written first makes a float field: a later fraction is accepted', async () => {
    const bodies = await recordV2([[reading('TYPE-1', T, { power_w: 450 })], [reading('TYPE-1', T + 1, { power_w: 450.5 })]]);
    expect(bodies).toEqual([`reading,agent_id=lab-pc-1,instrument_id=TYPE-1 power_w=450 ${T}`, `reading,agent_id=lab-pc-1,instrument_id=TYPE-1 power_w=450.5 ${T + 1}`]);
    await createDatabase('v2_types');
    await replay('v2_types', bodies.slice(0, 1));
    const keys = series(await query('v2_types', 'SHOW FIELD KEYS FROM reading'))[0]!;
    expect(keys.values).toEqual([['power_w', 'float']]);
    await replay('v2_types', bodies.slice(1));
    expect(series(await query('v2_types', 'SELECT power_w FROM reading'))[0]!.values).toEqual([
      [T, 450],
      [T + 1, 450.5],
    ]);
  });

  it('gives the same data as the 1.x sink for the same points', async () => {
    const calls = fixtureCalls();
    const v1 = createInfluxV1Sink({ url: influxd.url, database: 'cmp_v1' });
    await v1.ensureReady();
    for (const points of calls) await v1.write(points);
    await createDatabase('cmp_v2');
    await replay('cmp_v2', await recordV2(calls));

    for (const q of ['SHOW MEASUREMENTS', 'SHOW SERIES', ...MEASUREMENTS.flatMap((m) => [`SHOW FIELD KEYS FROM "${m}"`, `SHOW TAG KEYS FROM "${m}"`, `SELECT * FROM "${m}"`])]) {
      const a = await query('cmp_v1', q);
      const b = await query('cmp_v2', q);
      expect(series(a).length, q).toBeGreaterThan(0);
      expect(b, q).toEqual(a);
    }
  });
});
