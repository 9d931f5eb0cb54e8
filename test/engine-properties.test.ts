import { describe, expect, it } from 'vitest';
import { mulberry32 as prng } from '../common/prng.ts';
import { InstrumentEngine, runEngine, type EngineCheckpoint } from '../collector/engine/engine.ts';
import { DEFAULT_ENGINE_PARAMS } from '../collector/engine/params.ts';
import { dailyRollups } from '../collector/engine/rollup.ts';
import { dayStart, localDay } from '../collector/engine/time-zone.ts';
import type { EngineParams, EngineSample, Session, StateInterval } from '../collector/engine/types.ts';

const TZ = 'Asia/Shanghai';
const TRACES = 300;


const pick = <T,>(rand: () => number, list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;

function randomParams(rand: () => number): EngineParams {
  return {
    ...DEFAULT_ENGINE_PARAMS,
    hysteresis: pick(rand, [0, 0.05, 0.1, 0.2]),
    min_dwell_s: pick(rand, [0, 10, 30, 120]),
    max_gap_s: pick(rand, [120, 300, 900]),
    merge_gap_s: pick(rand, [0, 300, 900]),
    warmup_max_s: pick(rand, [0, 600, 1800]),
    post_max_s: pick(rand, [0, 300, 900]),
    status_states: rand() < 0.5 ? DEFAULT_ENGINE_PARAMS.status_states : [...DEFAULT_ENGINE_PARAMS.status_states, { match: '^run', state: 'active' }],
  };
}

/** A random trace around local midnight: levels, flapping, spikes, gaps, read errors, statuses, counter resets. */
function randomTrace(rand: () => number): EngineSample[] {
  const samples: EngineSample[] = [];
  let t = dayStart('2025-03-03', TZ) - Math.floor(rand() * 6 * 3_600_000);
  const step = pick(rand, [5, 10, 30, 60, 120]) * 1000;
  let level = pick(rand, [0, 150, 800]);
  let counter = rand() < 0.5 ? rand() * 100 : null;
  const n = 50 + Math.floor(rand() * 400);
  for (let i = 0; i < n; i++) {
    if (rand() < 0.08) level = pick(rand, [0, 5, 9.5, 50, 150, 380, 410, 445, 800, 2000]);
    const s: EngineSample = { ts: t };
    if (rand() < 0.03) s.error = 'JISHI_ERR_DEVICE_TIMEOUT';
    else {
      if (rand() < 0.95) s.power_w = level * (0.9 + 0.2 * rand());
      if (rand() < 0.04) s.status = pick(rand, ['ALARM 3', 'READY', 'NO ERROR', 'RUN']);
      if (counter !== null) {
        counter = rand() < 0.01 ? rand() : counter + (level * step) / 3.6e9;
        s.energy_kwh = counter;
      }
    }
    samples.push(s);
    const g = rand();
    t += g < 0.02 ? Math.round((900 + rand() * 7200) * 1000) : g < 0.05 ? Math.max(1, Math.round(rand() * 900_000)) : step;
  }
  return samples;
}

interface Case {
  seed: number;
  params: EngineParams;
  samples: EngineSample[];
  now: number;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (let seed = 1; seed <= TRACES; seed++) {
    const rand = prng(seed);
    const params = randomParams(rand);
    const samples = randomTrace(rand);
    const now = samples[samples.length - 1]!.ts + Math.floor(rand() * 3 * params.max_gap_s * 1000);
    out.push({ seed, params, samples, now });
  }
  return out;
}

const CASES = cases();

/** Streams the samples in random chunks, draining, peeking and restoring from JSON checkpoints in between. */
function streamed(c: Case, rand: () => number): { intervals: StateInterval[]; sessions: Session[] } {
  let engine = new InstrumentEngine(c.params);
  const intervals: StateInterval[] = [];
  const sessions: Session[] = [];
  let i = 0;
  while (i < c.samples.length) {
    const size = 1 + Math.floor(rand() * (rand() < 0.5 ? 3 : 60));
    for (const s of c.samples.slice(i, i + size)) engine.push(s);
    i += size;
    const r = rand();
    if (r < 0.3) {
      const out = engine.drain();
      intervals.push(...out.intervals);
      sessions.push(...out.sessions);
    }
    if (rand() < 0.3) {
      const before = engine.checkpoint();
      engine.peek(c.now);
      expect(engine.checkpoint()).toEqual(before); // peek does not change the engine
    }
    if (rand() < 0.3) {
      const cp = engine.checkpoint();
      engine = new InstrumentEngine(c.params, JSON.parse(JSON.stringify(cp)) as EngineCheckpoint);
      expect(engine.checkpoint()).toEqual(cp); // an identical engine
    }
  }
  const out = engine.drain();
  const tail = engine.peek(c.now);
  return { intervals: [...intervals, ...out.intervals, ...tail.intervals], sessions: [...sessions, ...out.sessions, ...tail.sessions] };
}

describe('engine properties (seeded random traces)', () => {
  it('intervals are contiguous, merged, non-empty and cover [first sample, now) exactly', () => {
    for (const c of CASES) {
      const { intervals } = runEngine(c.samples, c.params, { now: c.now });
      expect(intervals[0]?.start, `seed ${c.seed}`).toBe(c.samples[0]!.ts);
      expect(intervals[intervals.length - 1]?.end, `seed ${c.seed}`).toBe(c.now);
      intervals.forEach((iv, k) => {
        expect(iv.end, `seed ${c.seed}`).toBeGreaterThan(iv.start);
        expect(iv.energy_kwh, `seed ${c.seed}`).toBeGreaterThanOrEqual(0);
        if (k > 0) {
          expect(iv.start, `seed ${c.seed}`).toBe(intervals[k - 1]!.end);
          expect(iv.state, `seed ${c.seed}`).not.toBe(intervals[k - 1]!.state);
        }
      });
    }
  });

  it('streaming in random chunks with drains, peeks and JSON checkpoint restores equals one-shot runEngine', () => {
    for (const c of CASES) {
      const expected = runEngine(c.samples, c.params, { now: c.now });
      expect(streamed(c, prng(c.seed * 7919)), `seed ${c.seed}`).toEqual(expected);
      expect(streamed(c, prng(c.seed * 104729)), `seed ${c.seed}`).toEqual(expected);
    }
  });

  it('sessions are sorted, never overlap, and cover only standby and active time', () => {
    for (const c of CASES) {
      const { intervals, sessions } = runEngine(c.samples, c.params, { now: c.now });
      sessions.forEach((s, k) => {
        expect(s.end, `seed ${c.seed}`).toBeGreaterThan(s.start);
        if (k > 0) expect(s.start, `seed ${c.seed}`).toBeGreaterThanOrEqual(sessions[k - 1]!.end);
        let active = 0;
        let working = 0;
        for (const iv of intervals) {
          const overlap = Math.min(iv.end, s.end) - Math.max(iv.start, s.start);
          if (overlap <= 0) continue;
          if (iv.state === 'active') active += overlap;
          if (iv.state === 'active' || iv.state === 'standby') working += overlap;
        }
        expect(working, `seed ${c.seed}`).toBe(s.end - s.start);
        expect(active / 1000, `seed ${c.seed}`).toBeCloseTo(s.active_s, 6);
        expect(s.warmup_s <= c.params.warmup_max_s && s.post_s <= c.params.post_max_s, `seed ${c.seed}`).toBe(true);
      });
    }
  });

  it('daily rollups: states sum to period_s, effective_s <= standby_s + active_s, coverage in [0, 1]', () => {
    for (const c of CASES) {
      const { intervals, sessions } = runEngine(c.samples, c.params, { now: c.now });
      const from = dayStart(localDay(c.samples[0]!.ts, TZ), TZ) + (c.seed % 3) * 3_600_000;
      for (const r of dailyRollups(intervals, sessions, { timeZone: TZ, from, to: c.now })) {
        const sum = r.off_s + r.standby_s + r.active_s + r.fault_s + r.unknown_s;
        expect(sum, `seed ${c.seed} ${r.day}`).toBeCloseTo(r.period_s, 6);
        expect(r.effective_s, `seed ${c.seed} ${r.day}`).toBeLessThanOrEqual(r.standby_s + r.active_s + 1e-6);
        expect(r.coverage, `seed ${c.seed}`).toBeGreaterThanOrEqual(0);
        expect(r.coverage, `seed ${c.seed}`).toBeLessThanOrEqual(1);
      }
    }
  });

  it('recompute contract: a shuffled copy with duplicates, sorted again, gives the same result', () => {
    for (const c of CASES.slice(0, 100)) {
      const rand = prng(c.seed * 31);
      const copy = [...c.samples, ...c.samples.filter(() => rand() < 0.1).map((s) => ({ ...s }))];
      for (let k = copy.length - 1; k > 0; k--) {
        const j = Math.floor(rand() * (k + 1));
        [copy[k], copy[j]] = [copy[j]!, copy[k]!];
      }
      copy.sort((a, b) => a.ts - b.ts);
      expect(runEngine(copy, c.params, { now: c.now }), `seed ${c.seed}`).toEqual(runEngine(c.samples, c.params, { now: c.now }));
    }
  });

  it('a checkpoint taken before the first sample of a local day replays that day and after exactly', () => {
    for (const c of CASES) {
      const full = runEngine(c.samples, c.params, { now: c.now });
      const engine = new InstrumentEngine(c.params);
      const before: { intervals: StateInterval[]; sessions: Session[] } = { intervals: [], sessions: [] };
      let checkpoint: EngineCheckpoint | null = null;
      let rest: EngineSample[] = [];
      for (const [k, s] of c.samples.entries()) {
        if (k > 0 && localDay(s.ts, TZ) !== localDay(c.samples[k - 1]!.ts, TZ)) {
          // Taken mid-stream without a drain, as the engine runner does: pending output rides in the checkpoint.
          checkpoint = JSON.parse(JSON.stringify(engine.checkpoint())) as EngineCheckpoint;
          rest = c.samples.slice(k);
          break;
        }
        engine.push(s);
        if (k % 17 === 0) {
          const out = engine.drain();
          before.intervals.push(...out.intervals);
          before.sessions.push(...out.sessions);
        }
      }
      if (checkpoint === null) continue;
      const after = runEngine(rest, c.params, { now: c.now, checkpoint });
      expect({ intervals: [...before.intervals, ...after.intervals], sessions: [...before.sessions, ...after.sessions] }, `seed ${c.seed}`).toEqual(full);
      // The frontiers: nothing the restored engine outputs starts before them, nothing drained before ends after.
      const { intervals_from, sessions_from } = checkpoint;
      for (const iv of after.intervals) expect(iv.start).toBeGreaterThanOrEqual(intervals_from!);
      for (const s of after.sessions) expect(s.start).toBeGreaterThanOrEqual(sessions_from!);
      for (const iv of before.intervals) expect(iv.end).toBeLessThanOrEqual(intervals_from!);
      for (const s of before.sessions) expect(s.end).toBeLessThanOrEqual(sessions_from!);
      expect(intervals_from!).toBeLessThan(dayStart(localDay(rest[0]!.ts, TZ), TZ) + 1);
    }
  });
});
