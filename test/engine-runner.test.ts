/**
 * The engine against the store: streaming on ingest equals recompute from stored readings, late readings
 * change nothing once recomputed, a restart continues exactly, and a parameter change rebuilds everything.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock.ts';
import { silentLogger } from '../common/log.ts';
import type { Sample } from '../common/wire.ts';
import { EngineRunner } from '../collector/engine-runner.ts';
import { resolveParams } from '../collector/engine/params.ts';
import type { EngineParams } from '../collector/engine/types.ts';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';
import type { Store } from '../collector/store/store.ts';
import { mulberry32 } from '../devices/traces.ts';
import { batch } from './helpers/batches.ts';

const TZ = 'Asia/Shanghai';
// 2025-03-03 22:00 Shanghai: traces cross local midnight.
const START = Date.UTC(2025, 2, 3, 14, 0, 0);
const PARAMS = resolveParams({ off_w: 20, active_w: 300, min_dwell_s: 20, merge_gap_s: 300, warmup_max_s: 300, post_max_s: 120, max_gap_s: 120 });

/** A random off/standby/active trace with gaps and error samples, one sample every 10 s. */
function trace(seed: number, n: number): Sample[] {
  const rnd = mulberry32(seed);
  const out: Sample[] = [];
  let t = START;
  let level = 0;
  for (let i = 0; i < n; i++) {
    if (rnd() < 0.05) level = Math.floor(rnd() * 3);
    t += rnd() < 0.01 ? 600_000 : 10_000; // now and then a gap longer than max_gap
    const power = [0, 120, 450][level]! + (rnd() - 0.5) * 30;
    const s: Sample = rnd() < 0.01
      ? { instrument_id: 'X', ts: t, readings: {}, error: 'JISHI_ERR_DEVICE_TIMEOUT' }
      : { instrument_id: 'X', ts: t, readings: { power_w: Math.max(0, power) } };
    out.push(s);
  }
  return out;
}

function runner(store: Store, clock: ManualClock, params: EngineParams = PARAMS): EngineRunner {
  return new EngineRunner({ store: store.engine, params: () => params, timeZone: TZ, clock, logger: silentLogger() });
}

function ingestAll(store: Store, r: EngineRunner, batches: Sample[][]): void {
  batches.forEach((samples, k) => {
    const res = store.ingest(batch(`b${k}`, samples, { seq: k }), START);
    if (!res.duplicate) r.ingest(samples);
  });
}

/** Everything derived for instrument X, as of `now`. */
function derived(r: EngineRunner, now: number) {
  const days = ['2025-03-03', '2025-03-04', '2025-03-05', '2025-03-06'];
  return {
    live: r.live('X', now),
    timeline: r.timeline('X', START, now),
    rollups: r.rollups('X', days[0]!, days[3]!, now),
  };
}

function chunks<T>(items: T[], sizes: () => number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; ) {
    const n = Math.max(1, sizes());
    out.push(items.slice(i, i + n));
    i += n;
  }
  return out;
}

describe('EngineRunner on the SQLite store', () => {
  it('recomputes more readings than one replay chunk (engine commits between pages of the stored readings)', () => {
    // 45,000 readings: more than two 20,000-sample chunks. The engine commits after each chunk while it reads the
    // readings; an open SQLite iterator on the same connection made that fail ("connection is busy").
    const samples = trace(9, 45_000);
    const now = samples[samples.length - 1]!.ts + 60_000;
    const clock = new ManualClock(now);
    const streamed = openSqliteStore(':memory:');
    const a = runner(streamed, clock);
    ingestAll(streamed, a, chunks(samples, () => 5000));
    const rebuilt = openSqliteStore(':memory:');
    ingestAll(rebuilt, { ingest: () => [] } as unknown as EngineRunner, chunks(samples, () => 5000));
    const b = runner(rebuilt, clock);
    expect(b.recompute('X', null).samples).toBe(45_000);
    expect(b.timeline('X', START, now)).toEqual(a.timeline('X', START, now));
    // From a later day too (a checkpoint, then the pages after it).
    expect(b.recompute('X', samples[30_000]!.ts).samples).toBeLessThan(45_000);
    expect(b.timeline('X', START, now)).toEqual(a.timeline('X', START, now));
    streamed.close();
    rebuilt.close();
  });

  it.each([1, 2, 3, 4, 5])('streaming in random batches equals recompute from stored readings (seed %i)', (seed) => {
    const samples = trace(seed, 3000);
    const now = samples[samples.length - 1]!.ts + 60_000;
    const clock = new ManualClock(now);
    const rnd = mulberry32(seed * 7);

    const streamed = openSqliteStore(':memory:');
    const a = runner(streamed, clock);
    ingestAll(streamed, a, chunks(samples, () => Math.floor(rnd() * 50)));

    const rebuilt = openSqliteStore(':memory:');
    ingestAll(rebuilt, { ingest: () => [] } as unknown as EngineRunner, [samples]);
    const b = runner(rebuilt, clock);
    b.recompute('X', null);

    const got = derived(a, now);
    expect(got).toEqual(derived(b, now));
    // Not vacuous: the trace spans two local days with every state, sessions and stored rollups.
    expect(got.timeline.intervals.length).toBeGreaterThan(20);
    expect(new Set(got.timeline.intervals.map((i) => i.state))).toEqual(new Set(['off', 'standby', 'active', 'unknown']));
    expect(got.timeline.sessions.length).toBeGreaterThan(3);
    expect(got.rollups.map((r) => r.day)).toEqual(['2025-03-03', '2025-03-04']);
    expect(streamed.engine.rollups(['X'], '2025-03-03', '2025-03-03')).toHaveLength(1);
    const stateSum = (r: ReturnType<typeof derived>['rollups'][number]) => r.off_s + r.standby_s + r.active_s + r.fault_s + r.unknown_s;
    for (const r of derived(a, now).rollups) expect(stateSum(r)).toBeCloseTo(r.period_s, 6);
    streamed.close();
    rebuilt.close();
  });

  it('late readings (a batch delivered after later ones) give the same result as in-order delivery', () => {
    const samples = trace(11, 2000);
    const now = samples[samples.length - 1]!.ts + 60_000;
    const clock = new ManualClock(now);
    const batches = chunks(samples, () => 40);
    // Deliver batch 20 (just after local midnight) last, as an agent catching up would.
    const reordered = [...batches.slice(0, 20), ...batches.slice(21), batches[20]!];

    const inOrder = openSqliteStore(':memory:');
    const a = runner(inOrder, clock);
    ingestAll(inOrder, a, batches);
    const late = openSqliteStore(':memory:');
    const b = runner(late, clock);
    ingestAll(late, b, reordered);
    expect(derived(b, now)).toEqual(derived(a, now));
  });

  it('a restarted collector continues from the stored engine state exactly', () => {
    const samples = trace(21, 2000);
    const now = samples[samples.length - 1]!.ts + 60_000;
    const clock = new ManualClock(now);
    const batches = chunks(samples, () => 25);

    const once = openSqliteStore(':memory:');
    const a = runner(once, clock);
    ingestAll(once, a, batches);

    const restarted = openSqliteStore(':memory:');
    ingestAll(restarted, runner(restarted, clock), batches.slice(0, 40));
    const b = runner(restarted, clock); // a new process: nothing in memory
    batches.slice(40).forEach((s, k) => {
      restarted.ingest(batch(`late-${k}`, s), START);
      b.ingest(s);
    });
    expect(derived(b, now)).toEqual(derived(a, now));
  });

  it('changed thresholds rebuild states from the first reading', () => {
    const samples = trace(31, 1500);
    const now = samples[samples.length - 1]!.ts + 60_000;
    const clock = new ManualClock(now);
    const store = openSqliteStore(':memory:');
    ingestAll(store, runner(store, clock), chunks(samples, () => 30));
    const stricter = resolveParams({ ...PARAMS, active_w: 500 });
    const after = runner(store, clock, stricter);
    const reference = openSqliteStore(':memory:');
    ingestAll(reference, runner(reference, clock, stricter), [samples]);
    expect(derived(after, now)).toEqual(derived(runner(reference, clock, stricter), now));
    // With active at 500 W, the ~450 W level is standby: far less effective time than before.
    const before = derived(runner(store, clock), now);
    expect(before.timeline.intervals.some((i) => i.state === 'active')).toBe(true);
  });

  it('reports live-state changes as the engine commits them', () => {
    const store = openSqliteStore(':memory:');
    const clock = new ManualClock(START);
    const r = runner(store, clock);
    const at = (k: number) => START + k * 10_000;
    const s = (k: number, power: number): Sample => ({ instrument_id: 'X', ts: at(k), readings: { power_w: power } });
    expect(r.ingest([s(0, 0), s(1, 0)])).toEqual([{ instrument_id: 'X', from: 'unknown', to: 'off', at: at(0) }]);
    // 450 W for 10 s: shorter than min_dwell (20 s), not yet a change.
    expect(r.ingest([s(2, 450), s(3, 450)])).toEqual([]);
    // Held for 20 s: active, dated back to its first sample.
    expect(r.ingest([s(4, 450)])).toEqual([{ instrument_id: 'X', from: 'off', to: 'active', at: at(2) }]);
  });
  it('commits a batch of many instruments in one transaction; a failed commit leaves the engine as the store is', () => {
    const store = openSqliteStore(':memory:');
    const clock = new ManualClock(START + 3_600_000);
    let transactions = 0;
    let failNext = false;
    const engineStore = {
      ...store.engine,
      atomically<T>(fn: () => T): T {
        transactions++;
        return store.engine.atomically(() => {
          const result = fn();
          // Fails after the engines ran and wrote: the whole batch's results roll back.
          if (failNext) throw new Error('disk I/O error (simulated at commit)');
          return result;
        });
      },
    };
    const r = new EngineRunner({ store: engineStore, params: () => PARAMS, timeZone: TZ, clock, logger: silentLogger() });
    const ids = ['A', 'B', 'C'];
    const at = (k: number, power: number): Sample[] => ids.map((id) => ({ instrument_id: id, ts: START + k * 10_000, readings: { power_w: power } }));
    // Off for a while, then active: every instrument changes state in the same batch.
    const first = [...Array(30).keys()].flatMap((k) => at(k, 0));
    store.ingest(batch('b0', first, { seq: 0 }), START);
    r.ingest(first);
    expect(transactions).toBe(1);
    const stateBefore = ids.map((id) => r.live(id, START + 300_000));

    failNext = true;
    const failing = [...Array(30).keys()].flatMap((k) => at(30 + k, 800));
    store.ingest(batch('b1', failing, { seq: 1 }), START);
    expect(r.ingest(failing)).toEqual([]);
    expect(transactions).toBe(2);
    // Nothing of the failed batch is in the engine's tables, and the runner forgot what it held in memory.
    expect(ids.map((id) => store.engine.loadState(id)?.lastTs)).toEqual(ids.map(() => START + 29 * 10_000));
    expect(ids.map((id) => r.live(id, START + 300_000))).toEqual(stateBefore);

    // A recompute rebuilds what the failed commit lost, the same as a runner that never failed.
    failNext = false;
    for (const id of ids) r.recompute(id, null);
    const clean = openSqliteStore(':memory:');
    const c = runner(clean, clock);
    clean.ingest(batch('b0', first, { seq: 0 }), START);
    c.ingest(first);
    clean.ingest(batch('b1', failing, { seq: 1 }), START);
    c.ingest(failing);
    const now = START + 3_600_000;
    for (const id of ids) expect(r.timeline(id, START, now)).toEqual(c.timeline(id, START, now));
    expect(ids.map((id) => r.live(id, START + 59 * 10_000).state)).toEqual(['active', 'active', 'active']);
    store.close();
    clean.close();
  });
});
