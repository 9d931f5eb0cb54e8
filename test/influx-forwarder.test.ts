import { InfluxDB } from 'influx';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock.ts';
import { freePort } from '../common/net.ts';
import type { Sample } from '../common/wire.ts';
import { createInfluxForwarder, type InfluxForwarder } from '../collector/influx/forwarder.ts';
import { createInfluxV1Sink, type InfluxSink } from '../collector/influx/sink.ts';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';
import type { Store } from '../collector/store/store.ts';
import { batch, T0 } from './helpers/batches.ts';
import { influxdAvailable, requireOrSkip, startInfluxd, type RunningInfluxd } from './helpers/influxd.ts';

let batchNo = 0;
function ingest(store: Store, samples: Sample[], agentId = 'lab-pc-1'): void {
  batchNo++;
  store.ingest(batch(`b${batchNo}`, samples, { seq: batchNo, agentId }), T0);
}

async function until(what: string, predicate: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Row {
  time: { getTime(): number };
  instrument_id: string;
  agent_id: string;
  [field: string]: unknown;
}

describe.skipIf(requireOrSkip('influxd', influxdAvailable()))('InfluxDB forwarder against a real influxd', () => {
  let influxd: RunningInfluxd;
  let client: InfluxDB;
  const stores: Store[] = [];
  const forwarders: InfluxForwarder[] = [];
  const newStore = (): Store => {
    const s = openSqliteStore(':memory:');
    stores.push(s);
    return s;
  };
  const forwarder = (store: Store, url: string, database: string, extra: { intervalMs?: number } = {}): InfluxForwarder => {
    const f = createInfluxForwarder({ store, url, database, intervalMs: extra.intervalMs ?? 50, retryBaseMs: 50, retryMaxMs: 200, requestTimeoutMs: 2000 });
    forwarders.push(f);
    return f;
  };
  const select = async (database: string): Promise<Row[]> =>
    (await client.query('SELECT * FROM reading ORDER BY time ASC', { database })) as unknown as Row[];

  beforeAll(async () => {
    influxd = await startInfluxd();
    client = new InfluxDB({ host: '127.0.0.1', port: influxd.port });
  });
  afterEach(async () => {
    for (const f of forwarders.splice(0)) await f.stop();
    for (const s of stores.splice(0)) s.close();
  });
  afterAll(async () => {
    await influxd?.stop();
  });

  it('writes measurement `reading` as docs/metric-schema.md defines it', async () => {
    const store = newStore();
    ingest(store, [
      { instrument_id: 'FCM-1', ts: T0, readings: { power_w: 450, energy_kwh: 12.5, power_l2_w: 3.25 } },
      { instrument_id: 'FCM-1', ts: T0 + 1, readings: { power_w: 151.5 }, status: 'RUN' },
      { instrument_id: 'MS-1', ts: T0 + 2, readings: {}, error: 'JISHI_ERR_DEVICE_TIMEOUT' },
    ]);
    const f = forwarder(store, influxd.url, 'jishi_schema');
    f.start();
    // The readings, then the batch's agent_health point.
    await until('all forwarded', () => f.status().forwarded === 3 && f.status().pending === 0);
    expect(f.status()).toMatchObject({ pending: 0, lastError: null, forwarded: 3, skipped: 0 });
    expect(f.status().lastSuccessAt).toEqual(expect.any(Number));

    const fields = (await client.query('SHOW FIELD KEYS FROM reading', { database: 'jishi_schema' })) as unknown as { fieldKey: string; fieldType: string }[];
    expect(Object.fromEntries(fields.map((r) => [r.fieldKey, r.fieldType]))).toEqual({
      power_w: 'float',
      energy_kwh: 'float',
      power_l2_w: 'float',
      status: 'string',
      error: 'string',
    });
    const tags = (await client.query('SHOW TAG KEYS FROM reading', { database: 'jishi_schema' })) as unknown as { tagKey: string }[];
    expect(tags.map((r) => r.tagKey).sort()).toEqual(['agent_id', 'instrument_id']);

    const rows = await select('jishi_schema');
    expect(rows.map((r) => ({ ...r, time: r.time.getTime() }))).toEqual([
      { time: T0, instrument_id: 'FCM-1', agent_id: 'lab-pc-1', power_w: 450, energy_kwh: 12.5, power_l2_w: 3.25, status: null, error: null },
      { time: T0 + 1, instrument_id: 'FCM-1', agent_id: 'lab-pc-1', power_w: 151.5, energy_kwh: null, power_l2_w: null, status: 'RUN', error: null },
      { time: T0 + 2, instrument_id: 'MS-1', agent_id: 'lab-pc-1', power_w: null, energy_kwh: null, power_l2_w: null, status: null, error: 'JISHI_ERR_DEVICE_TIMEOUT' },
    ]);
  });

  it('loses nothing while InfluxDB is unreachable, then forwards everything in order', async () => {
    const store = newStore();
    const deadUrl = `http://127.0.0.1:${await freePort()}`;
    const down = forwarder(store, deadUrl, 'jishi_outage');
    down.start();
    const samples = (from: number) => Array.from({ length: 4 }, (_, i) => ({ instrument_id: 'SEQ-7', ts: T0 + (from + i) * 1000, readings: { power_w: 1000 + from + i } }));
    ingest(store, samples(0));
    down.wake();
    await until('a failure', () => down.status().lastError !== null);
    ingest(store, samples(4));
    ingest(store, samples(8));
    const status = down.status();
    expect(status.pending).toBe(12 + 3); // 12 readings, and the 3 batches' agent_health points
    expect(status.forwarded).toBe(0);
    expect(status.lastSuccessAt).toBeNull();
    expect(status.lastError).toMatch(/ECONNREFUSED|connect/i);
    await down.stop();
    expect(store.getCursor('influx')).toBe(0);

    const up = forwarder(store, influxd.url, 'jishi_outage', { intervalMs: 60_000 });
    up.start();
    await until('catch-up', () => up.status().pending === 0);
    expect(up.status()).toMatchObject({ forwarded: 12, lastError: null });
    const rows = await select('jishi_outage');
    expect(rows.map((r) => [r.time.getTime(), r.power_w])).toEqual(samples(0).concat(samples(4), samples(8)).map((s) => [s.ts, s.readings.power_w]));
    expect(store.getCursor('influx')).toBe(store.readingsAfter(0, 100).at(-1)!.id);

    // wake() forwards new readings at once, without waiting for the (60 s) interval.
    ingest(store, [{ instrument_id: 'SEQ-7', ts: T0 + 99_000, readings: { power_w: 5 } }]);
    up.wake();
    await until('woken forward', () => up.status().forwarded === 13, 5000);
  });

  it('keeps four batches of a backlog in flight; a failed batch is written again, the ones before it are not', async () => {
    const store = newStore();
    const samples = Array.from({ length: 95 }, (_, i) => ({ instrument_id: 'PIPE-1', ts: T0 + i * 1000, readings: { power_w: i } }));
    ingest(store, samples);
    const real = createInfluxV1Sink({ url: influxd.url, database: 'jishi_pipeline' });
    const writes: number[] = []; // first power_w of each readings write
    let inFlight = 0;
    let maxInFlight = 0;
    let failed = false;
    const sink: InfluxSink = {
      ...real,
      async write(points) {
        const first = points[0]?.measurement === 'reading' ? (points[0].fields?.power_w as number) : undefined;
        if (first === undefined) return real.write(points);
        writes.push(first);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          await new Promise((r) => setTimeout(r, 30));
          // The second batch (readings 10..19) fails once, after the first one went through.
          if (first === 10 && !failed) {
            failed = true;
            throw new Error('connection reset (simulated)');
          }
          await real.write(points);
        } finally {
          inFlight--;
        }
      },
    };
    const f = createInfluxForwarder({ store, sink, batchSize: 10, intervalMs: 50, retryBaseMs: 20, retryMaxMs: 50 });
    forwarders.push(f);
    f.start();
    await until('catch-up', () => f.status().pending === 0);
    expect(maxInFlight).toBe(4);
    // 0, 10, 20 and 30 together, 40 as soon as 0 is done; 10 failed: 0 is not written again, 10 and the batches
    // after it are (the cursor stayed after 0).
    expect(writes.slice(0, 6)).toEqual([0, 10, 20, 30, 40, 10]);
    expect(writes.filter((w) => w === 0)).toHaveLength(1);
    expect(writes.filter((w) => w === 10)).toHaveLength(2);
    expect(f.status()).toMatchObject({ forwarded: 95, skipped: 0, lastError: null });
    const rows = await select('jishi_pipeline');
    expect(rows.map((r) => r.power_w)).toEqual(samples.map((s) => s.readings.power_w));
  });

  it('passes over a reading InfluxDB rejects and keeps forwarding the rest', async () => {
    await client.createDatabase('jishi_conflict');
    // A string field written by someone else makes the float `power_x_w` of the second reading a type conflict.
    await client.writePoints([{ measurement: 'reading', tags: { instrument_id: 'X-1', agent_id: 'other' }, fields: { power_x_w: 'text' }, timestamp: T0 - 1000 }], {
      database: 'jishi_conflict',
      precision: 'ms',
    });
    const store = newStore();
    ingest(store, [
      { instrument_id: 'X-1', ts: T0, readings: { power_w: 1 } },
      { instrument_id: 'X-1', ts: T0 + 1, readings: { power_x_w: 2 } },
      { instrument_id: 'X-1', ts: T0 + 2, readings: { power_w: 3 } },
    ]);
    const f = forwarder(store, influxd.url, 'jishi_conflict');
    f.start();
    await until('forwarded', () => f.status().pending === 0);
    expect(f.status()).toMatchObject({ forwarded: 2, skipped: 1, lastError: null });
    const rows = (await client.query('SELECT power_w FROM reading WHERE agent_id = \'lab-pc-1\' ORDER BY time', { database: 'jishi_conflict' })) as unknown as Row[];
    expect(rows.map((r) => r.power_w)).toEqual([1, 3]);
  });
});

describe('InfluxDB forwarder: stopping', () => {
  // A manual clock that is never advanced: the forwarder's idle interval can only end by stop() (or wake()).
  it('stops at once when stop() comes during a pass, instead of waiting out its idle interval', { timeout: 10_000 }, async () => {
    const store = openSqliteStore(':memory:');
    ingest(store, [{ instrument_id: 'STOP-1', ts: T0, readings: { power_w: 1 } }]);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let writing = false;
    const sink: InfluxSink = {
      target: 'fake',
      ensureReady: async () => undefined,
      async write() {
        writing = true;
        await released; // the pass is in a write when stop() is called
      },
      deleteFrom: async () => true,
      isRejected: () => false,
    };
    const f = createInfluxForwarder({ store, sink, intervalMs: 60_000, clock: new ManualClock(T0) });
    f.start();
    await until('a write in progress', () => writing, 5000);
    const stopped = f.stop();
    release();
    await stopped; // before the fix: the pass went on to idle(60 s) after the abort and never returned
    expect(f.status().forwarded).toBe(1);
    store.close();
  });
});
