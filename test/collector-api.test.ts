import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock.ts';
import { silentLogger } from '../common/log.ts';
import { INGEST_PATH, type AgentStatusReport, INSTRUMENTS_PATH, type InstrumentList, type InstrumentView, type Sample } from '../common/wire.ts';
import { buildApp, type CollectorApp, type IngestEvent } from '../collector/app.ts';
import { sha256Hex } from '../collector/auth.ts';
import { EngineRunner } from '../collector/engine-runner.ts';
import { resolveParams } from '../collector/engine/params.ts';
import { DEFAULT_TIME_ZONE } from '../collector/engine/time-zone.ts';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';
import type { Store } from '../collector/store/store.ts';
import { JISHI_VERSION } from '../collector/version.ts';
import { batch, T0 } from './helpers/batches.ts';

const TOKEN = 'jishi_test-token-lab-pc-1';
const OTHER_TOKEN = 'jishi_test-token-lab-pc-2';
const auth = (token = TOKEN) => ({ authorization: `Bearer ${token}` });

const s = (instrument: string, ts: number, power: number): Sample => ({ instrument_id: instrument, ts, readings: { power_w: power } });

// No minimum dwell: every sample's state is taken at once (hysteresis 10 %, max_gap 15 min: the defaults).
const MS_PARAMS = resolveParams({ off_w: 100, active_w: 2200, min_dwell_s: 0 });
const OTHER_PARAMS = resolveParams({ min_dwell_s: 0 });

describe('collector API', () => {
  let store: Store;
  let clock: ManualClock;
  let app: CollectorApp;
  let events: IngestEvent[];

  beforeEach(async () => {
    store = openSqliteStore(':memory:');
    store.upsertAgent('lab-pc-1', sha256Hex(TOKEN));
    store.upsertAgent('lab-pc-2', sha256Hex(OTHER_TOKEN));
    clock = new ManualClock(T0 + 1000);
    events = [];
    const engine = new EngineRunner({
      store: store.engine,
      params: (id) => (id === 'MS-1' ? MS_PARAMS : OTHER_PARAMS),
      timeZone: DEFAULT_TIME_ZONE,
      clock,
      logger: silentLogger(),
    });
    app = buildApp({
      store,
      clock,
      engine,
      bodyLimit: 64 * 1024,
      // These batches are all "sent" at T0 while the clock moves on: no clock correction here (see 'agent clocks').
      clockSkewThresholdMs: 86_400_000,
      registry: [
        { id: 'MS-1', name: 'Orbitrap mass spectrometer' },
        { id: 'CONF-9', name: 'Confocal (not yet wired)' },
      ],
      onIngest: (e) => events.push(e),
    });
    await app.ready();
  });
  afterEach(async () => {
    await app.close();
    store.close();
  });

  const ingest = (body: unknown, headers: Record<string, string> = auth()) =>
    app.inject({ method: 'POST', url: INGEST_PATH, headers, payload: body as object });

  it('GET /healthz answers ok with version and server time', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', version: JISHI_VERSION, server_time: T0 + 1000 });
  });

  it('accepts a batch and acknowledges it', async () => {
    const res = await ingest(batch('b1', [s('MS-1', T0, 1800), s('MS-1', T0 + 500, 2500)]));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ batch_id: 'b1', accepted: 2, duplicate: false, server_time: T0 + 1000 });
    expect(events).toEqual([
      {
        agent_id: 'lab-pc-1',
        batch_id: 'b1',
        seq: 1,
        accepted: 2,
        duplicate: false,
        received_at: T0 + 1000,
        // The engine's change over the whole batch: standby at T0, active from T0 + 500.
        changes: [{ instrument_id: 'MS-1', from: 'unknown', to: 'active', at: T0 + 500 }],
      },
    ]);
    await ingest(batch('b2', [s('MS-1', T0 + 1000, 1900)], { seq: 2 }));
    expect(events[1]!.changes).toEqual([{ instrument_id: 'MS-1', from: 'active', to: 'standby', at: T0 + 1000 }]);
  });

  it('stores a re-sent batch once and says it was a duplicate', async () => {
    const b = batch('b1', [s('MS-1', T0, 1800)]);
    expect((await ingest(b)).json()).toMatchObject({ accepted: 1, duplicate: false });
    const again = await ingest(b);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ batch_id: 'b1', accepted: 0, duplicate: true });
    expect(store.readingsAfter(0, 10)).toHaveLength(1);
    expect(events.map((e) => [e.duplicate, e.changes.length])).toEqual([[false, 1], [true, 0]]);
  });

  it('refuses a missing or unknown token with 401', async () => {
    for (const headers of [{}, { authorization: 'Basic abc' }, auth('wrong-token')]) {
      const res = await ingest(batch('b1', [s('MS-1', T0, 1)]), headers);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ statusCode: 401, code: 'JISHI_ERR_UNAUTHORIZED', error: 'Unauthorized' });
    }
    expect(store.readingsAfter(0, 10)).toHaveLength(0);
  });

  it('refuses a batch naming another agent with 403', async () => {
    const res = await ingest(batch('b1', [s('MS-1', T0, 1)], { agentId: 'lab-pc-2' }));
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'JISHI_ERR_AGENT_MISMATCH' });
    expect(res.json().message).toContain('lab-pc-2');
  });

  it('refuses a batch that breaks the schema with 400, naming the path', async () => {
    const bad = { ...batch('b1', [s('MS-1', T0, 1)]), samples: [{ instrument_id: 'MS-1', ts: 'yesterday', readings: {} }] };
    const res = await ingest(bad);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ statusCode: 400, code: 'JISHI_ERR_VALIDATION', error: 'Bad Request' });
    expect(res.json().message).toContain('body/samples/0/ts');

    const extra = await ingest({ ...batch('b2', []), colour: 'red' });
    expect(extra.json()).toMatchObject({ code: 'JISHI_ERR_VALIDATION' });
    expect(extra.json().message).toContain('colour');

    const badField = await ingest(batch('b3', [{ instrument_id: 'MS-1', ts: T0, readings: { 'Power W': 3 } }]));
    expect(badField.statusCode).toBe(400);
    expect(badField.json().message).toContain('body/samples/0/readings');
    expect(store.readingsAfter(0, 10)).toHaveLength(0);
  });

  it('answers malformed JSON with 400 JISHI_ERR_MALFORMED_JSON', async () => {
    const res = await app.inject({
      method: 'POST',
      url: INGEST_PATH,
      headers: { ...auth(), 'content-type': 'application/json' },
      payload: '{"wire_version": 1,',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'JISHI_ERR_MALFORMED_JSON' });
  });

  it('answers an oversized body with 413 and another content type with 415', async () => {
    const big = batch('big', Array.from({ length: 2000 }, (_, i) => s('MS-1', T0 + i, 1000)));
    const res = await ingest(big);
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ statusCode: 413, code: 'JISHI_ERR_BODY_TOO_LARGE' });

    const text = await app.inject({ method: 'POST', url: INGEST_PATH, headers: { ...auth(), 'content-type': 'text/plain' }, payload: 'hi' });
    expect(text.statusCode).toBe(415);
    expect(text.json()).toMatchObject({ code: 'JISHI_ERR_UNSUPPORTED_MEDIA_TYPE' });
  });

  it('answers an unknown route with 404 in the error shape', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/nothing' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({
      statusCode: 404,
      code: 'JISHI_ERR_NOT_FOUND',
      error: 'Not Found',
      message: 'Route GET /api/v1/nothing not found',
    });
  });

  it('answers 503 with Retry-After when the store cannot store', async () => {
    store.close();
    const res = await ingest(batch('b1', [s('MS-1', T0, 1)]));
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json()).toMatchObject({ code: 'JISHI_ERR_STORE_UNAVAILABLE' });
    const health = await app.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(503);
  });

  it('lists instruments with their last reading and live state, configured ones too', async () => {
    await ingest(batch('b1', [s('MS-1', T0, 1800), s('SEQ-7', T0, 1200)]));
    const res = await app.inject({ method: 'GET', url: INSTRUMENTS_PATH });
    expect(res.statusCode).toBe(200);
    const body = res.json() as InstrumentList;
    expect(body).toEqual({
      server_time: T0 + 1000,
      instruments: [
        { id: 'CONF-9', agent_id: null, name: 'Confocal (not yet wired)', state: 'unknown', state_since: null, last_seen: null, last_reading: null },
        {
          id: 'MS-1',
          agent_id: 'lab-pc-1',
          name: 'Orbitrap mass spectrometer',
          state: 'standby',
          state_since: T0,
          last_seen: T0,
          last_reading: { ts: T0, readings: { power_w: 1800 } },
        },
        {
          id: 'SEQ-7',
          agent_id: 'lab-pc-1',
          name: null,
          state: 'active',
          state_since: T0,
          last_seen: T0,
          last_reading: { ts: T0, readings: { power_w: 1200 } },
        },
      ],
    });
  });

  it('reports an instrument unknown once its last sample is older than max_gap', async () => {
    await ingest(batch('b1', [s('MS-1', T0, 2500)]));
    const state = async () => ((await app.inject({ method: 'GET', url: INSTRUMENTS_PATH })).json() as InstrumentList).instruments.find((i) => i.id === 'MS-1');
    clock.advance(15 * 60_000 - 1000);
    expect(await state()).toMatchObject({ state: 'active', state_since: T0 });
    clock.advance(1);
    expect(await state()).toMatchObject({ state: 'unknown', state_since: T0 + 15 * 60_000, last_reading: { readings: { power_w: 2500 } } });
  });

  const view = async (id: string): Promise<InstrumentView | undefined> =>
    ((await app.inject({ method: 'GET', url: INSTRUMENTS_PATH })).json() as InstrumentList).instruments.find((i) => i.id === id);

  it('restarts state_since after a gap longer than max_gap, even in the same state', async () => {
    await ingest(batch('b1', [s('MS-1', T0, 2500), s('MS-1', T0 + 60_000, 2600)]));
    clock.advance(59_000); // T0 + 60 s
    expect(await view('MS-1')).toMatchObject({ state: 'active', state_since: T0 });
    const later = T0 + 60_000 + 15 * 60_000 + 1;
    clock.advance(later - clock.now());
    await ingest(batch('b2', [s('MS-1', later, 2550)], { seq: 2 }));
    expect(await view('MS-1')).toMatchObject({ state: 'active', state_since: later, last_seen: later });
  });

  it('takes a fault status and a read error through the engine', async () => {
    await ingest(batch('b1', [{ instrument_id: 'MS-1', ts: T0, readings: { power_w: 2500 }, status: 'ALARM 12' }]));
    expect(events[0]!.changes).toEqual([{ instrument_id: 'MS-1', from: 'unknown', to: 'fault', at: T0 }]);
    expect(await view('MS-1')).toMatchObject({ state: 'fault', state_since: T0, last_reading: { status: 'ALARM 12' } });
    await ingest(batch('b2', [{ instrument_id: 'MS-1', ts: T0 + 500, readings: {}, error: 'JISHI_ERR_DEVICE_TIMEOUT' }], { seq: 2 }));
    expect(await view('MS-1')).toMatchObject({ state: 'unknown', state_since: T0 + 500, last_reading: { error: 'JISHI_ERR_DEVICE_TIMEOUT' } });
  });

  it('stores late samples without moving the live state back', async () => {
    await ingest(batch('b1', [s('MS-1', T0 + 500, 2500)]));
    await ingest(batch('b2', [s('MS-1', T0, 1)], { seq: 2 }));
    expect(events[1]!.changes).toEqual([]);
    expect(await view('MS-1')).toMatchObject({ state: 'active', state_since: T0 + 500, last_seen: T0 + 500 });
    expect(store.readingsAfter(0, 10)).toHaveLength(2);
  });
});

describe('agent clocks', () => {
  const REPORT: AgentStatusReport = {
    started_at: T0 - 60_000,
    outbox_depth: 1,
    outbox_oldest_ts: T0 - 1300,
    dropped_samples: 0,
    lost_samples: 0,
    device_errors: 2,
    failing_instruments: ['SEQ-9'],
    uplink_failures: 0,
  };

  it('corrects sample times of an agent whose clock is off beyond the threshold, and records the skew', async () => {
    const store = openSqliteStore(':memory:');
    store.upsertAgent('lab-pc-1', sha256Hex(TOKEN));
    store.upsertAgent('lab-pc-2', sha256Hex(OTHER_TOKEN));
    const clock = new ManualClock(T0);
    const engine = new EngineRunner({ store: store.engine, params: () => OTHER_PARAMS, timeZone: DEFAULT_TIME_ZONE, clock, logger: silentLogger() });
    const app = buildApp({ store, clock, engine, clockSkewThresholdMs: 2000 });
    try {
      // lab-pc-1 runs 10 min slow: its readings at "T0 - 10 min" really happened at T0 - 1 s.
      const slow = T0 - 600_000;
      let res = await app.inject({ method: 'POST', url: INGEST_PATH, headers: auth(), payload: batch('slow', [s('FCM-1', slow - 1000, 500)], { sentAt: slow }) });
      expect(res.statusCode).toBe(200);
      // lab-pc-2 is 300 ms off (network delay): within the threshold, nothing is moved.
      res = await app.inject({
        method: 'POST',
        url: INGEST_PATH,
        headers: auth(OTHER_TOKEN),
        payload: { ...batch('ok', [s('SEQ-1', T0 - 1300, 500)], { agentId: 'lab-pc-2', sentAt: T0 - 300 }), agent_status: REPORT },
      });
      expect(res.statusCode).toBe(200);
      // A malformed health summary is a bad batch like any other.
      const bad = { ...batch('bad', [s('SEQ-1', T0 - 1200, 500)], { agentId: 'lab-pc-2', sentAt: T0 }), agent_status: { ...REPORT, outbox_depth: -1 } };
      expect((await app.inject({ method: 'POST', url: INGEST_PATH, headers: auth(OTHER_TOKEN), payload: bad })).statusCode).toBe(400);
      const stored = store.readingsAfter(0, 10);
      expect(stored.map((r) => [r.instrument_id, r.ts])).toEqual([['FCM-1', T0 - 1000], ['SEQ-1', T0 - 1300]]);

      clock.advance(5000);
      const agents = (await app.inject({ url: '/api/v1/agents' })).json();
      expect(agents.agents).toEqual([
        { id: 'lab-pc-1', last_batch_at: T0, silent_s: 5, batches: 1, clock_skew_ms: 600_000, clock_offset_ms: 600_000, status: null },
        { id: 'lab-pc-2', last_batch_at: T0, silent_s: 5, batches: 1, clock_skew_ms: 300, clock_offset_ms: 0, status: REPORT },
      ]);
    } finally {
      await app.close();
      store.close();
    }
  });
});
