/**
 * The collector's SQLite store (better-sqlite3), the system of record.
 *
 * Durability: WAL journal with `synchronous = NORMAL`. A committed ingest survives a crash of the collector
 * process; after a power loss or OS crash the last few committed transactions may be rolled back (the file is
 * never corrupted). Agents keep a batch in their outbox until it is acknowledged, so that window only matters
 * when the machine loses power right after an ack. Pass `synchronous: 'FULL'` to close it at the cost of an
 * fsync per batch.
 */
import Database from 'better-sqlite3';
import { JishiError } from '../../common/errors.ts';
import type { AgentStatusReport, IngestBatch, Readings, Sample } from '../../common/wire.ts';
import { migrate, READING_COLUMNS } from './migrations.ts';
import { createSqliteEngineStore } from './sqlite-engine-store.ts';
import { createSqliteSharingStore } from './sharing-store.ts';
import type { AgentReport, AgentView, IngestResult, Store, StoredInstrument, StoredReading } from './store.ts';

export interface SqliteStoreOptions {
  /** `NORMAL` (default) or `FULL`; see the module comment. */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long a write waits for another connection's lock before failing (ms, default 2000). Blocks the event loop. */
  busyTimeoutMs?: number;
}

interface ReadingRow {
  id: number;
  instrument_id: string;
  agent_id: string;
  ts: number;
  extra: string | null;
  status: string | null;
  error: string | null;
  received_at: number;
  [column: string]: unknown;
}

interface InstrumentRow {
  id: string;
  agent_id: string | null;
  name: string | null;
  first_seen: number | null;
  last_seen: number | null;
  last_reading_id: number | null;
}

/** The reading columns in name order: readings objects list their fields in this order (the line protocol's). */
const COLUMNS_BY_NAME = [...READING_COLUMNS].sort();

/** The columns of a stored reading as READING_SELECT reads them, in that order. */
const READING_FIELDS = ['id', 'instrument_id', 'agent_id', 'ts', ...COLUMNS_BY_NAME, 'extra', 'status', 'error', 'received_at'] as const;
const READING_SELECT = READING_FIELDS.map((c) => `r.${c}`).join(', ');

/** Positions in a raw (array) row of READING_SELECT. */
const RAW_FIRST_COLUMN = 4;
const RAW_EXTRA = RAW_FIRST_COLUMN + COLUMNS_BY_NAME.length;

/**
 * A StoredReading from the values of READING_SELECT, in order: what the forwarder reads, thousands at a time, as raw
 * rows (an array per row and no intermediate object cost about half as much as row objects).
 */
function storedReadingOf(a: readonly unknown[]): StoredReading {
  const readings: Readings = {};
  for (let i = 0; i < COLUMNS_BY_NAME.length; i++) {
    const v = a[RAW_FIRST_COLUMN + i];
    if (typeof v === 'number') readings[COLUMNS_BY_NAME[i]!] = v;
  }
  const extra = a[RAW_EXTRA] as string | null;
  if (extra !== null) Object.assign(readings, JSON.parse(extra) as Readings);
  const r: StoredReading = { id: a[0] as number, instrument_id: a[1] as string, agent_id: a[2] as string, ts: a[3] as number, readings, received_at: a[RAW_EXTRA + 3] as number };
  const status = a[RAW_EXTRA + 1] as string | null;
  const error = a[RAW_EXTRA + 2] as string | null;
  if (status !== null) r.status = status;
  if (error !== null) r.error = error;
  return r;
}

/** storedReadingOf a row object with READING_SELECT's columns (the instruments list's join). */
const storedReading = (row: ReadingRow): StoredReading => storedReadingOf(READING_FIELDS.map((c) => row[c]));

/** Column index of each READING_COLUMNS field in the insert's parameter list (after instrument_id, agent_id, ts). */
const COLUMN_INDEX: ReadonlyMap<string, number> = new Map(READING_COLUMNS.map((c, i) => [c, 3 + i]));
const EXTRA_INDEX = 3 + READING_COLUMNS.length;

/**
 * The insert's positional parameters for one sample (positional: binding named parameters from an object cost
 * about a third of the insert).
 */
function readingParams(sample: Sample, agentId: string, receivedAt: number): unknown[] {
  const params: unknown[] = new Array(EXTRA_INDEX + 4).fill(null);
  params[0] = sample.instrument_id;
  params[1] = agentId;
  params[2] = sample.ts;
  let extra: Readings | undefined;
  for (const field in sample.readings) {
    const value = sample.readings[field];
    const index = COLUMN_INDEX.get(field);
    if (index !== undefined) params[index] = value;
    else (extra ??= {})[field] = value!;
  }
  params[EXTRA_INDEX] = extra === undefined ? null : JSON.stringify(extra);
  params[EXTRA_INDEX + 1] = sample.status ?? null;
  params[EXTRA_INDEX + 2] = sample.error ?? null;
  params[EXTRA_INDEX + 3] = receivedAt;
  return params;
}

/** A stored agent_status; null when absent or unreadable (it is informational only). */
function parseStatus(json: string | null): AgentStatusReport | null {
  if (json === null) return null;
  try {
    return JSON.parse(json) as AgentStatusReport;
  } catch {
    return null;
  }
}

/** True for failures of the database itself (I/O, full disk, lock timeout, closed handle), not for bugs. */
function isStoreFailure(db: Database.Database, err: unknown): boolean {
  return err instanceof Database.SqliteError || !db.open;
}

/** Opens (creating and migrating when needed) a store file, or an in-memory store for tests. */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): Store {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 2000))}`);
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }

  const st = {
    deleteTokenElsewhere: db.prepare('DELETE FROM agents WHERE token_sha256 = ? AND id <> ?'),
    upsertAgent: db.prepare(
      'INSERT INTO agents (id, token_sha256) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET token_sha256 = excluded.token_sha256',
    ),
    agentIds: db.prepare('SELECT id FROM agents').pluck(),
    deleteAgent: db.prepare('DELETE FROM agents WHERE id = ?'),
    agentForToken: db.prepare('SELECT id FROM agents WHERE token_sha256 = ?').pluck(),
    insertBatch: db.prepare(
      `INSERT INTO batches (agent_id, batch_id, seq, sent_at, received_at, samples, clock_offset_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
    ),
    listAgents: db.prepare(
      `SELECT a.id,
         (SELECT count(*) FROM batches b WHERE b.agent_id = a.id) AS batches,
         l.received_at AS last_batch_at, l.received_at - l.sent_at AS clock_skew_ms, l.clock_offset_ms,
         a.last_status AS status
       FROM agents a
       LEFT JOIN batches l ON l.agent_id = a.id AND l.batch_id = (
         SELECT batch_id FROM batches b WHERE b.agent_id = a.id ORDER BY b.received_at DESC, b.seq DESC LIMIT 1)
       ORDER BY a.id`,
    ),
    setStatus: db.prepare('UPDATE agents SET last_status = ? WHERE id = ?'),
    insertReading: db.prepare(
      `INSERT INTO readings (instrument_id, agent_id, ts, ${READING_COLUMNS.join(', ')}, extra, status, error, received_at)
       VALUES (${new Array(READING_COLUMNS.length + 7).fill('?').join(', ')})`,
    ),
    getInstrument: db.prepare('SELECT * FROM instruments WHERE id = ?'),
    insertInstrument: db.prepare(
      `INSERT INTO instruments (id, agent_id, name, first_seen, last_seen, last_reading_id)
       VALUES (@id, @agent_id, NULL, @first_seen, @last_seen, @last_reading_id)`,
    ),
    updateInstrument: db.prepare(
      `UPDATE instruments SET agent_id = @agent_id, first_seen = @first_seen, last_seen = @last_seen,
         last_reading_id = @last_reading_id WHERE id = @id`,
    ),
    listInstruments: db.prepare(
      `SELECT i.id AS i_id, i.agent_id AS i_agent_id, i.name AS i_name, i.last_seen AS i_last_seen, ${READING_SELECT}
       FROM instruments i LEFT JOIN readings r ON r.id = i.last_reading_id ORDER BY i.id`,
    ),
    instrumentIds: db.prepare('SELECT id FROM instruments ORDER BY id').pluck(),
    instrumentAgent: db.prepare('SELECT agent_id FROM instruments WHERE id = ?').pluck(),
    readingsAfter: db.prepare(`SELECT ${READING_SELECT} FROM readings r WHERE r.id > ? ORDER BY r.id LIMIT ?`).raw(),
    getCursor: db.prepare('SELECT value FROM cursors WHERE name = ?').pluck(),
    setCursor: db.prepare(
      'INSERT INTO cursors (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
    ),
    // Readings and reports are never deleted and their AUTOINCREMENT ids never reused (a rolled-back insert rolls
    // its id back too), so the rows after a cursor are exactly the id span after it: O(log n) where count(*) read
    // every row of the backlog, on every /healthz and /metrics request. (A retention that deletes old readings
    // keeps this exact as long as it deletes only rows at or before every cursor.)
    pending: db.prepare(
      'SELECT max(0, coalesce((SELECT max(id) FROM readings), 0) - coalesce((SELECT value FROM cursors WHERE name = ?), 0))',
    ).pluck(),
    ping: db.prepare('SELECT 1').pluck(),
    insertReport: db.prepare(
      'INSERT INTO agent_reports (agent_id, sent_at, received_at, samples, clock_offset_ms, status) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    reportsAfter: db.prepare('SELECT * FROM agent_reports WHERE id > ? ORDER BY id LIMIT ?'),
    pendingReports: db.prepare(
      'SELECT max(0, coalesce((SELECT max(id) FROM agent_reports), 0) - coalesce((SELECT value FROM cursors WHERE name = ?), 0))',
    ).pluck(),
  };

  const ingestTx = db.transaction((batch: IngestBatch, receivedAt: number, clockOffsetMs: number): IngestResult => {
    const inserted = st.insertBatch.run(
      batch.agent_id,
      batch.batch_id,
      batch.seq,
      batch.sent_at,
      receivedAt,
      batch.samples.length,
      clockOffsetMs,
    );
    if (inserted.changes === 0) return { accepted: 0, duplicate: true };
    const status = batch.agent_status === undefined ? null : JSON.stringify(batch.agent_status);
    if (status !== null) st.setStatus.run(status, batch.agent_id);
    st.insertReport.run(batch.agent_id, batch.sent_at, receivedAt, batch.samples.length, clockOffsetMs, status);

    const perInstrument = new Map<string, { sample: Sample; readingId: number }[]>();
    for (const sample of batch.samples) {
      const readingId = Number(st.insertReading.run(readingParams(sample, batch.agent_id, receivedAt)).lastInsertRowid);
      let list = perInstrument.get(sample.instrument_id);
      if (list === undefined) perInstrument.set(sample.instrument_id, (list = []));
      list.push({ sample, readingId });
    }

    for (const [instrumentId, entries] of perInstrument) {
      const row = st.getInstrument.get(instrumentId) as InstrumentRow | undefined;
      let firstSeen = row?.first_seen ?? null;
      let lastSeen = row?.last_seen ?? null;
      let lastReadingId = row?.last_reading_id ?? null;
      let agentId = row?.agent_id ?? batch.agent_id;
      for (const { sample, readingId } of entries) {
        if (firstSeen === null || sample.ts < firstSeen) firstSeen = sample.ts;
        // A late sample is stored but does not become the last reading; of equal times the later in the batch wins.
        if (lastSeen !== null && sample.ts < lastSeen) continue;
        lastSeen = sample.ts;
        lastReadingId = readingId;
        agentId = batch.agent_id;
      }
      const params = { id: instrumentId, agent_id: agentId, first_seen: firstSeen, last_seen: lastSeen, last_reading_id: lastReadingId };
      if (row === undefined) st.insertInstrument.run(params);
      else st.updateInstrument.run(params);
    }
    return { accepted: batch.samples.length, duplicate: false };
  });

  const upsertAgentTx = db.transaction((agentId: string, hash: string) => {
    st.deleteTokenElsewhere.run(hash, agentId);
    st.upsertAgent.run(agentId, hash);
  });

  const removeAgentsTx = db.transaction((keep: readonly string[]): string[] => {
    const keepSet = new Set(keep);
    const removed = (st.agentIds.all() as string[]).filter((id) => !keepSet.has(id));
    for (const id of removed) st.deleteAgent.run(id);
    return removed;
  });

  /** Runs `fn`, turning failures of the database into JISHI_ERR_STORE_UNAVAILABLE. */
  function guarded<T>(what: string, fn: () => T): T {
    try {
      if (!db.open) throw new TypeError('the store is closed');
      return fn();
    } catch (err) {
      if (err instanceof JishiError || !isStoreFailure(db, err)) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      throw new JishiError('JISHI_ERR_STORE_UNAVAILABLE', `store ${what} failed: ${reason}`, { cause: err });
    }
  }

  return {
    engine: createSqliteEngineStore(db),
    sharing: createSqliteSharingStore(db),
    upsertAgent: (agentId, tokenSha256) => guarded('upsertAgent', () => upsertAgentTx(agentId, tokenSha256.toLowerCase())),
    removeAgentsExcept: (agentIds) => guarded('removeAgentsExcept', () => removeAgentsTx(agentIds)),
    agentForTokenHash: (tokenSha256) =>
      guarded('agentForTokenHash', () => st.agentForToken.get(tokenSha256.toLowerCase()) as string | undefined),
    ingest: (batch, receivedAt, options) => guarded('ingest', () => ingestTx(batch, receivedAt, options?.clockOffsetMs ?? 0)),
    listAgents: () =>
      guarded('listAgents', () =>
        (st.listAgents.all() as Array<Omit<AgentView, 'status'> & { status: string | null }>).map((row) => ({
          ...row,
          status: parseStatus(row.status),
        })),
      ),
    listInstruments: () =>
      guarded('listInstruments', () =>
        (st.listInstruments.all() as (ReadingRow & Record<string, unknown>)[]).map((row): StoredInstrument => {
          const hasReading = row.id !== null;
          const reading = hasReading ? storedReading(row) : undefined;
          return {
            id: row.i_id as string,
            agent_id: row.i_agent_id as string | null,
            name: row.i_name as string | null,
            last_seen: row.i_last_seen as number | null,
            last_reading:
              reading === undefined
                ? null
                : {
                    ts: reading.ts,
                    readings: reading.readings,
                    ...(reading.status !== undefined ? { status: reading.status } : {}),
                    ...(reading.error !== undefined ? { error: reading.error } : {}),
                  },
          };
        }),
      ),
    instrumentIds: () => guarded('instrumentIds', () => st.instrumentIds.all() as string[]),
    instrumentAgent: (instrumentId) =>
      guarded('instrumentAgent', () => st.instrumentAgent.get(instrumentId) as string | null | undefined),
    readingsAfter: (cursor, limit) =>
      guarded('readingsAfter', () => (st.readingsAfter.all(cursor, limit) as unknown[][]).map(storedReadingOf)),
    getCursor: (name) => guarded('getCursor', () => (st.getCursor.get(name) as number | undefined) ?? 0),
    setCursor: (name, value) => guarded('setCursor', () => void st.setCursor.run(name, value)),
    pendingCount: (cursorName) => guarded('pendingCount', () => st.pending.get(cursorName) as number),
    agentReportsAfter: (cursor, limit) =>
      guarded('agentReportsAfter', () =>
        (st.reportsAfter.all(cursor, limit) as Array<Omit<AgentReport, 'status'> & { status: string | null }>).map((r) => ({
          ...r,
          status: r.status === null ? null : (JSON.parse(r.status) as AgentStatusReport),
        })),
      ),
    pendingAgentReports: (cursorName) => guarded('pendingAgentReports', () => st.pendingReports.get(cursorName) as number),
    ping: () => guarded('ping', () => void st.ping.get()),
    size: () =>
      guarded('size', () => {
        const pageSize = db.pragma('page_size', { simple: true }) as number;
        return {
          bytes: (db.pragma('page_count', { simple: true }) as number) * pageSize,
          freeBytes: (db.pragma('freelist_count', { simple: true }) as number) * pageSize,
        };
      }),
    close: () => {
      if (db.open) db.close();
    },
  };
}
