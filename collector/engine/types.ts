/**
 * The utilization engine's contract (terms as in the project's DOMAIN notes: states, sessions, effective hours).
 * The engine is pure: readings and instrument parameters in, state intervals, sessions and daily rollups out.
 * The same code runs streaming (on ingest) and in recompute, so both give the same answer.
 */
import type { InstrumentState } from '../../common/wire.ts';

export type { InstrumentState };
export const STATES: readonly InstrumentState[] = ['off', 'standby', 'active', 'fault', 'unknown'];

/** Per-instrument engine parameters (registry entry). Defaults: DEFAULT_ENGINE_PARAMS in params.ts. */
export interface EngineParams {
  /** Below this power the instrument is off (W). */
  off_w: number;
  /** At or above this power the instrument is active (W); between off_w and active_w: standby. */
  active_w: number;
  /** Hysteresis as a fraction of each threshold: leaving a state needs crossing the threshold by this much. */
  hysteresis: number;
  /** A new state must hold this long before it is taken (s); the change is then dated back to its start. */
  min_dwell_s: number;
  /** A gap between two samples longer than this is `unknown` (s). */
  max_gap_s: number;
  /** Standby gaps between active periods up to this long are merged into one session (s). */
  merge_gap_s: number;
  /** At most this much standby right before a session counts as warm-up (s). */
  warmup_max_s: number;
  /** At most this much standby right after a session counts as post-processing (s). */
  post_max_s: number;
  /**
   * Device status -> state, tried in order, first match wins (case-insensitive regex source). A sample whose
   * status matches outranks its power. Fault words (ERR/ERROR/FAULT/ALARM) map to `fault` by default.
   */
  status_states: ReadonlyArray<{ match: string; state: InstrumentState }>;
}

/** What the engine reads from one stored sample. */
export interface EngineSample {
  ts: number;
  power_w?: number;
  energy_kwh?: number;
  status?: string;
  error?: string;
}

/** A maximal run of one state: [start, end) in ms since epoch. */
export interface StateInterval {
  start: number;
  end: number;
  state: InstrumentState;
  /** Energy used in the interval, kWh (from the energy counter when present, else the integral of power). */
  energy_kwh: number;
}

/** Effective working time: active periods merged across short standby gaps, plus capped warm-up and post-processing. */
export interface Session {
  start: number;
  end: number;
  /** Seconds in `active` within the session. */
  active_s: number;
  /** Seconds of warm-up (standby before the first active period) included. */
  warmup_s: number;
  /** Seconds of post-processing (standby after the last active period) included. */
  post_s: number;
  energy_kwh: number;
}

/** The figures of a period: one day (DailyRollup) or a sum of days (RollupTotals). */
export interface PeriodFigures {
  /** Seconds of the period that have elapsed and are covered (86400 for a past day, less for today). */
  period_s: number;
  off_s: number;
  standby_s: number;
  active_s: number;
  fault_s: number;
  unknown_s: number;
  /** Seconds of sessions within the day (a midnight-crossing session is split between its days). */
  effective_s: number;
  /** Sessions that start within the period. */
  sessions: number;
  energy_kwh: number;
  /** (period_s - unknown_s) / period_s, 0..1 (0 when period_s is 0). */
  coverage: number;
}

/** One instrument, one local calendar day. */
export interface DailyRollup extends PeriodFigures {
  /** Local date, YYYY-MM-DD in the configured time zone. */
  day: string;
}

/** Daily rollups summed over a period (a month, a year, any range of days). */
export interface RollupTotals extends PeriodFigures {
  /** Number of daily rollups summed. */
  days: number;
}
