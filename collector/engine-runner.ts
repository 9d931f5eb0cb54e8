/**
 * Runs the pure utilization engine (collector/engine/) against the store: streaming on ingest, and recompute
 * over stored readings. Both feed samples in time order through the same InstrumentEngine, from the same
 * checkpoints, so they give the same answer.
 *
 * Checkpoints: the engine's state after its last sample (engine_state, to continue after a restart) and its
 * state right before the first sample of each local day (engine_day_checkpoints, where recompute starts).
 * Output rows carry the engine's last sample time when they were finalized (drain_ts), so a recompute from a
 * checkpoint removes exactly what was derived after it.
 */
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import type { InstrumentState, Sample } from '../common/wire.ts';
import { CheckpointMismatchError, InstrumentEngine, type EngineCheckpoint } from './engine/engine.ts';
import { dailyRollups } from './engine/rollup.ts';
import { addDays, dayStart, localDay } from './engine/time-zone.ts';
import type { DailyRollup, EngineParams, EngineSample, Session, StateInterval } from './engine/types.ts';
import type { EngineStore, InstrumentSession, StoredCheckpoint } from './store/engine-store.ts';

/** A change of an instrument's live state caused by an ingested batch. */
export interface StateChange {
  instrument_id: string;
  from: InstrumentState;
  to: InstrumentState;
  /** Sample time (agent clock, ms since epoch) at which the new state began. */
  at: number;
}

export interface EngineRunnerOptions {
  store: EngineStore;
  /** Engine parameters of an instrument (registry entry with defaults). */
  params: (instrumentId: string) => EngineParams;
  timeZone: string;
  clock: Clock;
  logger: Logger;
}

interface Loaded {
  engine: InstrumentEngine;
  /** Local day of the engine's last sample. */
  day: string | null;
  /** The live state as of the last sample, as the previous ingest left it (saves recomputing it as "before"). */
  settled?: { state: InstrumentState; since: number | null };
}

/** Replay in chunks so a year of 1 Hz readings never sits in memory at once. */
const REPLAY_CHUNK = 20_000;

export class EngineRunner {
  readonly timeZone: string;
  #o: EngineRunnerOptions;
  #loaded = new Map<string, Loaded>();

  constructor(options: EngineRunnerOptions) {
    this.#o = options;
    this.timeZone = options.timeZone;
  }

  /**
   * Streaming: the samples of a stored batch. Samples newer than an instrument's engine are pushed (one at the
   * same time as the last is ignored, as in recompute: the first stored wins); a late one (before the engine's
   * last sample) makes the instrument recompute from the local day it falls in.
   * Returns the live-state changes the batch caused.
   */
  ingest(samples: readonly Sample[]): StateChange[] {
    const byInstrument = new Map<string, EngineSample[]>();
    for (const s of samples) {
      let list = byInstrument.get(s.instrument_id);
      if (list === undefined) byInstrument.set(s.instrument_id, (list = []));
      list.push(toEngineSample(s));
    }
    // One transaction for the whole batch: committing each instrument's results on its own cost more than the
    // engine itself when a batch holds a few samples of many instruments. Each instrument is a savepoint.
    try {
      return this.#o.store.atomically(() => this.#ingestGrouped(byInstrument));
    } catch (err) {
      // The transaction did not commit: what the engines hold in memory is ahead of the store. Forget it; the
      // next batch reloads the stored state (the readings are stored; `jishi recompute` rebuilds the gap).
      this.#o.logger.error({ err, instruments: byInstrument.size }, 'utilization engine failed to commit a batch');
      for (const id of byInstrument.keys()) this.#loaded.delete(id);
      return [];
    }
  }

  #ingestGrouped(byInstrument: Map<string, EngineSample[]>): StateChange[] {
    const changes: StateChange[] = [];
    for (const [id, list] of byInstrument) {
      list.sort((a, b) => a.ts - b.ts);
      try {
        // States as of each side's own last sample (peek clamps an earlier `now` to it).
        const before = this.#loaded.get(id)?.settled ?? this.live(id, Number.MIN_SAFE_INTEGER);
        const loaded = this.#load(id);
        const lastTs = loaded.engine.lastTs;
        if (lastTs !== null && list[0]!.ts < lastTs) {
          this.#o.logger.info({ instrument_id: id, late_ts: list[0]!.ts, engine_ts: lastTs }, 'late readings: recomputing from their day');
          this.recompute(id, list[0]!.ts);
        } else {
          this.#advance(id, loaded, list);
        }
        const after = this.live(id, Number.MIN_SAFE_INTEGER);
        const current = this.#loaded.get(id);
        if (current !== undefined) current.settled = after;
        if (after.state !== before.state) {
          changes.push({ instrument_id: id, from: before.state, to: after.state, at: after.since ?? list[list.length - 1]!.ts });
        }
      } catch (err) {
        // The readings are stored; `jishi recompute` rebuilds what failed here.
        this.#o.logger.error({ err, instrument_id: id }, 'utilization engine failed on ingest');
        this.#loaded.delete(id);
      }
    }
    return changes;
  }

  /** Rebuilds states, sessions and rollups of one instrument from its stored readings, starting at `fromTs`'s day. */
  recompute(
    instrumentId: string,
    fromTs: number | null,
    onProgress?: (samplesDone: number, lastTs: number) => void,
  ): { samples: number; fromDay: string | null } {
    const store = this.#o.store;
    const fromDay = fromTs === null ? null : localDay(fromTs, this.timeZone);
    const cp = fromDay === null ? undefined : store.dayCheckpointAtOrBefore(instrumentId, fromDay);
    // Built before anything is deleted: a checkpoint taken with other parameters cannot be continued.
    const engine = this.#engineFrom(instrumentId, cp);
    if (engine === undefined) return this.recompute(instrumentId, null, onProgress);
    store.rewind(instrumentId, cp?.lastTs ?? null, cp?.day);
    const loaded: Loaded = { engine, day: cp?.lastTs == null ? null : localDay(cp.lastTs, this.timeZone) };
    this.#loaded.set(instrumentId, loaded);
    let chunk: EngineSample[] = [];
    let count = 0;
    for (const sample of store.samples(instrumentId, cp?.lastTs ?? null)) {
      chunk.push(sample);
      if (chunk.length >= REPLAY_CHUNK) {
        count += chunk.length;
        this.#advance(instrumentId, loaded, chunk);
        onProgress?.(count, chunk[chunk.length - 1]!.ts);
        chunk = [];
      }
    }
    count += chunk.length;
    if (chunk.length > 0 || count === 0) this.#advance(instrumentId, loaded, chunk);
    return { samples: count, fromDay: cp?.day ?? fromDay };
  }

  /** The live state of an instrument as of `now` (unknown when it has no data). */
  live(instrumentId: string, now: number): { state: InstrumentState; since: number | null } {
    const loaded = this.#loadIfAny(instrumentId);
    if (loaded === undefined) return { state: 'unknown', since: null };
    const peek = loaded.engine.peek(now);
    return { state: peek.state, since: peek.since };
  }

  /** Intervals and sessions of [from, to): the stored final ones plus the engine's provisional tail. */
  timeline(instrumentId: string, from: number, to: number): { intervals: StateInterval[]; sessions: Session[] } {
    const store = this.#o.store;
    const intervals = store.intervals(instrumentId, from, to);
    const sessions: Session[] = store.sessions([instrumentId], from, to).map(stripInstrument);
    const loaded = this.#loadIfAny(instrumentId);
    if (loaded !== undefined) {
      const peek = loaded.engine.peek(Math.max(to, loaded.engine.lastTs ?? to));
      for (const i of peek.intervals) if (i.end > from && i.start < to) intervals.push(i);
      for (const s of peek.sessions) if (s.end > from && s.start < to) sessions.push(s);
    }
    return { intervals, sessions };
  }

  /** Daily rollups of [fromDay, toDay] (inclusive), as of `now`: stored ones for final days, computed for the rest. */
  rollups(instrumentId: string, fromDay: string, toDay: string, now: number): DailyRollup[] {
    const store = this.#o.store;
    const loaded = this.#loadIfAny(instrumentId);
    const stable = loaded?.engine.stableUntil ?? null;
    // Days that ended before the engine's stable boundary have final rollups in the table; the rest are computed.
    const liveFromDay = stable === null ? fromDay : maxDay(fromDay, localDay(stable, this.timeZone));
    const end = Math.min(dayStart(addDays(toDay, 1), this.timeZone), now);
    const from = dayStart(liveFromDay, this.timeZone);
    // Final days: the stored rollups; a final day without one had no data at all, so it is wholly unknown.
    const storedByDay = new Map(store.rollups([instrumentId], fromDay, toDay).map((r) => [r.day, stripInstrument(r)]));
    const finalEnd = Math.min(from, end);
    const start = dayStart(fromDay, this.timeZone);
    const final = finalEnd > start
      ? dailyRollups([], [], { timeZone: this.timeZone, from: start, to: finalEnd }).map((empty) => storedByDay.get(empty.day) ?? empty)
      : [];
    if (end <= from) return final;
    const { intervals, sessions } = this.timeline(instrumentId, from, end);
    return [...final, ...dailyRollups(intervals, sessions, { timeZone: this.timeZone, from, to: end })];
  }

  /** Sessions overlapping [from, to) of the given instruments (all when undefined), final and provisional. */
  sessions(instrumentIds: readonly string[], from: number, to: number): InstrumentSession[] {
    const out: InstrumentSession[] = [];
    for (const id of instrumentIds) {
      for (const s of this.timeline(id, from, to).sessions) out.push({ instrument_id: id, ...s });
    }
    return out.sort((a, b) => a.start - b.start || (a.instrument_id < b.instrument_id ? -1 : 1));
  }

  /** Forgets cached engines (after a threshold change the next use reloads from the store). */
  reset(): void {
    this.#loaded.clear();
  }

  #loadIfAny(instrumentId: string): Loaded | undefined {
    const cached = this.#loaded.get(instrumentId);
    if (cached !== undefined) return cached;
    const state = this.#o.store.loadState(instrumentId);
    if (state === undefined) return undefined;
    return this.#load(instrumentId, state);
  }

  /**
   * An engine continuing from a stored checkpoint (a fresh one without); undefined when the checkpoint was taken
   * with other parameters (thresholds changed): then everything must be derived again from the first reading.
   */
  #engineFrom(instrumentId: string, saved: StoredCheckpoint | undefined): InstrumentEngine | undefined {
    try {
      return new InstrumentEngine(this.#o.params(instrumentId), saved?.checkpoint as EngineCheckpoint | undefined);
    } catch (err) {
      if (!(err instanceof CheckpointMismatchError) || saved === undefined) throw err;
      this.#o.logger.info({ instrument_id: instrumentId, reason: err.message }, 'engine parameters changed: rebuilding from the first reading');
      return undefined;
    }
  }

  #load(instrumentId: string, state?: StoredCheckpoint): Loaded {
    const cached = this.#loaded.get(instrumentId);
    if (cached !== undefined) return cached;
    const saved = state ?? this.#o.store.loadState(instrumentId);
    const engine = this.#engineFrom(instrumentId, saved);
    if (engine === undefined) {
      this.recompute(instrumentId, null);
      return this.#loaded.get(instrumentId)!;
    }
    const lastTs = engine.lastTs;
    const loaded: Loaded = { engine, day: lastTs === null ? null : localDay(lastTs, this.timeZone) };
    this.#loaded.set(instrumentId, loaded);
    return loaded;
  }

  /** Pushes time-ordered samples newer than the engine's, stores what became final, refreshes touched rollups. */
  #advance(instrumentId: string, loaded: Loaded, samples: readonly EngineSample[]): void {
    const { engine } = loaded;
    const dayCheckpoints: Array<StoredCheckpoint & { day: string }> = [];
    for (const s of samples) {
      const day = localDay(s.ts, this.timeZone);
      if (day !== loaded.day) {
        dayCheckpoints.push({ day, lastTs: engine.lastTs, checkpoint: engine.checkpoint() });
        loaded.day = day;
      }
      engine.push(s);
    }
    const out = engine.drain();
    this.#o.store.commit(instrumentId, {
      intervals: out.intervals,
      sessions: out.sessions,
      drainTs: engine.lastTs ?? 0,
      // Serialized by commit() right away, before the engine changes again: no copy needed.
      state: { lastTs: engine.lastTs, checkpoint: engine.checkpointView() },
      dayCheckpoints,
    });
    if (out.intervals.length === 0 && out.sessions.length === 0) return;
    const touchedFrom = Math.min(...out.intervals.map((i) => i.start), ...out.sessions.map((s) => s.start));
    const stable = engine.stableUntil;
    if (stable !== null) this.#storeRollups(instrumentId, touchedFrom, stable);
  }

  /** Stores the rollups of the whole local days from `from`'s day up to the day `stable` falls in (excluded). */
  #storeRollups(instrumentId: string, from: number, stable: number): void {
    const start = dayStart(localDay(from, this.timeZone), this.timeZone);
    const end = dayStart(localDay(stable, this.timeZone), this.timeZone);
    if (end <= start) return;
    const intervals = this.#o.store.intervals(instrumentId, start, end);
    const sessions = this.#o.store.sessions([instrumentId], start, end).map(stripInstrument);
    const rollups = dailyRollups(intervals, sessions, { timeZone: this.timeZone, from: start, to: end });
    this.#o.store.upsertRollups(instrumentId, rollups.map((r) => ({ ...r, start: dayStart(r.day, this.timeZone) })));
  }
}

function toEngineSample(s: Sample): EngineSample {
  const e: EngineSample = { ts: s.ts };
  if (s.readings.power_w !== undefined) e.power_w = s.readings.power_w;
  if (s.readings.energy_kwh !== undefined) e.energy_kwh = s.readings.energy_kwh;
  if (s.status !== undefined) e.status = s.status;
  if (s.error !== undefined) e.error = s.error;
  return e;
}

function stripInstrument<T extends { instrument_id: string }>(row: T): Omit<T, 'instrument_id'> {
  const { instrument_id: _, ...rest } = row;
  return rest;
}

function maxDay(a: string, b: string): string {
  return a > b ? a : b;
}
