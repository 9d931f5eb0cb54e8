/**
 * The uplink against a real HTTP server (node:http on a free port) that records requests and answers
 * from a script. Time is a ManualClock; the test waits for real I/O, never for time.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../common/clock.ts';
import type { Sample } from '../common/wire.ts';
import { MemoryOutbox } from '../agent/outbox.ts';
import { Uplink } from '../agent/uplink.ts';
import { closeFakeCollectors, errorBody, fakeCollector } from './helpers/fake-collector.ts';
import { capture } from './helpers/log-capture.ts';

const T0 = Date.UTC(2025, 3, 1, 6, 0, 0);

afterEach(closeFakeCollectors);

function samples(n: number, from = 0): Sample[] {
  return Array.from({ length: n }, (_, i) => ({ instrument_id: 'FCM-1', ts: T0 + (from + i) * 1000, readings: { power_w: from + i } }));
}

const until = (fn: () => void) => vi.waitFor(fn, { timeout: 5000, interval: 5 });

function setup(collectorUrl: string, opts: { maxSamples?: number; maxBatchSamples?: number; requestTimeoutMs?: number } = {}) {
  const clock = new ManualClock(T0);
  const { logger, lines } = capture();
  const outbox = new MemoryOutbox({ agentId: 'lab-pc-1', bootId: 'b00t', firstSeq: 7, maxSamples: opts.maxSamples ?? 1000, logger });
  const uplink = new Uplink({
    agentId: 'lab-pc-1',
    collectorUrl,
    token: 'tok-123',
    batchIntervalMs: 2000,
    maxBatchSamples: opts.maxBatchSamples ?? 500,
    outbox,
    clock,
    logger,
    retry: { initialMs: 1000, maxMs: 8000, jitter: 0.5 },
    random: () => 0, // jitter takes nothing off: delays are exact
    ...(opts.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: opts.requestTimeoutMs }),
  });
  return { clock, outbox, uplink, lines };
}

describe('Uplink', () => {
  it('resends the same batch id after 503 and network errors and acks only on 200', async () => {
    const c = await fakeCollector();
    c.script.push({ status: 503, body: errorBody(503, 'JISHI_ERR_STORE_UNAVAILABLE', 'disk full') }, 'reset');
    const { clock, outbox, uplink, lines } = setup(c.url);
    outbox.append(samples(3));
    uplink.start();

    clock.advance(2000);
    await until(() => expect(uplink.status().failures).toBe(1));
    expect(uplink.status()).toMatchObject({
      queueDepth: 3,
      sentBatches: 0,
      lastError: { code: 'JISHI_ERR_STORE_UNAVAILABLE', message: 'disk full', status: 503, at: T0 + 2000 },
    });
    clock.advance(999);
    await new Promise((r) => setTimeout(r, 20));
    expect(c.requests).toHaveLength(1); // backoff 1 s not yet over
    clock.advance(1);
    await until(() => expect(uplink.status().failures).toBe(2));
    expect(uplink.status().queueDepth).toBe(3);
    clock.advance(2000); // second retry after 2 s
    await until(() => expect(uplink.status().sentBatches).toBe(1));

    expect(c.requests).toHaveLength(3);
    const ids = c.requests.map((r) => r.body.batch_id);
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toBe('lab-pc-1-b00t-7');
    for (const r of c.requests) {
      expect(r.method).toBe('POST');
      expect(r.url).toBe('/api/v1/ingest');
      expect(r.headers.authorization).toBe('Bearer tok-123');
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.body).toMatchObject({ wire_version: 1, agent_id: 'lab-pc-1', seq: 7, samples: samples(3) });
    }
    expect(c.requests.map((r) => r.body.sent_at)).toEqual([T0 + 2000, T0 + 3000, T0 + 5000]);
    expect(uplink.status()).toMatchObject({ sentSamples: 3, queueDepth: 0, failures: 0, lastSuccessAt: T0 + 5000 });
    // one warning per kind of failure, one line on recovery
    const warned = lines.filter((l) => l.level === 40).map((l) => l.code);
    expect(warned).toEqual(['JISHI_ERR_STORE_UNAVAILABLE', expect.stringMatching(/^(ECONNRESET|UND_ERR_SOCKET)$/)]);
    expect(lines.some((l) => l.msg === 'collector reachable again')).toBe(true);

    // the next batch gets the next seq and a new id
    outbox.append(samples(2, 3));
    clock.advance(2000);
    await until(() => expect(uplink.status().sentBatches).toBe(2));
    expect(c.requests[3]!.body).toMatchObject({ batch_id: 'lab-pc-1-b00t-8', seq: 8, samples: samples(2, 3) });
    await uplink.stop();
  });

  it('discards a batch the collector rejects with 400, logs code and message, and goes on', async () => {
    const c = await fakeCollector();
    c.script.push({ status: 400, body: errorBody(400, 'JISHI_ERR_VALIDATION', 'body/samples/0/ts must be >= 0') });
    const { clock, outbox, uplink, lines } = setup(c.url, { maxBatchSamples: 2 });
    outbox.append(samples(3));
    uplink.start();
    clock.advance(2000);
    await until(() => expect(uplink.status().discardedBatches).toBe(1));
    expect(uplink.status()).toMatchObject({ discardedSamples: 2, queueDepth: 1, sentBatches: 0 });
    const err = lines.find((l) => l.level === 50)!;
    expect(err).toMatchObject({ code: 'JISHI_ERR_VALIDATION', status: 400, batchId: 'lab-pc-1-b00t-7' });
    expect(String(err.msg)).toContain('body/samples/0/ts must be >= 0');
    clock.advance(2000);
    await until(() => expect(uplink.status().sentBatches).toBe(1));
    expect(c.requests.map((r) => r.body.batch_id)).toEqual(['lab-pc-1-b00t-7', 'lab-pc-1-b00t-8']);
    expect(c.requests[1]!.body.samples).toEqual(samples(1, 2));
    await uplink.stop();
  });

  it('keeps retrying (not discarding) on 401: the token is wrong, not the batch', async () => {
    const c = await fakeCollector();
    const unauthorized = { status: 401, body: errorBody(401, 'JISHI_ERR_UNAUTHORIZED', 'Missing or invalid bearer token') };
    c.script.push(unauthorized, unauthorized);
    const { clock, outbox, uplink } = setup(c.url);
    outbox.append(samples(1));
    uplink.start();
    clock.advance(2000);
    await until(() => expect(uplink.status().failures).toBe(1));
    clock.advance(1000);
    await until(() => expect(uplink.status().failures).toBe(2));
    clock.advance(2000);
    await until(() => expect(uplink.status().sentBatches).toBe(1));
    expect(uplink.status().discardedBatches).toBe(0);
    expect(new Set(c.requests.map((r) => r.body.batch_id)).size).toBe(1);
    await uplink.stop();
  });

  it('does not ack a 200 without an IngestAck, and times out a hanging request on the clock', async () => {
    const c = await fakeCollector();
    c.script.push({ status: 200, body: { ok: true } }, 'hang');
    const { clock, outbox, uplink } = setup(c.url, { requestTimeoutMs: 5000 });
    outbox.append(samples(2));
    uplink.start();
    clock.advance(2000);
    await until(() => expect(uplink.status().lastError?.code).toBe('BAD_ACK'));
    expect(uplink.status().queueDepth).toBe(2);
    clock.advance(1000);
    await until(() => expect(c.requests).toHaveLength(2));
    clock.advance(5000);
    await until(() => expect(uplink.status().lastError?.code).toBe('TIMEOUT'));
    clock.advance(4000);
    await until(() => expect(uplink.status().sentBatches).toBe(1));
    expect(new Set(c.requests.map((r) => r.body.batch_id)).size).toBe(1);
    await uplink.stop();
  });

  it('bounds the queue: drops the oldest samples, counts them and logs once', async () => {
    const c = await fakeCollector();
    c.script.push({ status: 503 });
    const { clock, outbox, uplink, lines } = setup(c.url, { maxSamples: 5, maxBatchSamples: 2 });
    outbox.append(samples(3));
    uplink.start();
    clock.advance(2000);
    await until(() => expect(uplink.status().failures).toBe(1));
    // the batch in flight (samples 0 and 1) is kept; the queue behind it drops its oldest
    outbox.append(samples(5, 3));
    outbox.append(samples(1, 8));
    expect(uplink.status()).toMatchObject({ queueDepth: 5, droppedSamples: 4 });
    expect(lines.filter((l) => l.level === 40 && String(l.msg).startsWith('outbox full'))).toHaveLength(1);

    clock.advance(1000);
    // catching up: full batches go out back to back, the remainder at the next interval
    await until(() => expect(uplink.status().queueDepth).toBe(1));
    clock.advance(2000);
    await until(() => expect(uplink.status().queueDepth).toBe(0));
    const sent = c.requests.slice(1).flatMap((r) => r.body.samples.map((s) => s.readings.power_w));
    expect(sent).toEqual([0, 1, 6, 7, 8]);
    expect(uplink.status()).toMatchObject({ sentBatches: 3, sentSamples: 5, droppedSamples: 4 });
    await uplink.stop();
  });

  it('flush() sends everything queued, and gives up at the deadline when the collector is down', async () => {
    const c = await fakeCollector();
    const { outbox, uplink } = setup(c.url, { maxBatchSamples: 2 });
    outbox.append(samples(5));
    await expect(uplink.flush(1000)).resolves.toBe(true);
    expect(c.requests.map((r) => r.body.samples.length)).toEqual([2, 2, 1]);

    await c.close();
    outbox.append(samples(1, 5));
    await expect(uplink.flush(1000)).resolves.toBe(false);
    // ECONNREFUSED, or ECONNRESET when the kept-alive socket the server closed is tried first
    expect(uplink.status()).toMatchObject({ queueDepth: 1, lastError: { code: expect.stringMatching(/^(ECONNREFUSED|ECONNRESET)$/) } });
  });
});

describe('Uplink and a collector shedding load', () => {
  it('waits the Retry-After of a 503 before sending again, even when its own backoff is shorter', async () => {
    const c = await fakeCollector();
    c.script.push({ status: 503, body: errorBody(503, 'JISHI_ERR_OVERLOADED', 'busy'), headers: { 'retry-after': '7' } });
    const { clock, outbox, uplink } = setup(c.url);
    outbox.append(samples(2));
    uplink.start();
    clock.advance(2000);
    await until(() => expect(uplink.status().failures).toBe(1));
    clock.advance(6999); // the backoff (1 s) is long over, Retry-After (7 s) is not
    await new Promise((r) => setTimeout(r, 30));
    expect(c.requests).toHaveLength(1);
    clock.advance(1);
    await until(() => expect(uplink.status().sentBatches).toBe(1));
    expect(c.requests).toHaveLength(2);
  });

  it('counts and logs the samples an acknowledged batch had refused, and does not resend them', async () => {
    const c = await fakeCollector();
    c.script.push({
      status: 200,
      body: {
        batch_id: 'lab-pc-1-b00t-7',
        accepted: 2,
        duplicate: false,
        server_time: T0,
        rejected: [{ instrument_id: 'XRD-9', code: 'JISHI_ERR_INSTRUMENT_NOT_OWNED', message: 'instrument XRD-9 belongs to agent lab-pc-2', count: 1 }],
      },
    });
    const { clock, outbox, uplink, lines } = setup(c.url);
    outbox.append(samples(3));
    uplink.start();
    clock.advance(2000);
    await until(() => expect(uplink.status().sentBatches).toBe(1));
    expect(uplink.status()).toMatchObject({ rejectedSamples: 1, queueDepth: 0 });
    expect(lines.some((l) => (l.level as number) >= 50 && /refused 1 sample\(s\) of XRD-9 \(JISHI_ERR_INSTRUMENT_NOT_OWNED/.test(String(l.msg)))).toBe(true);
  });
});
