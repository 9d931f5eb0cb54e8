/**
 * Coalesced outbox appends (OutboxAppender): the samples of reads that overlap in time go into the outbox in one
 * append (one SQLite transaction), in order, at the latest after the window; a failing outbox loses nothing until
 * the memory bound; stop() appends what waits. Time is a ManualClock; the agent test runs startAgent with
 * stand-in drivers on it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../common/clock.ts';
import type { Sample } from '../common/wire.ts';
import { agentConfigFromObject } from '../agent/config.ts';
import { startAgent } from '../agent/agent.ts';
import type { DriverStats, PolledDriver, ReadResult } from '../agent/drivers/driver.ts';
import { MemoryOutbox, OutboxAppender, type Outbox } from '../agent/outbox.ts';
import { SqliteOutbox } from '../agent/sqlite-outbox.ts';
import { capture } from './helpers/log-capture.ts';

const T0 = Date.UTC(2025, 2, 3, 8, 0, 0);
const cleanup: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const sample = (id: string, ts = T0, power = 1): Sample => ({ instrument_id: id, ts, readings: { power_w: power } });

/** A MemoryOutbox that records every append call and can be told to fail. */
function recordingOutbox() {
  const { logger } = capture();
  const inner = new MemoryOutbox({ agentId: 'a', bootId: 'b', firstSeq: 1, maxSamples: 100_000, logger });
  const calls: string[][] = [];
  let failing = false;
  const outbox: Outbox & { queued(): string[] } = {
    append(samples) {
      if (failing) throw new Error('SQLITE_FULL: database or disk is full');
      calls.push(samples.map((s) => s.instrument_id));
      inner.append(samples);
    },
    nextBatch: (max) => inner.nextBatch(max),
    ack: (id) => inner.ack(id),
    discard: (id) => inner.discard(id),
    stats: () => inner.stats(),
    queued: () => calls.flat(),
  };
  return {
    outbox,
    calls,
    fail(on: boolean) {
      failing = on;
    },
  };
}

function appender(options: { windowMs?: number; maxPending?: number; maxRetained?: number; retryMs?: number } = {}) {
  const clock = new ManualClock(T0);
  const { logger, lines } = capture();
  const rec = recordingOutbox();
  const seen: string[] = [];
  const seenDepth: number[] = [];
  const a = new OutboxAppender({
    outbox: rec.outbox,
    clock,
    logger,
    windowMs: 50,
    ...options,
    onSamples: (samples) => {
      for (const s of samples) {
        seen.push(s.instrument_id);
        seenDepth.push(rec.outbox.stats().depth);
      }
    },
  });
  return { a, clock, lines, seen, seenDepth, ...rec };
}

describe('OutboxAppender', () => {
  it('appends the sample of a read that overlaps no other at once', () => {
    const { a, calls, seen } = appender();
    a.readStarted();
    a.add(sample('A'));
    expect(calls).toEqual([['A']]);
    a.readStarted();
    a.add(sample('B'));
    a.add(sample('C')); // not announced: appended at once too
    expect(calls).toEqual([['A'], ['B'], ['C']]);
    expect(seen).toEqual(['A', 'B', 'C']);
    expect(a.stats()).toEqual({ pending: 0, lost: 0, appends: 3 });
  });

  it('appends the samples of overlapping reads in one call, in order, when the last read ends', () => {
    const { a, calls, seen, seenDepth } = appender();
    for (let i = 0; i < 5; i++) a.readStarted();
    for (const id of ['A', 'B', 'C', 'D']) a.add(sample(id));
    expect(calls).toEqual([]);
    expect(seen).toEqual([]);
    expect(a.stats().pending).toBe(4);
    a.add(sample('E'));
    expect(calls).toEqual([['A', 'B', 'C', 'D', 'E']]);
    // listeners see a sample once it is in the outbox
    expect(seen).toEqual(['A', 'B', 'C', 'D', 'E']);
    expect(seenDepth).toEqual([5, 5, 5, 5, 5]);
  });

  it('appends at the latest windowMs after the first waiting sample, while a read is still running', () => {
    const { a, clock, calls } = appender({ windowMs: 50 });
    a.readStarted();
    a.readStarted();
    a.readStarted();
    a.add(sample('A'));
    clock.advance(30);
    a.add(sample('B'));
    clock.advance(19);
    expect(calls).toEqual([]);
    clock.advance(1);
    expect(calls).toEqual([['A', 'B']]);
    a.add(sample('C')); // the last running read ends: nothing else runs
    expect(calls).toEqual([['A', 'B'], ['C']]);
  });

  it('appends at once when maxPending samples wait', () => {
    const { a, calls } = appender({ maxPending: 3 });
    for (let i = 0; i < 10; i++) a.readStarted();
    for (const id of ['A', 'B', 'C', 'D']) a.add(sample(id));
    expect(calls).toEqual([['A', 'B', 'C']]);
    expect(a.stats().pending).toBe(1);
  });

  it('keeps the samples of a failing outbox in memory and appends them, in order, once it works again', () => {
    const { a, clock, calls, seen, lines, fail, outbox } = appender({ retryMs: 1000 });
    fail(true);
    a.readStarted();
    a.readStarted();
    a.add(sample('A'));
    a.add(sample('B')); // append fails
    expect(seen).toEqual(['A', 'B']); // listeners are not held up by a failing disk
    a.add(sample('C')); // while failing: kept, shown at once
    expect(seen).toEqual(['A', 'B', 'C']);
    expect(a.stats()).toMatchObject({ pending: 3, lost: 0 });
    clock.advance(1000);
    a.add(sample('D'));
    expect(calls).toEqual([]);
    fail(false);
    clock.advance(999);
    expect(calls).toEqual([]);
    clock.advance(1);
    expect(calls).toEqual([['A', 'B', 'C', 'D']]);
    expect(seen).toEqual(['A', 'B', 'C', 'D']);
    expect(a.stats()).toEqual({ pending: 0, lost: 0, appends: 3 });
    expect(lines.filter((l) => l.level === 50).map((l) => l.msg)).toEqual([expect.stringContaining('cannot store samples in the outbox; keeping them in memory')]);
    expect(lines.some((l) => String(l.msg).startsWith('the outbox takes samples again'))).toBe(true);
    // back to normal
    a.add(sample('E'));
    expect(outbox.queued()).toEqual(['A', 'B', 'C', 'D', 'E']);
  });

  it('gives up the oldest samples beyond maxRetained, and at close() what the outbox still refuses; counted as lost', () => {
    const { a, clock, calls, fail } = appender({ maxRetained: 3, retryMs: 100 });
    fail(true);
    for (const id of ['A', 'B', 'C', 'D', 'E']) a.add(sample(id));
    expect(a.stats()).toMatchObject({ pending: 3, lost: 2 });
    fail(false);
    clock.advance(100);
    expect(calls).toEqual([['C', 'D', 'E']]);
    fail(true);
    a.add(sample('F'));
    a.add(sample('G'));
    a.close();
    expect(a.stats()).toMatchObject({ pending: 0, lost: 4 });
    a.add(sample('H')); // after close: lost
    expect(a.stats().lost).toBe(5);
  });

  it('close() appends what waits for the window', () => {
    const { a, clock, calls } = appender();
    a.readStarted();
    a.readStarted();
    a.add(sample('A'));
    a.close();
    expect(calls).toEqual([['A']]);
    clock.advance(1000);
    expect(calls).toEqual([['A']]);
    a.close();
    expect(a.stats()).toEqual({ pending: 0, lost: 0, appends: 1 });
  });

  it('with the SQLite outbox: one transaction per group, in order; a failed append is appended again exactly once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jishi-appender-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const clock = new ManualClock(T0);
    const outbox = new SqliteOutbox({ path: join(dir, 'o.sqlite'), agentId: 'a', bootId: 'b', maxBytes: 1e9, clock });
    cleanup.push(() => outbox.close());
    const append = vi.spyOn(outbox, 'append');
    const a = new OutboxAppender({ outbox, clock, logger: capture().logger, retryMs: 500 });
    for (let i = 0; i < 4; i++) a.readStarted();
    ['A', 'B', 'C', 'D'].forEach((id, i) => a.add(sample(id, T0 + i)));
    expect(append).toHaveBeenCalledTimes(1);
    append.mockImplementationOnce(() => {
      throw new Error('SQLITE_IOERR: disk I/O error');
    });
    a.readStarted();
    a.readStarted();
    a.add(sample('E', T0 + 10));
    a.add(sample('F', T0 + 11)); // fails: kept
    a.add(sample('G', T0 + 12));
    clock.advance(500);
    expect(append).toHaveBeenCalledTimes(3);
    expect(outbox.queuedSamples().map((s) => s.instrument_id)).toEqual(['A', 'B', 'C', 'D', 'E', 'F', 'G']);
    expect(a.stats()).toEqual({ pending: 0, lost: 0, appends: 3 });
  });
});

/** A driver that answers at once with a counter, or holds its read until released. */
class StandIn implements PolledDriver {
  readonly kind = 'polled';
  readonly target: string;
  hold = false;
  #release: (() => void) | undefined;
  #n = 0;

  constructor(id: string) {
    this.target = `modbus-tcp://192.0.2.1:502?unit=${id}`;
  }

  async open(): Promise<void> {}

  async read(): Promise<ReadResult> {
    if (this.hold) await new Promise<void>((resolve) => (this.#release = resolve));
    return { readings: { power_w: ++this.#n } };
  }

  release(): void {
    this.#release?.();
  }

  async close(): Promise<void> {}

  stats(): DriverStats {
    return { connected: true, reconnects: 0 };
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('agent: coalesced appends', () => {
  it('instruments polled on one schedule land in one append per round, in order; stop() appends what waits', async () => {
    const clock = new ManualClock(T0);
    const ids = ['I1', 'I2', 'I3', 'I4', 'I5'];
    const config = agentConfigFromObject(
      {
        agent: { id: 'coalesce' },
        collector: { url: 'http://127.0.0.1:9', token: 'tok-0123456789' },
        poll_interval_s: 1,
        batch_interval_s: 3600,
        instruments: ids.map((id) => ({ id, profile: 'eastron-sdm120', transport: `modbus-tcp://192.0.2.1:502?unit=${id.slice(1)}` })),
      },
      'test',
    );
    const rec = recordingOutbox();
    const drivers = new Map(ids.map((id) => [id, new StandIn(id)]));
    const agent = await startAgent(config, {
      clock,
      outbox: rec.outbox,
      createDriver: (instrument) => drivers.get(instrument.id)!,
      fetch: async () => {
        throw new Error('offline');
      },
      stopFlushMs: 0,
    });
    cleanup.push(() => agent.stop());
    const seen: Array<[string, number]> = [];
    agent.onSample((s) => seen.push([s.instrument_id, rec.outbox.stats().depth]));

    clock.advance(0);
    await settle();
    clock.advance(1000);
    await settle();
    expect(rec.calls).toEqual([ids, ids]);
    // every sample was in the outbox before a listener saw it
    expect(seen.map(([id]) => id)).toEqual([...ids, ...ids]);
    expect(seen.every(([, depth], i) => depth >= Math.floor(i / ids.length + 1) * ids.length)).toBe(true);

    // I5 still reads when the others are done: they wait for it (or for the window)
    drivers.get('I5')!.hold = true;
    clock.advance(1000);
    await settle();
    expect(rec.calls).toHaveLength(2);
    expect(agent.status().pendingSamples).toBe(4);
    drivers.get('I5')!.release();
    await settle();
    expect(rec.calls).toEqual([ids, ids, ids]);

    // the window: I5 holds longer than 50 ms
    clock.advance(1000);
    await settle();
    clock.advance(50);
    expect(rec.calls.at(-1)).toEqual(['I1', 'I2', 'I3', 'I4']);
    drivers.get('I5')!.release();
    await settle();
    expect(rec.calls.at(-1)).toEqual(['I5']);

    // stop: the round in progress is appended before the outbox is left
    clock.advance(1000);
    await settle();
    expect(agent.status().pendingSamples).toBe(4);
    const stopping = agent.stop();
    await settle();
    drivers.get('I5')!.release();
    await stopping;
    expect(agent.status().pendingSamples).toBe(0);
    expect(rec.outbox.queued()).toHaveLength(5 * ids.length);
    expect(rec.outbox.queued().slice(-5)).toEqual(ids);
    expect(agent.status().lostSamples).toBe(0);
  });
});
