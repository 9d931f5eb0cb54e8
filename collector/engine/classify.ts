/**
 * State classification of one instrument's time-ordered samples into maximal state intervals.
 *
 * Rules (DOMAIN "Instrument states", "Missing data"):
 * - Raw state of a sample: `error` -> unknown; else the first `status_states` rule matching `status`, where a
 *   state the agent's profile mapped the status to (`active: RUN`) is tried just before the built-in fault
 *   words (all outrank power); else power with hysteresis relative to the current (committed) state: entering a higher state needs
 *   power >= threshold*(1+h), leaving to a lower one needs power < threshold*(1-h). From fault/unknown (no power
 *   state to hold) the plain thresholds apply. No power and no matching status -> unknown.
 * - Minimum dwell: a different raw state becomes the state once its run has lasted min_dwell_s (the run counts
 *   up to the latest sample time, carried time included), and the change is dated back to the run's first
 *   sample. A shorter run is absorbed by the current state. Taken at once, without dwell: `fault` (a
 *   device-reported fault is trusted), any known state while the state is unknown (the first state after
 *   unknown), and unknown from a gap. Read errors are not exempt: a short burst of them is carried over like a
 *   short gap.
 * - Gaps: [t_i, t_i+1) is unknown when t_i+1 - t_i > max_gap_s (the last state is not carried), otherwise it
 *   carries the state. After the last sample the state holds until min(now, t_last + max_gap), then unknown.
 * - Energy of a step [t_i, t_i+1): the energy_kwh counter delta when both samples have one and it does not go
 *   down; else (no counter, or a reset) the power of the left sample held over the step (sample-and-hold, like
 *   the state); 0 when the left sample has no power. Over a gap longer than max_gap only a counter delta counts.
 *   Readings of a sample with `error` are ignored; negative power counts as 0 energy.
 *
 * Every state change happens at a sample time, so each step's energy belongs to exactly one interval.
 * The state is a plain JSON object (checkpointable); functions mutate it and append released intervals to `out`.
 */
import { isFaultStatus } from './fault-words.ts';
import { FAULT_WORDS_MATCH } from './params.ts';
import type { EngineParams, EngineSample, InstrumentState, StateInterval } from './types.ts';

/** A sample as the engine keeps it: JSON-safe (null for absent, non-finite readings dropped). */
export interface KeptSample {
  ts: number;
  power_w: number | null;
  energy_kwh: number | null;
  status: string | null;
  error: string | null;
}

function num(v: number | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function keepSample(s: EngineSample): KeptSample {
  return {
    ts: s.ts,
    power_w: num(s.power_w),
    energy_kwh: num(s.energy_kwh),
    status: typeof s.status === 'string' ? s.status : null,
    error: (s.error as unknown) == null ? null : String(s.error),
  };
}

export interface StatusMatcher {
  test: (status: string) => boolean;
  state: InstrumentState;
  /** The built-in fault-words rule: the device-mapped state (deviceMappedState) is tried just before it. */
  builtin?: true;
}

const DEVICE_MAPPED = /^(off|standby|active|fault|unknown): /;

/**
 * The state an agent's device profile already mapped the status to: agents send a mapped status as
 * `<state>: <raw status>` (devices/profile.ts mappedStatus), e.g. `active: RUN`. Lower-case state, colon, space.
 */
export function deviceMappedState(status: string): InstrumentState | undefined {
  const m = DEVICE_MAPPED.exec(status);
  return m ? (m[1] as InstrumentState) : undefined;
}

/** Compiled `status_states` rules (case-insensitive regexes; FAULT_WORDS_MATCH means isFaultStatus). */
export function compileStatusStates(rules: EngineParams['status_states']): StatusMatcher[] {
  return rules.map((r) => {
    if (r.match === FAULT_WORDS_MATCH) return { test: isFaultStatus, state: r.state, builtin: true };
    const re = new RegExp(r.match, 'i');
    return { test: (s: string) => re.test(s), state: r.state };
  });
}

/** Power state with hysteresis relative to `current` (see the file comment). */
export function powerState(power: number, current: InstrumentState, p: EngineParams): InstrumentState {
  const up = 1 + p.hysteresis;
  const down = 1 - p.hysteresis;
  switch (current) {
    case 'off':
      return power >= p.active_w * up ? 'active' : power >= p.off_w * up ? 'standby' : 'off';
    case 'standby':
      return power >= p.active_w * up ? 'active' : power < p.off_w * down ? 'off' : 'standby';
    case 'active':
      return power < p.off_w * down ? 'off' : power < p.active_w * down ? 'standby' : 'active';
    default:
      return power < p.off_w ? 'off' : power >= p.active_w ? 'active' : 'standby';
  }
}

/** Everything classification needs besides its state: parameters and compiled status rules. */
export interface ClassifyContext {
  params: EngineParams;
  matchers: StatusMatcher[];
}

export function classifyContext(params: EngineParams): ClassifyContext {
  return { params, matchers: compileStatusStates(params.status_states) };
}

/**
 * The state a status text gives: the rules in order, with the device-mapped state (deviceMappedState) tried
 * just before the built-in fault-words rule (or after every rule when there is none); undefined when none applies.
 */
export function statusState(status: string, matchers: readonly StatusMatcher[]): InstrumentState | undefined {
  let mappedTried = false;
  for (const m of matchers) {
    if (m.builtin && !mappedTried) {
      mappedTried = true;
      const mapped = deviceMappedState(status);
      if (mapped !== undefined) return mapped;
    }
    if (m.test(status)) return m.state;
  }
  return mappedTried ? undefined : deviceMappedState(status);
}

/** The raw state of one sample, before dwell, relative to the current state. */
export function rawState(s: KeptSample, current: InstrumentState, ctx: ClassifyContext): InstrumentState {
  if (s.error !== null) return 'unknown';
  if (s.status !== null) {
    const status = s.status;
    const state = statusState(status, ctx.matchers);
    if (state !== undefined) return state;
  }
  if (s.power_w === null) return 'unknown';
  return powerState(s.power_w, current, ctx.params);
}

const MS_PER_KWH_W = 3_600_000_000; // W * ms -> kWh

/** Energy of the step [prev.ts, cur.ts), kWh, never negative (see the file comment). */
export function stepEnergyKwh(prev: KeptSample, cur: KeptSample, gapTooLong: boolean): number {
  if (prev.error === null && cur.error === null && prev.energy_kwh !== null && cur.energy_kwh !== null) {
    const delta = cur.energy_kwh - prev.energy_kwh;
    if (delta >= 0) return delta;
  }
  if (gapTooLong || prev.error !== null || prev.power_w === null) return 0;
  return (Math.max(0, prev.power_w) * (cur.ts - prev.ts)) / MS_PER_KWH_W;
}

/** A different raw state waiting out the minimum dwell. */
export interface Candidate {
  state: InstrumentState;
  since: number;
  energy_kwh: number;
}

export interface ClassifierState {
  /** Last accepted sample (null before the first one). */
  last: KeptSample | null;
  /** The committed state and when its run began (null before the first sample). */
  state: InstrumentState;
  since: number | null;
  /** Energy of the committed run up to the candidate's start (or the last sample when there is none). */
  energy_kwh: number;
  candidate: Candidate | null;
  /**
   * The last closed interval, held back while the committed run has zero length: a gap right after it would
   * drop that run and reopen this interval when it is unknown (unknown, one sample, unknown = one interval).
   */
  held: StateInterval | null;
}

export function newClassifierState(): ClassifierState {
  return { last: null, state: 'unknown', since: null, energy_kwh: 0, candidate: null, held: null };
}

/** Ends the committed run at `at` and starts `next`; a zero-length run is dropped (merging its neighbours). */
function switchTo(st: ClassifierState, next: InstrumentState, at: number, out: StateInterval[]): void {
  if (next === st.state) return;
  const since = st.since ?? at;
  if (at > since) {
    if (st.held !== null) out.push(st.held);
    st.held = { start: since, end: at, state: st.state, energy_kwh: st.energy_kwh };
    st.state = next;
    st.since = at;
    st.energy_kwh = 0;
  } else if (st.held !== null && st.held.state === next) {
    st.state = next;
    st.since = st.held.start;
    st.energy_kwh = st.held.energy_kwh;
    st.held = null;
  } else {
    st.state = next;
    st.since = at;
    st.energy_kwh = 0;
  }
}

function commitCandidate(st: ClassifierState, out: StateInterval[]): void {
  const c = st.candidate!;
  st.candidate = null;
  switchTo(st, c.state, c.since, out);
  st.energy_kwh += c.energy_kwh;
}

function dropCandidate(st: ClassifierState): void {
  if (st.candidate === null) return;
  st.energy_kwh += st.candidate.energy_kwh;
  st.candidate = null;
}

/** Feeds one sample (ts strictly after the last one; the caller checks order). */
export function classifierPush(st: ClassifierState, s: KeptSample, ctx: ClassifyContext, out: StateInterval[]): void {
  const maxGapMs = ctx.params.max_gap_s * 1000;
  const dwellMs = ctx.params.min_dwell_s * 1000;
  const last = st.last;
  st.last = s;
  if (last === null) {
    st.state = rawState(s, 'unknown', ctx);
    st.since = s.ts;
    st.energy_kwh = 0;
    return;
  }
  // 1. The step [last.ts, s.ts): unknown when too long, else carried (by the candidate's run when one is pending).
  const gapTooLong = s.ts - last.ts > maxGapMs;
  const energy = stepEnergyKwh(last, s, gapTooLong);
  if (gapTooLong) {
    dropCandidate(st);
    switchTo(st, 'unknown', last.ts, out);
    st.energy_kwh += energy;
  } else if (st.candidate !== null) {
    st.candidate.energy_kwh += energy;
    if (s.ts - st.candidate.since >= dwellMs) commitCandidate(st, out);
  } else {
    st.energy_kwh += energy;
  }
  // 2. The sample's raw state against the (possibly new) committed state.
  const raw = rawState(s, st.state, ctx);
  if (raw === st.state) {
    dropCandidate(st);
  } else if (st.state === 'unknown' || raw === 'fault') {
    dropCandidate(st);
    switchTo(st, raw, s.ts, out);
  } else if (st.candidate === null || st.candidate.state !== raw) {
    dropCandidate(st);
    st.candidate = { state: raw, since: s.ts, energy_kwh: 0 };
    if (dwellMs <= 0) commitCandidate(st, out);
  }
  // 3. The held interval is final once the committed run has length (nothing can reopen it any more).
  if (st.held !== null && st.since! < s.ts) {
    out.push(st.held);
    st.held = null;
  }
}

/**
 * Ends the stream at `end` as if no more data came (mutates `st`: use a copy for a provisional view): the
 * pending candidate is taken if its run reaches min_dwell by min(end, t_last + max_gap), the state holds until
 * then (energy: the last power held), unknown after that; every remaining interval is appended to `out`.
 */
export function classifierFinish(st: ClassifierState, end: number, ctx: ClassifyContext, out: StateInterval[]): void {
  const last = st.last;
  if (last === null) return;
  const endAt = Math.max(end, last.ts);
  const holdUntil = Math.min(endAt, last.ts + ctx.params.max_gap_s * 1000);
  const carried =
    last.error === null && last.power_w !== null ? (Math.max(0, last.power_w) * (holdUntil - last.ts)) / MS_PER_KWH_W : 0;
  if (st.candidate !== null) {
    st.candidate.energy_kwh += carried;
    if (holdUntil - st.candidate.since >= ctx.params.min_dwell_s * 1000) commitCandidate(st, out);
    else dropCandidate(st);
  } else {
    st.energy_kwh += carried;
  }
  if (endAt > holdUntil) switchTo(st, 'unknown', holdUntil, out);
  if (st.held !== null) out.push(st.held);
  st.held = null;
  const since = st.since!;
  if (endAt > since) out.push({ start: since, end: endAt, state: st.state, energy_kwh: st.energy_kwh });
}
