/**
 * The utilization engine's storage seam: samples in, state intervals, sessions, daily rollups and engine
 * checkpoints out. Implemented on the collector's SQLite store (sqlite-engine-store.ts).
 */
import type { DailyRollup, EngineSample, Session, StateInterval } from '../engine/types.ts';

/** An engine checkpoint as stored: opaque JSON plus the time of the last sample it has seen. */
export interface StoredCheckpoint {
  lastTs: number | null;
  checkpoint: unknown;
}

export interface InstrumentSession extends Session {
  instrument_id: string;
}

export interface InstrumentRollup extends DailyRollup {
  instrument_id: string;
}

/** What one engine step finalized, written atomically with the engine's new state. */
export interface EngineCommit {
  intervals: readonly StateInterval[];
  sessions: readonly Session[];
  /** The engine's last sample time when this output was finalized. */
  drainTs: number;
  state: StoredCheckpoint;
  /** Checkpoints taken right before the first sample of a local day, keyed by that day. */
  dayCheckpoints: ReadonlyArray<StoredCheckpoint & { day: string }>;
}

/** A daily rollup with the instant its local day starts (the time of its InfluxDB point). */
export type DatedRollup = DailyRollup & { start: number };

/** One entry of the result log: what the engine wrote or removed, in order, for forwarders. */
export type ResultLogEntry = { id: number; instrument_id: string } & (
  | { kind: 'interval'; payload: StateInterval }
  | { kind: 'session'; payload: Session }
  | { kind: 'rollup'; payload: DatedRollup }
  /** Intervals / sessions starting at or after these times were removed (null: none of that kind). */
  | { kind: 'delete'; payload: { intervals_from: number | null; sessions_from: number | null } }
);

export interface EngineStore {
  /** Ids of every instrument that has readings. */
  instrumentIds(): string[];
  /** An instrument's samples with ts > afterTs (all when null), in time order (ties in arrival order). */
  samples(instrumentId: string, afterTs: number | null): IterableIterator<EngineSample>;
  loadState(instrumentId: string): StoredCheckpoint | undefined;
  commit(instrumentId: string, commit: EngineCommit): void;
  /**
   * Runs `fn` in one transaction: the commits of one ingested batch (one per instrument) are written together.
   * Calls nest (an inner failure rolls back only its own part when `fn` catches it).
   */
  atomically<T>(fn: () => T): T;
  /** The latest day checkpoint for a day at or before `day` (YYYY-MM-DD). */
  dayCheckpointAtOrBefore(instrumentId: string, day: string): (StoredCheckpoint & { day: string }) | undefined;
  /**
   * Forgets what was derived after a checkpoint: rows finalized after `afterTs` (all when null), day checkpoints
   * of days after `day` (all when undefined), and the engine state.
   */
  rewind(instrumentId: string, afterTs: number | null, day: string | undefined): void;
  /** End of the last stored (final) interval, null when there is none. */
  finalUntil(instrumentId: string): number | null;
  /** Stored intervals overlapping [from, to), in time order. */
  intervals(instrumentId: string, from: number, to: number): StateInterval[];
  /** Stored sessions overlapping [from, to), in time order; all instruments when `instrumentIds` is undefined. */
  sessions(instrumentIds: readonly string[] | undefined, from: number, to: number): InstrumentSession[];
  upsertRollups(instrumentId: string, rollups: readonly DatedRollup[]): void;
  /** Result log entries with id > cursor, in order, at most `limit`. */
  resultsAfter(cursor: number, limit: number): ResultLogEntry[];
  /** Result log entries past the named cursor. */
  pendingResults(cursorName: string): number;
  /** Stored daily rollups with fromDay <= day <= toDay. */
  rollups(instrumentIds: readonly string[] | undefined, fromDay: string, toDay: string): InstrumentRollup[];
}
