import { describe, expect, it } from 'vitest';
import { runEngine } from '../collector/engine/engine.ts';
import { DEFAULT_ENGINE_PARAMS } from '../collector/engine/params.ts';
import { buildSessions } from '../collector/engine/sessions.ts';
import type { EngineParams, EngineSample, InstrumentState, StateInterval } from '../collector/engine/types.ts';

const P: EngineParams = DEFAULT_ENGINE_PARAMS; // merge 15 min, warm-up <= 30 min, post <= 15 min
const T = Date.UTC(2025, 5, 2, 0); // 2025-06-02 08:00 in Asia/Shanghai
const M = 60_000;

/** Contiguous intervals from [state, minutes, kWh] steps, starting at T. */
function timeline(steps: Array<[InstrumentState, number, number?]>): StateInterval[] {
  let t = T;
  return steps.map(([state, minutes, energy]) => {
    const iv = { start: t, end: t + minutes * M, state, energy_kwh: energy ?? 0 };
    t = iv.end;
    return iv;
  });
}

/** Sessions as [start min, end min, warm-up s, active s, post s] relative to T. */
const brief = (sessions: ReturnType<typeof buildSessions>) =>
  sessions.map((s) => [(s.start - T) / M, (s.end - T) / M, s.warmup_s, s.active_s, s.post_s]);

describe('sessions', () => {
  it('merges across a 10-min standby but not across a 20-min one, splitting that between post and warm-up', () => {
    const intervals = timeline([
      ['off', 60],
      ['standby', 60, 0.15], // 60-120 min
      ['active', 60, 0.8], // 120-180
      ['standby', 10, 0.025], // 180-190: <= 15 min, absorbed
      ['active', 50, 0.7], // 190-240
      ['standby', 20, 0.04], // 240-260: > 15 min: ends the session
      ['active', 40, 0.5], // 260-300
      ['standby', 60, 0.15], // 300-360
      ['off', 60],
    ]);
    const sessions = buildSessions(intervals, P);
    expect(brief(sessions)).toEqual([
      // warm-up: last 30 of the 60 min standby (90-120); active 60 + 50 min; the 10 min standby inside;
      // post: first 15 min of the 20 min standby (240-255).
      [90, 255, 1800, 6600, 900],
      // warm-up: what is left of the 20 min standby (255-260, 5 min); post: first 15 min of the last standby.
      [255, 315, 300, 2400, 900],
    ]);
    // 0.15 x 30/60 + 0.8 + 0.025 + 0.7 + 0.04 x 15/20 = 0.075 + 1.525 + 0.03 = 1.63 kWh
    expect(sessions[0]!.energy_kwh).toBeCloseTo(1.63, 9);
    // 0.04 x 5/20 + 0.5 + 0.15 x 15/60 = 0.01 + 0.5 + 0.0375 = 0.5475 kWh
    expect(sessions[1]!.energy_kwh).toBeCloseTo(0.5475, 9);
    // Never overlapping: the second starts where the first ends.
    expect(sessions[1]!.start).toBe(sessions[0]!.end);
  });

  it('caps warm-up and post-processing, and merges a standby of exactly merge_gap', () => {
    const sessions = buildSessions(
      timeline([
        ['standby', 60], // 0-60: warm-up capped at its last 30 min
        ['active', 30], // 60-90
        ['standby', 15], // 90-105: exactly 15 min: merged
        ['active', 30], // 105-135
        ['standby', 40], // 135-175: post capped at its first 15 min
        ['off', 10],
      ]),
      P,
    );
    expect(brief(sessions)).toEqual([[30, 150, 1800, 3600, 900]]);
  });

  it('a session ends at off, fault or unknown without post; warm-up needs standby right before', () => {
    const sessions = buildSessions(
      timeline([
        ['active', 10], // 0-10, no warm-up (nothing before)
        ['fault', 5],
        ['active', 10], // 15-25: after a fault, no warm-up
        ['unknown', 5],
        ['standby', 20],
        ['active', 10], // 50-60, warm-up 20 min
        ['off', 5],
      ]),
      P,
    );
    expect(brief(sessions)).toEqual([
      [0, 10, 0, 600, 0],
      [15, 25, 0, 600, 0],
      [30, 60, 1200, 600, 0],
    ]);
  });

  it('with zero caps a session is its active periods and the short standby between them', () => {
    const sessions = buildSessions(
      timeline([
        ['standby', 30],
        ['active', 10],
        ['standby', 5],
        ['active', 10],
        ['standby', 30],
      ]),
      { ...P, warmup_max_s: 0, post_max_s: 0 },
    );
    expect(brief(sessions)).toEqual([[30, 55, 0, 1200, 0]]);
  });

  it('from samples: a 10-min standby pause merges, a 20-min one does not', () => {
    const samples: EngineSample[] = [];
    // Minutes: 0-20 standby, 20-50 active, 50-60 standby (10), 60-90 active, 90-110 standby (20), 110-130 active,
    // 130-140 standby, 140-150 off. 1-min samples at 150 W / 800 W / 2 W.
    const plan: Array<[number, number]> = [
      [20, 150], [30, 800], [10, 150], [30, 800], [20, 150], [20, 800], [10, 150], [10, 2],
    ];
    let t = T;
    for (const [minutes, power_w] of plan) for (let i = 0; i < minutes; i++, t += M) samples.push({ ts: t, power_w });
    const { sessions } = runEngine(samples, P, { now: t });
    expect(brief(sessions)).toEqual([
      [0, 105, 1200, 3600, 900], // warm-up 20 min, active 30 + 30, pause 10, post 15 of the 20 min standby
      [105, 140, 300, 1200, 600], // warm-up: the 5 min left; post: the whole 10 min standby before off
    ]);
  });
});
