/**
 * The store seam: everything the collector keeps durably goes through this interface.
 * The SQLite implementation (sqlite-store.ts) is the system of record; InfluxDB is fed from it.
 * Later issues (utilization engine, bookings, exports) extend this interface.
 */
import type { AgentStatusReport, IngestBatch, InstrumentView, Readings } from '../../common/wire.ts';
import type { EngineStore } from './engine-store.ts';
import type { SharingStore } from './sharing-store.ts';

/**
 * An instrument as the store knows it: registration, agent, last reading. Its state is not stored: it is
 * derived by the utilization engine (EngineRunner.live) and added by the instruments route.
 */
export type StoredInstrument = Omit<InstrumentView, 'state' | 'state_since'>;

export interface IngestResult {
  /** Samples stored (0 for a duplicate). */
  accepted: number;
  /** True when (agent_id, batch_id) had already been stored; nothing was written. */
  duplicate: boolean;
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

/** An agent as the collector knows it from its batches. */
export interface AgentView {
  id: string;
  /** Collector clock when its latest batch arrived. */
  last_batch_at: number | null;
  batches: number;
  /** Collector clock minus agent clock at its latest batch (ms, network delay included). */
  clock_skew_ms: number | null;
  /** The correction added to that batch's sample times (0 when the skew was under the threshold). */
  clock_offset_ms: number | null;
  /** The health summary of its latest batch that carried one (IngestBatch.agent_status); null before. */
  status: AgentStatusReport | null;
}

/** One accepted batch, as the agent_health measurement reports it. */
export interface AgentReport {
  id: number;
  agent_id: string;
  sent_at: number;
  received_at: number;
  samples: number;
  clock_offset_ms: number;
  /** The batch's agent_status, when it carried one. */
  status: AgentStatusReport | null;
}

export interface Store {
  /** The utilization engine's tables (intervals, sessions, rollups, checkpoints). */
  readonly engine: EngineStore;
  /** The open-sharing tables (registry with history, bookings). */
  readonly sharing: SharingStore;
  /** Registers an agent or replaces its token hash. A token hash belongs to one agent: upserting moves it. */
  upsertAgent(agentId: string, tokenSha256: string): void;
  /** Deletes every agent not named (tokens of agents removed from the config stop working). Returns the removed ids. */
  removeAgentsExcept(agentIds: readonly string[]): string[];
  /** The agent owning a token, by the token's sha256 (lowercase hex). */
  agentForTokenHash(tokenSha256: string): string | undefined;
  /**
   * Atomically stores a batch; idempotent by (agent_id, batch_id). Instruments are registered on first sight;
   * their last reading (and agent) moves to samples newer than it (older samples are stored only).
   * Derived state (states, sessions, rollups) is the utilization engine's, fed by the caller after the commit.
   * Throws JishiError('JISHI_ERR_STORE_UNAVAILABLE') when it cannot make the batch durable.
   */
  ingest(batch: IngestBatch, receivedAt: number, options?: { clockOffsetMs?: number }): IngestResult;
  /** Every registered agent with what its latest batch says about it (null before its first batch). */
  listAgents(): AgentView[];
  /** Every known instrument with its last reading, by id. */
  listInstruments(): StoredInstrument[];
  /** Every known instrument's id, sorted (cheap: no reading is read). */
  instrumentIds(): string[];
  /** The agent an instrument's last reading came from: undefined for an unknown instrument, null when none is recorded. */
  instrumentAgent(instrumentId: string): string | null | undefined;
  /** Readings with id > cursor, in insertion order, at most `limit`. */
  readingsAfter(cursor: number, limit: number): StoredReading[];
  /** A named forwarder cursor (0 when never set). */
  getCursor(name: string): number;
  setCursor(name: string, value: number): void;
  /** Readings not yet past the named cursor. */
  pendingCount(cursorName: string): number;
  /** Accepted batches with the agent's health summary (id > cursor, in order, at most `limit`). */
  agentReportsAfter(cursor: number, limit: number): AgentReport[];
  /** Agent reports past the named cursor. */
  pendingAgentReports(cursorName: string): number;
  /** Throws JishiError('JISHI_ERR_STORE_UNAVAILABLE') when the store cannot be read. */
  ping(): void;
  /** Size of the database (its pages, free ones included; not the write-ahead log), and of its free pages, in bytes. */
  size(): { bytes: number; freeBytes: number };
  close(): void;
}
