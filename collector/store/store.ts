/**
 * The store seam: everything the collector keeps durably goes through this interface.
 * The SQLite implementation (sqlite-store.ts) is the system of record; InfluxDB is fed from it.
 * Later issues (utilization engine, bookings, exports) extend this interface.
 */
import type { IngestBatch, InstrumentState, InstrumentView, Readings, Sample } from '../../common/wire.ts';
import type { EngineStore } from './engine-store.ts';

/** How ingest derives the live state of an instrument; the store itself holds no thresholds. */
export interface LivePolicy {
  /** The live state of `instrumentId` given one of its samples. */
  classify(instrumentId: string, sample: Sample): InstrumentState;
  /**
   * A gap longer than this (ms) between an instrument's newest stored sample and the next one means the
   * state was `unknown` in between, so `state_since` restarts even when the state is the same.
   */
  maxGapMs: number;
}

/** A change of an instrument's live state caused by an ingested batch. */
export interface StateChange {
  instrument_id: string;
  from: InstrumentState;
  to: InstrumentState;
  /** Sample time (agent clock, ms since epoch) at which the new state began. */
  at: number;
}

export interface IngestResult {
  /** Samples stored (0 for a duplicate). */
  accepted: number;
  /** True when (agent_id, batch_id) had already been stored; nothing was written. */
  duplicate: boolean;
  /** Live-state changes, in sample time order per instrument. */
  changes: StateChange[];
}

/** One stored sample, as read back for forwarders. */
export interface StoredReading {
  /** Insertion-order row id; forwarder cursors hold the last id they delivered. */
  id: number;
  instrument_id: string;
  agent_id: string;
  /** Sample time (agent clock, ms since epoch). */
  ts: number;
  readings: Readings;
  status?: string;
  error?: string;
  /** Collector clock when the batch was stored (ms since epoch). */
  received_at: number;
}

export interface Store {
  /** The utilization engine's tables (intervals, sessions, rollups, checkpoints). */
  readonly engine: EngineStore;
  /** Registers an agent or replaces its token hash. A token hash belongs to one agent: upserting moves it. */
  upsertAgent(agentId: string, tokenSha256: string): void;
  /** Deletes every agent not named (tokens of agents removed from the config stop working). Returns the removed ids. */
  removeAgentsExcept(agentIds: readonly string[]): string[];
  /** The agent owning a token, by the token's sha256 (lowercase hex). */
  agentForTokenHash(tokenSha256: string): string | undefined;
  /**
   * Atomically stores a batch; idempotent by (agent_id, batch_id). Instruments are registered on first sight
   * and their live state is updated from samples newer than their last one (older samples are stored only).
   * Throws JishiError('JISHI_ERR_STORE_UNAVAILABLE') when it cannot make the batch durable.
   */
  ingest(batch: IngestBatch, receivedAt: number, live: LivePolicy): IngestResult;
  /**
   * Every known instrument with its last reading and its state as of its last sample. Staleness (no sample for
   * longer than max_gap) is applied by the caller, see live-state.ts `liveView`.
   */
  listInstruments(): InstrumentView[];
  /** Readings with id > cursor, in insertion order, at most `limit`. */
  readingsAfter(cursor: number, limit: number): StoredReading[];
  /** A named forwarder cursor (0 when never set). */
  getCursor(name: string): number;
  setCursor(name: string, value: number): void;
  /** Readings not yet past the named cursor. */
  pendingCount(cursorName: string): number;
  /** Throws JishiError('JISHI_ERR_STORE_UNAVAILABLE') when the store cannot be read. */
  ping(): void;
  close(): void;
}
