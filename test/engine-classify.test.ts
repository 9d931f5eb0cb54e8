import { describe, expect, it } from 'vitest';
import { CheckpointMismatchError, EngineParamsError, InstrumentEngine, OutOfOrderError, runEngine } from '../collector/engine/engine.ts';
import { DEFAULT_ENGINE_PARAMS, FAULT_WORDS_MATCH, resolveParams, validateParams } from '../collector/engine/params.ts';
import type { EngineParams, EngineSample, StateInterval } from '../collector/engine/types.ts';
import { compileStatusStates, statusState } from '../collector/engine/classify.ts';

/** 2025-03-03 00:00 in Asia/Shanghai (+08:00). */
const DAY0 = Date.UTC(2025, 2, 2, 16);
const H = 3_600_000;
const M = 60_000;
const S = 1000;
const P: EngineParams = DEFAULT_ENGINE_PARAMS;

/** Samples at from, from+step, ... (< to), each with the given fields (or the fields returned for its index). */
function series(from: number, to: number, step: number, fields: Omit<EngineSample, 'ts'> | ((i: number) => Omit<EngineSample, 'ts'>)) {
  const out: EngineSample[] = [];
  for (let t = from, i = 0; t < to; t += step, i++) out.push({ ts: t, ...(typeof fields === 'function' ? fields(i) : fields) });
  return out;
}

/** Intervals as [state, start s, end s] relative to `origin`. */
function shape(intervals: StateInterval[], origin: number) {
  return intervals.map((i) => [i.state, (i.start - origin) / S, (i.end - origin) / S]);
}

const kwh = (watts: number, seconds: number) => (watts * seconds) / 3_600_000;

describe('params', () => {
  it('has the DOMAIN defaults and resolves max_gap from the sample interval', () => {
    expect(P).toMatchObject({ off_w: 10, active_w: 400, hysteresis: 0.1, min_dwell_s: 30, max_gap_s: 900 });
    expect(P).toMatchObject({ merge_gap_s: 900, warmup_max_s: 1800, post_max_s: 900 });
    expect(P.status_states).toEqual([{ match: FAULT_WORDS_MATCH, state: 'fault' }]);
    expect(resolveParams({}).max_gap_s).toBe(900);
    expect(resolveParams({}, 60_000).max_gap_s).toBe(300); // 5 x 60 s
    expect(resolveParams({ max_gap_s: 600 }, 60_000).max_gap_s).toBe(600); // explicit wins
    expect(resolveParams({ off_w: 100, active_w: undefined })).toMatchObject({ off_w: 100, active_w: 400 });
    expect(validateParams(P)).toEqual([]);
  });

  it('reports every problem at once, quoting the values', () => {
    const bad = { ...P, off_w: 500, hysteresis: 0.7, max_gap_s: 0, min_dwell_s: -1, status_states: [{ match: '(', state: 'busy' }] };
    expect(validateParams(bad as unknown as EngineParams)).toEqual(['min_dwell_s must not be negative (got -1)']);
    const errors = validateParams({ ...bad, min_dwell_s: 0 } as unknown as EngineParams);
    expect(errors).toHaveLength(5);
    expect(errors[0]).toBe('off_w (500) must be below active_w (400)');
    expect(errors.join('\n')).toMatch(/hysteresis must be between 0 and 0.5 \(got 0.7\)/);
    expect(errors.join('\n')).toMatch(/max_gap_s must be above 0/);
    expect(errors.join('\n')).toMatch(/status_states\[0\].match "\(" is not a valid regex/);
    expect(errors.join('\n')).toMatch(/status_states\[0\].state must be one of/);
    expect(validateParams({ ...P, off_w: 300, hysteresis: 0.2 })[0]).toMatch(/bands overlap/); // 360 > 320
    expect(() => new InstrumentEngine({ ...P, off_w: 500 })).toThrow(EngineParamsError);
  });

  it('restores a checkpoint only with the parameters it was taken with', () => {
    const engine = new InstrumentEngine(P);
    engine.push({ ts: DAY0, power_w: 150 });
    const cp = JSON.parse(JSON.stringify(engine.checkpoint()));
    expect(new InstrumentEngine(resolveParams({}), cp).lastTs).toBe(DAY0);
    expect(() => new InstrumentEngine({ ...P, active_w: 500 }, cp)).toThrow(CheckpointMismatchError);
    expect(() => new InstrumentEngine(P, { ...cp, version: 2 })).toThrow(CheckpointMismatchError);
  });
});

describe('classification', () => {
  it('a clean off -> standby -> active -> standby -> off day (1-min samples)', () => {
    const at = (h: number, m = 0) => DAY0 + h * H + m * M;
    const samples = [
      ...series(at(8), at(9), M, { power_w: 2 }),
      ...series(at(9), at(9, 30), M, { power_w: 150 }),
      ...series(at(9, 30), at(11, 30), M, { power_w: 800 }),
      ...series(at(11, 30), at(12), M, { power_w: 150 }),
      ...series(at(12), at(13), M, { power_w: 2 }), // last sample 12:59
    ];
    const { intervals, sessions } = runEngine(samples, P, { now: at(13) });
    expect(shape(intervals, at(0))).toEqual([
      ['off', 8 * 3600, 9 * 3600],
      ['standby', 9 * 3600, 9.5 * 3600],
      ['active', 9.5 * 3600, 11.5 * 3600],
      ['standby', 11.5 * 3600, 12 * 3600],
      ['off', 12 * 3600, 13 * 3600], // 12:59 held until now = 13:00
    ]);
    // Sample-and-hold: each sample's power over the next minute.
    const expected = [kwh(2, 3600), kwh(150, 1800), kwh(800, 7200), kwh(150, 1800), kwh(2, 3600)]; // 0.002, 0.075, 1.6, 0.075, 0.002
    intervals.forEach((iv, i) => expect(iv.energy_kwh).toBeCloseTo(expected[i]!, 9));
    // One session: warm-up = all 30 min of standby (cap 30), active 2 h, post = first 15 of the 30 min standby.
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ start: at(9), end: at(11, 45), active_s: 7200, warmup_s: 1800, post_s: 900 });
    expect(sessions[0]!.energy_kwh).toBeCloseTo(0.075 + 1.6 + 0.075 / 2, 9); // 1.7125
    const peek = new InstrumentEngine(P);
    for (const s of samples) peek.push(s);
    expect(peek.peek(at(13))).toMatchObject({ state: 'off', since: at(12) });
  });

  it('flapping around the active threshold is absorbed by hysteresis, by dwell, and by both', () => {
    const T = DAY0 + 10 * H;
    // 0-300 s standby 150 W; 300-600 s flapping just under/over 400 W; 600-1200 s active 800 W;
    // 1200-1500 s flapping just under/over 400 W; 1500-1800 s standby 150 W. 10-s samples, now = 1800 s.
    const trace = (up: number[], down: number[]) => [
      ...series(T, T + 300 * S, 10 * S, { power_w: 150 }),
      ...series(T + 300 * S, T + 600 * S, 10 * S, (i) => ({ power_w: up[i % up.length]! })),
      ...series(T + 600 * S, T + 1200 * S, 10 * S, { power_w: 800 }),
      ...series(T + 1200 * S, T + 1500 * S, 10 * S, (i) => ({ power_w: down[i % down.length]! })),
      ...series(T + 1500 * S, T + 1800 * S, 10 * S, { power_w: 150 }),
    ];
    const expected = [
      ['standby', 0, 600],
      ['active', 600, 1500],
      ['standby', 1500, 1800],
    ];
    // Hysteresis alone (no dwell): from standby, active needs >= 440 W; from active, standby needs < 360 W.
    const band = trace([390, 430, 410, 435], [370, 420, 365, 395]);
    expect(shape(runEngine(band, { ...P, min_dwell_s: 0 }, { now: T + 1800 * S }).intervals, T)).toEqual(expected);
    // Dwell alone (no hysteresis): every other sample crosses 400 W, no run lasts 30 s. (The last flapping
    // samples, at 590 s and 1490 s, are 390 W and 420 W, so no run touches the 800 W block.)
    const alternating = trace([410, 390], [370, 420]);
    expect(shape(runEngine(alternating, { ...P, hysteresis: 0 }, { now: T + 1800 * S }).intervals, T)).toEqual(expected);
    // Defaults (both).
    expect(shape(runEngine(band, P, { now: T + 1800 * S }).intervals, T)).toEqual(expected);
    expect(shape(runEngine(alternating, P, { now: T + 1800 * S }).intervals, T)).toEqual(expected);
    // Without either, the alternation flips the state every 10 s.
    expect(runEngine(alternating, { ...P, hysteresis: 0, min_dwell_s: 0 }, { now: T + 1800 * S }).intervals.length).toBeGreaterThan(50);
  });

  it('a spike shorter than min_dwell is absorbed; a 40 s burst is active for exactly 40 s', () => {
    const T = DAY0 + 10 * H;
    const power = (t: number) => ((t >= 300 && t < 320) || (t >= 600 && t < 640) ? 2000 : 150);
    const samples = series(T, T + 900 * S, 10 * S, (i) => ({ power_w: power(i * 10) }));
    const { intervals, sessions } = runEngine(samples, P, { now: T + 900 * S });
    // Spike: samples at 300 and 310 s; at 320 s the run has lasted 20 s < 30 s. Burst: at 630 s it has lasted 30 s,
    // dated back to 600 s; from 640 s the 150 W run is taken at 670 s, dated back to 640 s.
    expect(shape(intervals, T)).toEqual([
      ['standby', 0, 600],
      ['active', 600, 640],
      ['standby', 640, 900],
    ]);
    // Standby 0-600 s: 58 steps x 150 W x 10 s + 2 spike steps x 2000 W x 10 s = 87000 + 40000 J = 127000 J.
    expect(intervals[0]!.energy_kwh).toBeCloseTo(127000 / 3_600_000, 9);
    expect(intervals[1]!.energy_kwh).toBeCloseTo(kwh(2000, 40), 9); // 4 steps x 2000 W x 10 s
    // Warm-up = the whole 600 s standby (< 30 min cap), post = the 260 s standby since (as if no more data).
    expect(sessions).toEqual([expect.objectContaining({ start: T, end: T + 900 * S, warmup_s: 600, active_s: 40, post_s: 260 })]);
  });

  it('a gap longer than max_gap is unknown (not carried); a shorter one is carried', () => {
    const T = DAY0 + 10 * H;
    const on = { power_w: 800 };
    const samples = [
      ...series(T, T + 1801 * S, 60 * S, on), // 0 .. 1800 s
      ...series(T + 3000 * S, T + 3601 * S, 60 * S, on), // 20 min gap (> 15 min): unknown 1800 - 3000 s
      ...series(T + 4200 * S, T + 4801 * S, 60 * S, on), // 10 min gap (<= 15 min): carried
    ];
    const { intervals, sessions } = runEngine(samples, P, { now: T + 4860 * S });
    expect(shape(intervals, T)).toEqual([
      ['active', 0, 1800],
      ['unknown', 1800, 3000],
      ['active', 3000, 4860],
    ]);
    expect(intervals[0]!.energy_kwh).toBeCloseTo(kwh(800, 1800), 9); // 0.4 kWh
    expect(intervals[1]!.energy_kwh).toBe(0); // no counter: nothing is guessed over a long gap
    expect(intervals[2]!.energy_kwh).toBeCloseTo(kwh(800, 1860), 9); // the 10 min gap and the last minute held
    expect(sessions.map((s) => [(s.start - T) / S, (s.end - T) / S, s.active_s])).toEqual([
      [0, 1800, 1800],
      [3000, 4860, 1860],
    ]);
    // After the last sample (4800 s) the state holds for max_gap (until 5700 s), then unknown.
    const late = runEngine(samples, P, { now: T + 8400 * S });
    expect(shape(late.intervals, T).slice(2)).toEqual([
      ['active', 3000, 5700],
      ['unknown', 5700, 8400],
    ]);
    const engine = new InstrumentEngine(P);
    for (const s of samples) engine.push(s);
    expect(engine.peek(T + 8400 * S)).toMatchObject({ state: 'unknown', since: T + 5700 * S });
  });

  it('a device fault status outranks power and is taken without dwell; NO ERROR is not a fault', () => {
    const T = DAY0 + 10 * H;
    const sample = (t: number): Omit<EngineSample, 'ts'> =>
      t < 300 ? { power_w: 150, status: 'READY' }
      : t < 320 ? { power_w: 800, status: 'ALARM_TEMP' }
      : t < 600 ? { power_w: 150, status: 'READY' }
      : { power_w: 800, status: 'NO ERROR' };
    const samples = series(T, T + 900 * S, 10 * S, (i) => sample(i * 10));
    const { intervals, sessions } = runEngine(samples, P, { now: T + 900 * S });
    expect(shape(intervals, T)).toEqual([
      ['standby', 0, 300],
      ['fault', 300, 320], // 2 samples, 20 s: a fault needs no dwell; leaving it does (dated back to 320 s)
      ['standby', 320, 600],
      ['active', 600, 900],
    ]);
    // The fault ends any session; the next one warms up on the 280 s standby after it.
    expect(sessions).toEqual([expect.objectContaining({ start: T + 320 * S, end: T + 900 * S, warmup_s: 280, active_s: 300 })]);
  });

  it('maps device status to states with status_states (first match wins)', () => {
    const T = DAY0;
    const params: EngineParams = {
      ...P,
      status_states: [
        { match: FAULT_WORDS_MATCH, state: 'fault' },
        { match: '^run', state: 'active' },
      ],
    };
    const samples = [
      ...series(T, T + 300 * S, 10 * S, { power_w: 150, status: 'IDLE' }),
      ...series(T + 300 * S, T + 600 * S, 10 * S, { power_w: 150, status: 'RUNNING' }),
      ...series(T + 600 * S, T + 700 * S, 10 * S, { status: 'RUN ERROR 5' }),
    ];
    expect(shape(runEngine(samples, params, { now: T + 700 * S }).intervals, T)).toEqual([
      ['standby', 0, 300], // IDLE matches nothing: power decides
      ['active', 300, 600], // RUNNING -> active despite 150 W (after the 30 s dwell, dated back)
      ['fault', 600, 700], // fault words first
    ]);
  });

  it('read errors: a short burst is carried like a short gap, a long one is unknown from its first sample', () => {
    const T = DAY0 + 10 * H;
    const bad = (t: number) => t === 300 || t === 310 || (t >= 600 && t < 660);
    const samples = series(T, T + 900 * S, 10 * S, (i) => (bad(i * 10) ? { error: 'JISHI_ERR_DEVICE_TIMEOUT' } : { power_w: 800 }));
    const { intervals, sessions } = runEngine(samples, P, { now: T + 900 * S });
    // 300-320 s: 20 s of errors < 30 s dwell. 600-660 s: taken at 630 s, dated back to 600 s; the first good
    // sample after unknown (660 s) is taken at once.
    expect(shape(intervals, T)).toEqual([
      ['active', 0, 600],
      ['unknown', 600, 660],
      ['active', 660, 900],
    ]);
    // Steps whose left sample is an error have no energy: 60 - 2 = 58 steps x 800 W x 10 s = 464000 J.
    expect(intervals[0]!.energy_kwh).toBeCloseTo(464000 / 3_600_000, 9);
    expect(intervals[1]!.energy_kwh).toBe(0);
    expect(intervals[2]!.energy_kwh).toBeCloseTo(kwh(800, 240), 9); // 23 steps + the last 10 s held
    expect(sessions.map((s) => [(s.start - T) / S, (s.end - T) / S])).toEqual([
      [0, 600],
      [660, 900],
    ]);
  });

  it('uses the energy counter, and the power integral for a step where the counter goes down (reset)', () => {
    const T = DAY0;
    // 1-min samples at 500 W; the counter adds 0.01 kWh a minute, and is reset between samples 10 and 11.
    const samples = series(T, T + 21 * M, M, (i) => ({ power_w: 500, energy_kwh: i <= 10 ? 100 + 0.01 * i : 0.002 + 0.01 * (i - 11) }));
    const { intervals } = runEngine(samples, P, { now: T + 20 * M });
    expect(shape(intervals, T)).toEqual([['active', 0, 1200]]);
    // 19 counter steps x 0.01 kWh + the reset step from power: 500 W x 60 s = 0.008333 kWh.
    expect(intervals[0]!.energy_kwh).toBeCloseTo(0.19 + kwh(500, 60), 9);
  });

  it('ignores samples at the last sample time and rejects earlier ones', () => {
    const engine = new InstrumentEngine(P);
    expect(engine.lastTs).toBeNull();
    expect(engine.peek(DAY0)).toEqual({ intervals: [], sessions: [], state: 'unknown', since: null });
    expect(engine.push({ ts: DAY0, power_w: 150 })).toBe(true);
    expect(engine.push({ ts: DAY0, power_w: 150 })).toBe(false); // exact duplicate
    expect(engine.push({ ts: DAY0, power_w: 900 })).toBe(false); // same time, other reading: the first one wins
    expect(() => engine.push({ ts: DAY0 - 1, power_w: 150 })).toThrow(OutOfOrderError);
    expect(engine.lastTs).toBe(DAY0);
    expect(engine.peek(DAY0 + M)).toMatchObject({ state: 'standby', since: DAY0, intervals: [{ state: 'standby', start: DAY0, end: DAY0 + M }] });
  });

  it('a single sample between two long gaps merges the unknowns around it', () => {
    const T = DAY0;
    const samples = [
      { ts: T, power_w: 150 },
      { ts: T + 60 * M, power_w: 800 }, // 1 h gap: unknown from 0; this sample starts active at once...
      { ts: T + 120 * M, power_w: 800 }, // ...but the next gap is long too: zero time in active
    ];
    expect(shape(runEngine(samples, P, { now: T + 121 * M }).intervals, T)).toEqual([
      ['unknown', 0, 7200],
      ['active', 7200, 7260],
    ]);
  });
});

describe('device-mapped status (`<state>: <raw>`, sent by agents whose profile maps the status)', () => {
  const own = compileStatusStates([
    { match: '^active: RUN$', state: 'fault' },
    { match: FAULT_WORDS_MATCH, state: 'fault' },
  ]);
  it('gives the mapped state, after the instrument rules and before the fault words', () => {
    expect(statusState('standby: READY', compileStatusStates(P.status_states))).toBe('standby');
    expect(statusState('off: 4', compileStatusStates(P.status_states))).toBe('off');
    // The profile mapped "ERR" to active on purpose: the mapping outranks the fault words.
    expect(statusState('active: ERR-LOG FULL', compileStatusStates(P.status_states))).toBe('active');
    // An instrument's own rule outranks the mapping.
    expect(statusState('active: RUN', own)).toBe('fault');
    // Unmapped raw text: the fault words still apply, and no rule means no state.
    expect(statusState('ERR 12', compileStatusStates(P.status_states))).toBe('fault');
    expect(statusState('RUN', compileStatusStates(P.status_states))).toBeUndefined();
    // Only the exact lower-case form is a mapping; with no built-in rule it is tried last.
    expect(statusState('Active: RUN', compileStatusStates([]))).toBeUndefined();
    expect(statusState('active:RUN', compileStatusStates([]))).toBeUndefined();
    expect(statusState('active: RUN', compileStatusStates([]))).toBe('active');
  });

  it('classifies a status-only instrument (no power) through the mapping', () => {
    const T = DAY0;
    const samples = [
      ...series(T, T + 300 * S, 10 * S, { status: 'standby: READY' }),
      ...series(T + 300 * S, T + 600 * S, 10 * S, { status: 'active: RUN' }),
    ];
    expect(shape(runEngine(samples, P, { now: T + 600 * S }).intervals, T)).toEqual([
      ['standby', 0, 300],
      ['active', 300, 600],
    ]);
  });
});
