/**
 * The incremental utilization engine of one instrument: classification (classify.ts) then sessions
 * (sessions.ts), one sample at a time. Streaming on ingest and recompute over stored samples use this same
 * code path, so any chunking (one sample at a time, all at once, with drains, checkpoints and restores in
 * between) gives identical output.
 *
 * Output comes in two parts:
 * - final (drain): intervals and sessions that no later sample can change;
 * - provisional (peek): the tail after the final output, as of a given `now`, resolved as if no more data came.
 * drain() followed by peek(now) covers [first sample ts, now) with contiguous, merged intervals.
 */
import {
  classifierFinish,
  classifierPush,
  classifyContext,
  keepSample,
  newClassifierState,
  type ClassifierState,
  type ClassifyContext,
} from './classify.ts';
import { paramsKey, validateParams } from './params.ts';
import {
  newSessionBuilderState,
  pendingSessionStart,
  sessionFinish,
  sessionPush,
  type SessionBuilderState,
} from './sessions.ts';
import type { EngineParams, EngineSample, InstrumentState, Session, StateInterval } from './types.ts';

export const CHECKPOINT_VERSION = 1;

/**
 * Everything needed to continue exactly, as plain JSON. It includes output not yet drained, so a checkpoint
 * taken mid-batch (before a drain) loses nothing: the restored engine drains it again.
 */
export interface EngineCheckpoint {
  version: typeof CHECKPOINT_VERSION;
  /** The parameters the state was computed with; restoring with other parameters throws. */
  params: EngineParams;
  classifier: ClassifierState;
  sessions: SessionBuilderState;
  /** Final output not yet drained when the checkpoint was taken. */
  pending: { intervals: StateInterval[]; sessions: Session[] };
  /**
   * Output of a restored engine (drain and peek) never starts before these; output drained before the
   * checkpoint never ends after intervals_from. Null before the first sample.
   */
  intervals_from: number | null;
  sessions_from: number | null;
}

/** A sample at or before the engine's last sample time (other than an ignored duplicate). */
export class OutOfOrderError extends Error {
  readonly code = 'JISHI_ERR_OUT_OF_ORDER';
  readonly ts: number;
  readonly lastTs: number;
  constructor(ts: number, lastTs: number) {
    super(`sample at ${ts} is not after the last sample at ${lastTs}; samples must be in increasing time order`);
    this.name = 'OutOfOrderError';
    this.ts = ts;
    this.lastTs = lastTs;
  }
}

/** Invalid engine parameters (every problem listed). */
export class EngineParamsError extends Error {
  readonly code = 'JISHI_ERR_ENGINE_PARAMS';
  readonly errors: string[];
  constructor(errors: string[]) {
    super(`invalid engine parameters: ${errors.join('; ')}`);
    this.name = 'EngineParamsError';
    this.errors = errors;
  }
}

/**
 * A checkpoint of another format version, or taken with other parameters (thresholds changed): the state
 * cannot be continued; recompute from the first sample (no checkpoint).
 */
export class CheckpointMismatchError extends Error {
  readonly code = 'JISHI_ERR_CHECKPOINT_MISMATCH';
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointMismatchError';
  }
}

export interface EnginePeek {
  intervals: StateInterval[];
  sessions: Session[];
  /** The state as of `now` and when its run began (null before the first sample). */
  state: InstrumentState;
  since: number | null;
}

export class InstrumentEngine {
  readonly params: EngineParams;
  #ctx: ClassifyContext;
  #cls: ClassifierState;
  #ses: SessionBuilderState;
  #intervals: StateInterval[];
  #sessions: Session[];

  constructor(params: EngineParams, checkpoint?: EngineCheckpoint) {
    const errors = validateParams(params);
    if (errors.length > 0) throw new EngineParamsError(errors);
    this.params = structuredClone(params);
    this.#ctx = classifyContext(this.params);
    if (checkpoint === undefined) {
      this.#cls = newClassifierState();
      this.#ses = newSessionBuilderState();
      this.#intervals = [];
      this.#sessions = [];
      return;
    }
    if (checkpoint.version !== CHECKPOINT_VERSION) {
      throw new CheckpointMismatchError(`checkpoint version ${JSON.stringify(checkpoint.version)} is not ${CHECKPOINT_VERSION}`);
    }
    if (paramsKey(checkpoint.params) !== paramsKey(params)) {
      throw new CheckpointMismatchError('the checkpoint was taken with other engine parameters; recompute from the first sample');
    }
    const cp = structuredClone(checkpoint);
    this.#cls = cp.classifier;
    this.#ses = cp.sessions;
    this.#intervals = cp.pending.intervals;
    this.#sessions = cp.pending.sessions;
  }

  /** Time of the last accepted sample, null before the first. */
  get lastTs(): number | null {
    return this.#cls.last?.ts ?? null;
  }

  /**
   * Feeds one sample; samples must come in strictly increasing ts order. A sample with the same ts as the last
   * one is ignored (returns false): the first one at a time wins, exact duplicate or not, so resent readings
   * and ties (kept in arrival order by the store) never fail. An earlier ts throws OutOfOrderError.
   */
  push(sample: EngineSample): boolean {
    if (typeof sample.ts !== 'number' || !Number.isFinite(sample.ts)) {
      throw new TypeError(`sample ts must be a finite number (got ${JSON.stringify(sample.ts)})`);
    }
    const kept = keepSample(sample);
    const last = this.#cls.last;
    if (last !== null && kept.ts <= last.ts) {
      if (kept.ts === last.ts) return false;
      throw new OutOfOrderError(kept.ts, last.ts);
    }
    const released: StateInterval[] = [];
    classifierPush(this.#cls, kept, this.#ctx, released);
    for (const iv of released) {
      this.#intervals.push(iv);
      sessionPush(this.#ses, iv, this.params, this.#sessions);
    }
    return true;
  }

  /** Final output produced since the last drain: intervals and sessions no later sample can change. */
  drain(): { intervals: StateInterval[]; sessions: Session[] } {
    const out = { intervals: this.#intervals, sessions: this.#sessions };
    this.#intervals = [];
    this.#sessions = [];
    return out;
  }

  /**
   * The provisional tail as of `now` (clamped to the last sample time): from the end of the final output
   * (drained or not) to `now`, with the pending dwell candidate, the open interval and the open session
   * resolved as if no more data came. Does not change the engine.
   */
  peek(now: number): EnginePeek {
    if (this.#cls.last === null) return { intervals: [], sessions: [], state: 'unknown', since: null };
    const cls = structuredClone(this.#cls);
    const ses = structuredClone(this.#ses);
    const intervals: StateInterval[] = [];
    const sessions: Session[] = [];
    classifierFinish(cls, now, this.#ctx, intervals);
    for (const iv of intervals) sessionPush(ses, iv, this.params, sessions);
    sessionFinish(ses, this.params, sessions);
    return { intervals, sessions, state: cls.state, since: cls.since };
  }

  /** A JSON-serializable snapshot: `new InstrumentEngine(params, JSON.parse(JSON.stringify(cp)))` continues exactly. */
  checkpoint(): EngineCheckpoint {
    return structuredClone(this.checkpointView());
  }

  /**
   * The checkpoint without the copy: it shares the engine's live state, so it must be serialized (or dropped)
   * before the engine is fed again. For a caller that stores it at once.
   */
  checkpointView(): EngineCheckpoint {
    return {
      version: CHECKPOINT_VERSION,
      params: this.params,
      classifier: this.#cls,
      sessions: this.#ses,
      pending: { intervals: this.#intervals, sessions: this.#sessions },
      ...this.#frontiers(),
    };
  }

  /**
   * Output not yet drained (pending, provisional or still to come) never starts before this: local days that
   * end at or before it have final rollups. Null before the first sample.
   */
  get stableUntil(): number | null {
    const f = this.#frontiers();
    if (f.intervals_from === null || f.sessions_from === null) return f.intervals_from ?? f.sessions_from;
    return Math.min(f.intervals_from, f.sessions_from);
  }

  #frontiers(): { intervals_from: number | null; sessions_from: number | null } {
    const nextIntervalFrom = this.#cls.held?.start ?? this.#cls.since;
    return {
      intervals_from: this.#intervals[0]?.start ?? nextIntervalFrom,
      sessions_from: this.#sessions[0]?.start ?? pendingSessionStart(this.#ses, this.params) ?? nextIntervalFrom,
    };
  }
}

/** One-shot run: push all samples (time-ordered), drain, then append peek(now). */
export function runEngine(
  samples: Iterable<EngineSample>,
  params: EngineParams,
  options: { now: number; checkpoint?: EngineCheckpoint },
): { intervals: StateInterval[]; sessions: Session[] } {
  const engine = new InstrumentEngine(params, options.checkpoint);
  for (const s of samples) engine.push(s);
  const final = engine.drain();
  const tail = engine.peek(options.now);
  return { intervals: [...final.intervals, ...tail.intervals], sessions: [...final.sessions, ...tail.sessions] };
}
