/**
 * The durable outbox: every sample is committed to a SQLite file (better-sqlite3) before it can be sent, and
 * leaves the file only when the collector acknowledged the batch holding it.
 *
 * File: `<state_dir>/outbox-<agent id>.sqlite` (outboxFile()), WAL journal, exclusive lock while open: a second
 * process on the same file fails at start with an error naming it. Tables: `samples` (append order = rowid,
 * the sample as JSON, its size, the batch it was assigned to), `batches` (the batch in flight: seq, id),
 * `meta` (next seq, dropped count). Nothing else keeps state: counters are derived from the file when it opens.
 *
 * Life of a sample:
 * - append() inserts the samples of one call in one transaction, all or none: when it throws nothing of the call
 *   was stored (the agent keeps them and appends them again). The agent appends the samples of reads that overlap
 *   in time together (OutboxAppender in ./outbox.ts), so a sample can wait in the agent's memory before its
 *   append: at most 50 ms (the append window), and only while another read is still running.
 * - nextBatch() assigns the oldest unassigned samples (at most `max`) to a new batch, with the id
 *   `<agent id>-<boot id>-<seq>` and the next seq of the file, in one transaction that is fsynced before the
 *   batch is returned, in both sync modes. Until ack() or discard() it returns that same batch (same id, seq and
 *   samples), also after a restart: the batch is read back from the file.
 * - ack() / discard() delete the batch and its samples.
 *
 * What is guaranteed (each append call is one committed transaction; "appended" means append() returned):
 * - The agent process dies (crash, kill -9, exception) but the machine keeps running: nothing appended is lost,
 *   in either sync mode (committed data is in the OS cache, which the OS writes out). Samples still waiting in
 *   the agent's append window (read less than 50 ms before, while another read was running) are lost with the
 *   process, like a read in progress.
 * - Power loss or OS crash with `sync: always`: nothing appended is lost (the WAL is fsynced at every commit).
 * - Power loss or OS crash with `sync: interval` (default): samples appended during the last `sync_interval`
 *   before the crash (plus the duration of one fsync) may be lost; older ones are not, because a checkpoint
 *   fsyncs the WAL at most `sync_interval` after any commit. The batch assignment is always fsynced (with
 *   everything appended before it), so a batch the collector may have stored is never re-formed with other
 *   samples under its id, and its samples are never sent again under another id.
 * - An ack is not fsynced in `interval` mode: after a power loss an acked batch may come back; it is re-sent
 *   with its id and the collector, idempotent by (agent_id, batch_id), stores nothing twice.
 * - Crashes never corrupt the file (SQLite's WAL). A file that is damaged anyway (disk fault, truncation, not a
 *   database) or unreadable makes the constructor throw an OutboxError naming it; it is never replaced or
 *   started empty silently.
 * What is not guaranteed: samples the disk cannot take (disk full, I/O error) make append() throw (the agent
 * keeps them in memory and retries, up to 10 000 samples; beyond that, or at stop, they are counted and logged as
 * lost, and a crash meanwhile loses them); samples dropped by the quota are gone (counted and logged).
 *
 * Quota, in bytes: each sample counts its JSON size plus SAMPLE_OVERHEAD_BYTES (SQLite's row overhead), so
 * `bytes` follows the space the rows take in the file. The file is larger by SQLite's page slack, the WAL
 * (truncated to 16 MiB after checkpoints) and pages freed by acks (given back by an incremental vacuum).
 * Bytes rather than samples because the operator sizes disk, not samples (a sample is 100 bytes to several
 * kB depending on its fields); an optional sample count (max_queue_samples) bounds it too. When a commit
 * would pass a bound, the oldest unassigned samples are deleted in the same transaction; the batch in flight
 * loses its oldest samples only when nothing else is left. Drops are counted in the file and logged.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { systemClock, type Clock, type TimerHandle } from '../common/clock.ts';
import { silentLogger, type Logger } from '../common/log.ts';
import type { Sample } from '../common/wire.ts';
import type { OutboxSyncMode } from './config-schema.ts';
import type { Outbox, OutboxBatch, OutboxStats } from './outbox.ts';

/** The file of an agent's outbox in its state_dir (the agent id is URL-encoded: `:` is not allowed on Windows). */
export function outboxFile(stateDir: string, agentId: string): string {
  return join(stateDir, `outbox-${encodeURIComponent(agentId)}.sqlite`);
}

/** Counted per sample on top of its JSON: SQLite's record header, rowid, ts, size and batch columns, cell pointer. */
export const SAMPLE_OVERHEAD_BYTES = 32;
/** `PRAGMA application_id` of outbox files ('jish'), so that another SQLite file is never taken for one. */
const APPLICATION_ID = 0x6a697368;
const SCHEMA_VERSION = 1;
/** The WAL is truncated to this after a checkpoint. */
const JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024;
/** Free pages beyond this (bytes; an eighth of it once the queue is empty, any at close) are given back to the file system. */
const VACUUM_THRESHOLD_BYTES = 8 * 1024 * 1024;
/** While samples are being dropped, the warning is repeated at most this often. */
const DROP_LOG_EVERY_MS = 60_000;

const SCHEMA = `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) STRICT;
CREATE TABLE batches (
  seq       INTEGER PRIMARY KEY,
  id        TEXT NOT NULL UNIQUE,
  formed_at INTEGER NOT NULL
) STRICT;
CREATE TABLE samples (
  id    INTEGER PRIMARY KEY,
  ts    INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  batch INTEGER REFERENCES batches (seq),
  body  TEXT NOT NULL
) STRICT;
CREATE INDEX samples_batch ON samples (batch) WHERE batch IS NOT NULL;
`;

export interface SqliteOutboxOptions {
  /** The outbox file (see outboxFile()); created when missing, its directory must exist. */
  path: string;
  agentId: string;
  /** This process's boot id: part of the ids of the batches it forms. */
  bootId: string;
  /** Default 'interval'. */
  sync?: OutboxSyncMode;
  /** With sync 'interval': the longest a commit waits for its fsync (checkpoint); default 1000. */
  syncIntervalMs?: number;
  /** Quota on the samples' bytes (see the module comment). */
  maxBytes: number;
  /** Quota on the number of samples; default none. */
  maxSamples?: number;
  /** First seq of a new file; default clock.now(), so seq keeps rising even when a state_dir is wiped. */
  firstSeq?: number;
  /** Run `PRAGMA quick_check` when opening (default true): a damaged file fails at start, not mid-run. */
  check?: boolean;
  /** How long opening waits for another process's lock (ms, default 1000). */
  busyTimeoutMs?: number;
  /** Default systemClock (the sync timer and formed_at). */
  clock?: Clock;
  /** Default a silent logger. */
  logger?: Logger;
}

export interface SqliteOutboxStats extends OutboxStats {
  bytes: number;
  /** Id of the batch in flight (formed, not yet acked). */
  inFlightBatch?: string;
  /** When everything committed was last forced to disk (open, checkpoint); with sync 'always' every commit is. */
  lastSyncAt: number;
}

/** The outbox file cannot be used; the message names the file and what to do. */
export class OutboxError extends Error {
  readonly file: string;

  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(`outbox ${file}: ${message}`, options);
    this.name = 'OutboxError';
    this.file = file;
  }
}

const KEEP_IT =
  'The file was left as it is. Restore it or move it aside (the agent then starts an empty outbox and the readings queued in it are not sent).';

/** Turns an error of opening the file into an OutboxError that names the file and what went wrong. */
function openError(path: string, err: unknown): OutboxError {
  if (err instanceof OutboxError) return err;
  const code = (err as { code?: string }).code ?? '';
  const message = (err as Error).message;
  const cause = { cause: err };
  if (code === 'SQLITE_NOTADB') return new OutboxError(path, `is not a SQLite database (damaged, or another kind of file). ${KEEP_IT}`, cause);
  if (code.startsWith('SQLITE_CORRUPT')) return new OutboxError(path, `is damaged (${message}). ${KEEP_IT}`, cause);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new OutboxError(path, 'is in use by another process (is another agent running with the same state_dir and agent id?)', cause);
  }
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM') || code === 'SQLITE_AUTH') {
    return new OutboxError(path, `cannot be opened for reading and writing (${code}: ${message}); check the state_dir and its permissions`, cause);
  }
  return new OutboxError(path, `cannot be opened (${code || 'error'}: ${message})`, cause);
}

interface IdBytes {
  id: number;
  ts: number;
  bytes: number;
}

/** What one write transaction changed, applied to the in-memory counters after the commit. */
interface Delta {
  count: number;
  bytes: number;
  dropped: number;
  droppedFrom?: number;
  droppedTo?: number;
  /** The batch in flight changed (lost samples, or is gone). */
  pendingChanged: boolean;
}

interface PendingBatch extends OutboxBatch {
  seq: number;
}

/** The statements of an open outbox file. */
function prepareStatements(db: Database.Database) {
  return {
    insert: db.prepare('INSERT INTO samples (ts, bytes, body) VALUES (?, ?, ?)'),
    unassigned: db.prepare('SELECT id, ts, bytes FROM samples WHERE batch IS NULL ORDER BY id'),
    assigned: db.prepare('SELECT id, ts, bytes FROM samples WHERE batch IS NOT NULL ORDER BY id'),
    deleteUnassignedTo: db.prepare('DELETE FROM samples WHERE batch IS NULL AND id <= ?'),
    deleteAssignedTo: db.prepare('DELETE FROM samples WHERE batch IS NOT NULL AND id <= ?'),
    toAssign: db.prepare('SELECT id, body FROM samples WHERE batch IS NULL ORDER BY id LIMIT ?'),
    assign: db.prepare('UPDATE samples SET batch = ? WHERE batch IS NULL AND id <= ?'),
    insertBatch: db.prepare('INSERT INTO batches (seq, id, formed_at) VALUES (?, ?, ?)'),
    firstBatch: db.prepare('SELECT seq, id FROM batches ORDER BY seq LIMIT 1'),
    batchBodies: db.prepare('SELECT body FROM samples WHERE batch = ? ORDER BY id').pluck(),
    batchTotals: db.prepare('SELECT count(*) AS count, coalesce(sum(bytes), 0) AS bytes FROM samples WHERE batch = ?'),
    deleteBatchSamples: db.prepare('DELETE FROM samples WHERE batch = ?'),
    deleteBatch: db.prepare('DELETE FROM batches WHERE seq = ?'),
    totals: db.prepare('SELECT count(*) AS count, coalesce(sum(bytes), 0) AS bytes FROM samples'),
    oldestTs: db.prepare('SELECT ts FROM samples ORDER BY id LIMIT 1').pluck(),
    allBodies: db.prepare('SELECT body FROM samples ORDER BY id').pluck(),
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
    setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    addMeta: db.prepare('UPDATE meta SET value = value + ? WHERE key = ?'),
  };
}

/** The durable outbox. Create (opens the file, throws OutboxError when it cannot), use, close(). */
export class SqliteOutbox implements Outbox {
  readonly path: string;
  readonly #o: SqliteOutboxOptions & { sync: OutboxSyncMode; syncIntervalMs: number };
  readonly #db: Database.Database;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #idPrefix: string;
  readonly #st: ReturnType<typeof prepareStatements>;
  /** The append transaction, built once (better-sqlite3 builds a wrapper per transaction() call). */
  readonly #appendTxn: (samples: readonly Sample[]) => Delta;
  #count = 0;
  #bytes = 0;
  #dropped = 0;
  #pending: PendingBatch | undefined;
  #dropping = false;
  #dropLoggedAt = 0;
  #episodeDropped = 0;
  #syncTimer: TimerHandle | undefined;
  #lastSyncAt = 0;
  #syncFailed = false;
  #closed = false;

  constructor(options: SqliteOutboxOptions) {
    this.#o = { ...options, sync: options.sync ?? 'interval', syncIntervalMs: options.syncIntervalMs ?? 1000 };
    this.path = options.path;
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.logger ?? silentLogger()).child({ outbox: options.path });
    // batch ids are at most 80 characters: keep room for the boot id and a 16-digit seq.
    this.#idPrefix = `${options.agentId.slice(0, 48)}-${options.bootId.slice(0, 12)}`;

    const existed = existsSync(this.path) && statSync(this.path).size > 0;
    let db: Database.Database;
    try {
      db = new Database(this.path, { timeout: options.busyTimeoutMs ?? 1000 });
    } catch (err) {
      throw openError(this.path, err);
    }
    this.#db = db;
    try {
      this.#open(existed);
    } catch (err) {
      db.close();
      throw openError(this.path, err);
    }

    try {
      this.#st = prepareStatements(db);
      this.#appendTxn = db.transaction((samples: readonly Sample[]) => this.#appendRows(samples));
      const totals = this.#st.totals.get() as { count: number; bytes: number };
      this.#count = totals.count;
      this.#bytes = totals.bytes;
      this.#dropped = Number(this.#st.getMeta.get('dropped_samples') ?? 0);
      this.#pending = this.#loadPending();
    } catch (err) {
      db.close();
      throw openError(this.path, err);
    }
    this.#lastSyncAt = this.#clock.now();
    const fields = {
      sync: this.#o.sync,
      queued: this.#count,
      bytes: this.#bytes,
      droppedSamples: this.#dropped,
      ...(this.#pending ? { inFlightBatch: this.#pending.id } : {}),
    };
    if (!existed) this.#log.info(fields, 'created a new outbox');
    else this.#log.info(fields, `opened the outbox: ${this.#count} sample(s) queued from earlier runs`);
  }

  /** Pragmas, identity and schema checks, migration; throws what SQLite throws. */
  #open(existed: boolean): void {
    const db = this.#db;
    // One process per file, and no shared-memory file next to it: the lock is held until close.
    db.pragma('locking_mode = EXCLUSIVE');
    const fresh = (db.pragma('page_count', { simple: true }) as number) === 0;
    if (fresh) db.pragma('auto_vacuum = INCREMENTAL'); // only possible before the first table
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new OutboxError(this.path, `cannot use the WAL journal (journal_mode is ${String(mode)})`);
    db.pragma(`synchronous = ${this.#o.sync === 'always' ? 'FULL' : 'NORMAL'}`);
    db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
    // The outbox's working set is its two ends (appends, the oldest batch): 512 KiB of page cache hold them; the
    // default 2 MiB would only add to the agent's resident memory.
    db.pragma('cache_size = -512');

    const tables = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table'").pluck().get() as number;
    const appId = db.pragma('application_id', { simple: true }) as number;
    const version = db.pragma('user_version', { simple: true }) as number;
    if (tables === 0 && version === 0) {
      const create = db.transaction(() => {
        db.exec(SCHEMA);
        db.pragma(`application_id = ${APPLICATION_ID}`);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
        const first = Math.max(0, Math.trunc(this.#o.firstSeq ?? this.#clock.now()));
        db.prepare('INSERT INTO meta (key, value) VALUES (?, ?), (?, ?), (?, ?)').run(
          'next_seq',
          first,
          'dropped_samples',
          0,
          'created_at',
          this.#clock.now(),
        );
      });
      // The file exists for good only once its schema is fsynced, whatever the sync mode.
      this.#withFullSync(create);
      if (existed) this.#log.warn('the outbox file was an empty SQLite database; it was set up as a new outbox');
      return;
    }
    if (appId !== APPLICATION_ID) {
      throw new OutboxError(this.path, `is a SQLite database but not a jishi agent outbox (application_id ${appId}). ${KEEP_IT}`);
    }
    if (version > SCHEMA_VERSION) {
      throw new OutboxError(this.path, `was written by a newer jishi (outbox schema ${version}; this version reads up to ${SCHEMA_VERSION}). Upgrade the agent.`);
    }
    if (this.#o.check ?? true) {
      const problems = (db.pragma('quick_check(5)') as Array<{ quick_check: string }>).map((r) => r.quick_check);
      if (problems.length !== 1 || problems[0] !== 'ok') {
        throw new OutboxError(this.path, `is damaged (quick_check: ${problems.join('; ')}). ${KEEP_IT}`);
      }
    }
    // Take the write lock now, not at the first append: a second agent on the file fails at start.
    db.prepare("UPDATE meta SET value = value WHERE key = 'next_seq'").run();
  }

  append(samples: readonly Sample[]): void {
    this.#assertOpen();
    if (samples.length === 0) return;
    const delta = this.#appendTx(samples);
    // Committed: from here on nothing may throw, or a caller would append the same samples again.
    try {
      this.#applyDelta(delta);
      this.#written();
    } catch (err) {
      this.#log.error({ err }, 'outbox: samples stored, but updating the counters after the commit failed');
    }
  }

  nextBatch(max: number): OutboxBatch | undefined {
    this.#assertOpen();
    if (this.#pending) return this.#pending;
    if (this.#count === 0) return undefined;
    const pending = this.#withFullSync(() => this.#formTx(Math.max(1, Math.trunc(max))));
    this.#pending = pending;
    return pending;
  }

  ack(batchId: string): void {
    this.#forget(batchId);
  }

  discard(batchId: string): void {
    this.#forget(batchId);
  }

  stats(): SqliteOutboxStats {
    const oldest = this.#closed || this.#count === 0 ? undefined : (this.#st.oldestTs.get() as number | undefined);
    return {
      depth: this.#count,
      droppedSamples: this.#dropped,
      bytes: this.#bytes,
      ...(oldest === undefined ? {} : { oldestTs: oldest }),
      ...(this.#pending ? { inFlightBatch: this.#pending.id } : {}),
      lastSyncAt: this.#lastSyncAt,
    };
  }

  /** Every queued sample, oldest first (the batch in flight first). For inspection and tests. */
  queuedSamples(): Sample[] {
    this.#assertOpen();
    return (this.#st.allBodies.all() as string[]).map((b) => JSON.parse(b) as Sample);
  }

  /** The batch in flight, without forming a new one. */
  inFlight(): OutboxBatch | undefined {
    this.#assertOpen();
    return this.#pending;
  }

  /** Forces everything committed to disk now (a WAL checkpoint, which fsyncs). */
  sync(): void {
    this.#assertOpen();
    this.#checkpoint('PASSIVE');
  }

  /** Writes everything to disk and closes the file. Idempotent; the outbox cannot be used afterwards. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#syncTimer !== undefined) this.#clock.clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
    try {
      this.#vacuumIfWorthIt(true);
      this.#db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (err) {
      this.#log.error({ err }, 'outbox: the last checkpoint failed; SQLite recovers the WAL at the next start');
    }
    this.#db.close();
    this.#log.info({ queued: this.#count, droppedSamples: this.#dropped }, `outbox closed with ${this.#count} sample(s) queued`);
  }

  // ---- transactions ----------------------------------------------------------------------------------

  #appendTx(samples: readonly Sample[]): Delta {
    return this.#appendTxn(samples);
  }

  /** The rows of one append call and the quota. Inside the append transaction. */
  #appendRows(samples: readonly Sample[]): Delta {
    const delta: Delta = { count: 0, bytes: 0, dropped: 0, pendingChanged: false };
    const insert = this.#st.insert;
    for (const s of samples) {
      const body = JSON.stringify(s);
      const bytes = Buffer.byteLength(body) + SAMPLE_OVERHEAD_BYTES;
      insert.run(s.ts, bytes, body);
      delta.count++;
      delta.bytes += bytes;
    }
    this.#enforceQuota(delta);
    return delta;
  }

  /** Deletes the oldest samples while the outbox (with `delta` applied) is over a quota. Inside a transaction. */
  #enforceQuota(delta: Delta): void {
    const over = (): boolean =>
      this.#bytes + delta.bytes > this.#o.maxBytes || (this.#o.maxSamples !== undefined && this.#count + delta.count > this.#o.maxSamples);
    if (!over()) return;
    const dropFrom = (rows: Iterable<IdBytes>, del: Database.Statement): void => {
      let last: IdBytes | undefined;
      for (const row of rows) {
        if (!over()) break;
        last = row;
        delta.count--;
        delta.bytes -= row.bytes;
        delta.dropped++;
        delta.droppedFrom ??= row.ts;
        delta.droppedTo = row.ts;
      }
      if (last) del.run(last.id);
    };
    dropFrom(this.#st.unassigned.iterate() as Iterable<IdBytes>, this.#st.deleteUnassignedTo);
    if (over()) {
      // Nothing but the batch in flight is left: it loses its oldest samples (it keeps its id).
      dropFrom(this.#st.assigned.iterate() as Iterable<IdBytes>, this.#st.deleteAssignedTo);
      delta.pendingChanged = true;
      const seq = this.#pending?.seq;
      if (seq !== undefined && (this.#st.batchTotals.get(seq) as { count: number }).count === 0) this.#st.deleteBatch.run(seq);
    }
    this.#st.addMeta.run(delta.dropped, 'dropped_samples');
  }

  #formTx(max: number): PendingBatch {
    return this.#db.transaction((): PendingBatch => {
      const rows = this.#st.toAssign.all(max) as Array<{ id: number; body: string }>;
      const seq = Number(this.#st.getMeta.get('next_seq'));
      const id = `${this.#idPrefix}-${seq}`;
      this.#st.insertBatch.run(seq, id, this.#clock.now());
      this.#st.assign.run(seq, rows[rows.length - 1]!.id);
      this.#st.setMeta.run('next_seq', seq + 1);
      return { id, seq, samples: rows.map((r) => JSON.parse(r.body) as Sample) };
    })();
  }

  #forget(batchId: string): void {
    this.#assertOpen();
    if (this.#pending?.id !== batchId) {
      // Unknown, or already forgotten: nothing to do (the batch in flight is always the one in #pending).
      return;
    }
    const { seq } = this.#pending;
    const totals = this.#db.transaction(() => {
      const t = this.#st.batchTotals.get(seq) as { count: number; bytes: number };
      this.#st.deleteBatchSamples.run(seq);
      this.#st.deleteBatch.run(seq);
      return t;
    })();
    this.#count -= totals.count;
    this.#bytes -= totals.bytes;
    this.#pending = undefined;
    if (this.#dropping) {
      this.#dropping = false;
      this.#log.info(
        { droppedSamples: this.#episodeDropped, droppedTotal: this.#dropped },
        `outbox below its quota again after dropping ${this.#episodeDropped} sample(s)`,
      );
      this.#episodeDropped = 0;
    }
    this.#vacuumIfWorthIt();
    this.#written();
  }

  // ---- helpers ---------------------------------------------------------------------------------------

  #applyDelta(delta: Delta): void {
    this.#count += delta.count;
    this.#bytes += delta.bytes;
    if (delta.pendingChanged && this.#pending) this.#pending = this.#loadPending();
    if (delta.dropped === 0) return;
    this.#dropped += delta.dropped;
    this.#episodeDropped += delta.dropped;
    const now = this.#clock.now();
    if (this.#dropping && now - this.#dropLoggedAt < DROP_LOG_EVERY_MS) return;
    const first = !this.#dropping;
    this.#dropping = true;
    this.#dropLoggedAt = now;
    this.#log.warn(
      {
        maxBytes: this.#o.maxBytes,
        ...(this.#o.maxSamples === undefined ? {} : { maxSamples: this.#o.maxSamples }),
        queued: this.#count,
        droppedSamples: this.#episodeDropped,
        droppedTotal: this.#dropped,
        droppedFrom: delta.droppedFrom,
        droppedTo: delta.droppedTo,
      },
      first
        ? 'outbox full: dropping the oldest unsent samples until the collector accepts batches again'
        : `outbox still full: ${this.#episodeDropped} sample(s) dropped so far`,
    );
  }

  /** The batch in flight as the file holds it (formed by this or an earlier run), or undefined. */
  #loadPending(): PendingBatch | undefined {
    for (;;) {
      const row = this.#st.firstBatch.get() as { seq: number; id: string } | undefined;
      if (!row) return undefined;
      const bodies = this.#st.batchBodies.all(row.seq) as string[];
      if (bodies.length > 0) return { id: row.id, seq: row.seq, samples: bodies.map((b) => JSON.parse(b) as Sample) };
      this.#st.deleteBatch.run(row.seq); // every sample of it was dropped
    }
  }

  /** Runs `fn` with synchronous = FULL, so that its commit (and everything before it) is fsynced. */
  #withFullSync<T>(fn: () => T): T {
    if (this.#o.sync === 'always') return fn();
    this.#db.pragma('synchronous = FULL');
    try {
      return fn();
    } finally {
      this.#db.pragma('synchronous = NORMAL');
    }
  }

  /** After a commit: with sync 'interval', makes sure a checkpoint (fsync) follows within the interval. */
  #written(): void {
    if (this.#o.sync !== 'interval' || this.#syncTimer !== undefined || this.#closed) return;
    const wait = Math.max(0, this.#lastSyncAt + this.#o.syncIntervalMs - this.#clock.now());
    this.#syncTimer = this.#clock.setTimeout(() => {
      this.#syncTimer = undefined;
      if (!this.#closed) this.#checkpoint('PASSIVE');
    }, wait);
  }

  #checkpoint(mode: 'PASSIVE' | 'TRUNCATE'): void {
    try {
      this.#db.pragma(`wal_checkpoint(${mode})`);
      this.#lastSyncAt = this.#clock.now();
      if (this.#syncFailed) this.#log.info('outbox: writing to disk works again');
      this.#syncFailed = false;
    } catch (err) {
      if (!this.#syncFailed) this.#log.error({ err }, 'outbox: cannot write to disk (checkpoint failed); retrying at the next sync');
      this.#syncFailed = true;
    }
  }

  /** Gives pages freed by acks back to the file system once there are many (auto_vacuum = INCREMENTAL). */
  #vacuumIfWorthIt(always = false): void {
    const free = this.#db.pragma('freelist_count', { simple: true }) as number;
    const pageSize = this.#db.pragma('page_size', { simple: true }) as number;
    if (free === 0 || (!always && free * pageSize < (this.#count === 0 ? VACUUM_THRESHOLD_BYTES / 8 : VACUUM_THRESHOLD_BYTES))) return;
    try {
      this.#db.pragma('incremental_vacuum');
    } catch (err) {
      this.#log.warn({ err }, 'outbox: incremental vacuum failed; the file keeps its free pages');
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error(`outbox ${this.path} is closed`);
  }
}
