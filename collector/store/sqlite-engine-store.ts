/** The engine store on the collector's SQLite database (tables of migration v2). */
import type Database from 'better-sqlite3';
import type { EngineSample, InstrumentState, StateInterval } from '../engine/types.ts';
import type { DatedRollup, EngineStore, InstrumentRollup, InstrumentSession, ResultLogEntry, StoredCheckpoint } from './engine-store.ts';

interface SampleRow {
  ts: number;
  power_w: number | null;
  energy_kwh: number | null;
  status: string | null;
  error: string | null;
}

interface CheckpointRow {
  day?: string;
  last_ts: number | null;
  checkpoint: string;
}

function sampleOf(row: SampleRow): EngineSample {
  const s: EngineSample = { ts: row.ts };
  if (row.power_w !== null) s.power_w = row.power_w;
  if (row.energy_kwh !== null) s.energy_kwh = row.energy_kwh;
  if (row.status !== null) s.status = row.status;
  if (row.error !== null) s.error = row.error;
  return s;
}

const checkpointOf = (row: CheckpointRow): StoredCheckpoint => ({ lastTs: row.last_ts, checkpoint: JSON.parse(row.checkpoint) as unknown });

/** `IN (...)` over a JSON array parameter, so one prepared statement serves any number of ids. */
const IDS_FILTER = '(? IS NULL OR instrument_id IN (SELECT value FROM json_each(?)))';
const idsParams = (ids: readonly string[] | undefined): [string | null, string | null] => {
  const json = ids === undefined ? null : JSON.stringify(ids);
  return [json, json];
};

/** Readings read per page by samples(). */
const SAMPLE_PAGE = 5000;

export function createSqliteEngineStore(db: Database.Database): EngineStore {
  const st = {
    // The instruments table has a row for every instrument with stored readings (the ingest transaction writes
    // both): a DISTINCT over the readings index would read every reading, minutes for a few years of a lab.
    instrumentIds: db.prepare('SELECT id FROM instruments WHERE last_reading_id IS NOT NULL ORDER BY id').pluck(),
    // Pages in (ts, id) order: the caller commits engine results between pages, which better-sqlite3 refuses while
    // a statement of the same connection is still being iterated ("connection is busy").
    samplesPage: db.prepare(
      `SELECT id, ts, power_w, energy_kwh, status, error FROM readings
       WHERE instrument_id = @instrument_id AND (ts > @ts OR (ts = @ts AND id > @id)) ORDER BY ts, id LIMIT @limit`,
    ),
    loadState: db.prepare('SELECT last_ts, checkpoint FROM engine_state WHERE instrument_id = ?'),
    saveState: db.prepare(
      `INSERT INTO engine_state (instrument_id, last_ts, checkpoint) VALUES (?, ?, ?)
       ON CONFLICT (instrument_id) DO UPDATE SET last_ts = excluded.last_ts, checkpoint = excluded.checkpoint`,
    ),
    deleteState: db.prepare('DELETE FROM engine_state WHERE instrument_id = ?'),
    saveDay: db.prepare(
      `INSERT INTO engine_day_checkpoints (instrument_id, day, last_ts, checkpoint) VALUES (?, ?, ?, ?)
       ON CONFLICT (instrument_id, day) DO UPDATE SET last_ts = excluded.last_ts, checkpoint = excluded.checkpoint`,
    ),
    dayAtOrBefore: db.prepare(
      `SELECT day, last_ts, checkpoint FROM engine_day_checkpoints WHERE instrument_id = ? AND day <= ?
       ORDER BY day DESC LIMIT 1`,
    ),
    deleteDaysAfter: db.prepare('DELETE FROM engine_day_checkpoints WHERE instrument_id = ? AND day > ?'),
    deleteDaysAll: db.prepare('DELETE FROM engine_day_checkpoints WHERE instrument_id = ?'),
    insertInterval: db.prepare(
      `INSERT OR REPLACE INTO state_intervals (instrument_id, start, end, state, energy_kwh, drain_ts)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    insertSession: db.prepare(
      `INSERT OR REPLACE INTO sessions (instrument_id, start, end, active_s, warmup_s, post_s, energy_kwh, drain_ts)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    deleteIntervalsAfter: db.prepare('DELETE FROM state_intervals WHERE instrument_id = ? AND drain_ts > ?'),
    deleteSessionsAfter: db.prepare('DELETE FROM sessions WHERE instrument_id = ? AND drain_ts > ?'),
    finalUntil: db.prepare('SELECT max(end) FROM state_intervals WHERE instrument_id = ?').pluck(),
    intervals: db.prepare(
      `SELECT start, end, state, energy_kwh FROM state_intervals
       WHERE instrument_id = ? AND end > ? AND start < ? ORDER BY start`,
    ),
    sessions: db.prepare(
      `SELECT instrument_id, start, end, active_s, warmup_s, post_s, energy_kwh FROM sessions
       WHERE ${IDS_FILTER} AND end > ? AND start < ? ORDER BY start, instrument_id`,
    ),
    upsertRollup: db.prepare(
      `INSERT OR REPLACE INTO daily_rollups (instrument_id, day, period_s, off_s, standby_s, active_s, fault_s,
         unknown_s, effective_s, sessions, energy_kwh, coverage)
       VALUES (@instrument_id, @day, @period_s, @off_s, @standby_s, @active_s, @fault_s, @unknown_s, @effective_s,
         @sessions, @energy_kwh, @coverage)`,
    ),
    log: db.prepare('INSERT INTO result_log (instrument_id, kind, payload) VALUES (?, ?, ?)'),
    resultsAfter: db.prepare('SELECT id, instrument_id, kind, payload FROM result_log WHERE id > ? ORDER BY id LIMIT ?'),
    // The id span after the cursor: the log is never deleted from, its AUTOINCREMENT ids never reused (see
    // sqlite-store.ts `pending`).
    pendingResults: db.prepare(
      'SELECT max(0, coalesce((SELECT max(id) FROM result_log), 0) - coalesce((SELECT value FROM cursors WHERE name = ?), 0))',
    ).pluck(),
    firstDrainedIntervalAfter: db.prepare('SELECT min(start) FROM state_intervals WHERE instrument_id = ? AND drain_ts > ?').pluck(),
    firstDrainedSessionAfter: db.prepare('SELECT min(start) FROM sessions WHERE instrument_id = ? AND drain_ts > ?').pluck(),
    rollups: db.prepare(
      `SELECT * FROM daily_rollups WHERE ${IDS_FILTER} AND day >= ? AND day <= ? ORDER BY instrument_id, day`,
    ),
    // One instrument: on the primary keys (the id list filter cannot use them, and would scan every instrument's rows).
    sessionsOne: db.prepare(
      `SELECT instrument_id, start, end, active_s, warmup_s, post_s, energy_kwh FROM sessions
       WHERE instrument_id = ? AND end > ? AND start < ? ORDER BY start`,
    ),
    rollupsOne: db.prepare('SELECT * FROM daily_rollups WHERE instrument_id = ? AND day >= ? AND day <= ? ORDER BY day'),
  };

  const commitTx = db.transaction((instrumentId: string, c: Parameters<EngineStore['commit']>[1]) => {
    for (const i of c.intervals) {
      st.insertInterval.run(instrumentId, i.start, i.end, i.state, i.energy_kwh, c.drainTs);
      st.log.run(instrumentId, 'interval', JSON.stringify(i));
    }
    for (const s of c.sessions) {
      st.insertSession.run(instrumentId, s.start, s.end, s.active_s, s.warmup_s, s.post_s, s.energy_kwh, c.drainTs);
      st.log.run(instrumentId, 'session', JSON.stringify(s));
    }
    for (const d of c.dayCheckpoints) st.saveDay.run(instrumentId, d.day, d.lastTs, JSON.stringify(d.checkpoint));
    st.saveState.run(instrumentId, c.state.lastTs, JSON.stringify(c.state.checkpoint));
  });

  const rewindTx = db.transaction((instrumentId: string, afterTs: number | null, day: string | undefined) => {
    const after = afterTs ?? Number.MIN_SAFE_INTEGER;
    const intervalsFrom = st.firstDrainedIntervalAfter.get(instrumentId, after) as number | null;
    const sessionsFrom = st.firstDrainedSessionAfter.get(instrumentId, after) as number | null;
    if (intervalsFrom !== null || sessionsFrom !== null) {
      st.log.run(instrumentId, 'delete', JSON.stringify({ intervals_from: intervalsFrom, sessions_from: sessionsFrom }));
    }
    st.deleteIntervalsAfter.run(instrumentId, after);
    st.deleteSessionsAfter.run(instrumentId, after);
    if (day === undefined) st.deleteDaysAll.run(instrumentId);
    else st.deleteDaysAfter.run(instrumentId, day);
    st.deleteState.run(instrumentId);
  });

  const upsertRollupsTx = db.transaction((instrumentId: string, rollups: readonly DatedRollup[]) => {
    for (const { start: _start, ...r } of rollups) st.upsertRollup.run({ instrument_id: instrumentId, ...r });
    for (const r of rollups) st.log.run(instrumentId, 'rollup', JSON.stringify(r));
  });

  return {
    instrumentIds: () => st.instrumentIds.all() as string[],
    *samples(instrumentId, afterTs) {
      // After `afterTs` means ts > afterTs: every id of that ms is skipped.
      let at = { ts: afterTs ?? Number.MIN_SAFE_INTEGER, id: afterTs === null ? -1 : Number.MAX_SAFE_INTEGER };
      for (;;) {
        const rows = st.samplesPage.all({ instrument_id: instrumentId, ts: at.ts, id: at.id, limit: SAMPLE_PAGE }) as Array<SampleRow & { id: number }>;
        for (const row of rows) yield sampleOf(row);
        if (rows.length < SAMPLE_PAGE) return;
        const last = rows[rows.length - 1]!;
        at = { ts: last.ts, id: last.id };
      }
    },
    loadState(instrumentId) {
      const row = st.loadState.get(instrumentId) as CheckpointRow | undefined;
      return row === undefined ? undefined : checkpointOf(row);
    },
    commit: (instrumentId, c) => commitTx(instrumentId, c),
    atomically: <T>(fn: () => T): T => db.transaction(fn)(),
    dayCheckpointAtOrBefore(instrumentId, day) {
      const row = st.dayAtOrBefore.get(instrumentId, day) as (CheckpointRow & { day: string }) | undefined;
      return row === undefined ? undefined : { day: row.day, ...checkpointOf(row) };
    },
    rewind: (instrumentId, afterTs, day) => rewindTx(instrumentId, afterTs, day),
    finalUntil: (instrumentId) => (st.finalUntil.get(instrumentId) as number | null) ?? null,
    intervals: (instrumentId, from, to) =>
      (st.intervals.all(instrumentId, from, to) as Array<StateInterval & { state: InstrumentState }>).map((r) => ({ ...r })),
    sessions: (ids, from, to) =>
      (ids?.length === 1 ? st.sessionsOne.all(ids[0], from, to) : st.sessions.all(...idsParams(ids), from, to)) as InstrumentSession[],
    upsertRollups: (instrumentId, rollups) => upsertRollupsTx(instrumentId, rollups),
    resultsAfter: (cursor, limit) =>
      (st.resultsAfter.all(cursor, limit) as Array<{ id: number; instrument_id: string; kind: string; payload: string }>).map(
        (r) => ({ id: r.id, instrument_id: r.instrument_id, kind: r.kind, payload: JSON.parse(r.payload) }) as ResultLogEntry,
      ),
    pendingResults: (cursorName) => st.pendingResults.get(cursorName) as number,
    rollups: (ids, fromDay, toDay) =>
      (ids?.length === 1 ? st.rollupsOne.all(ids[0], fromDay, toDay) : st.rollups.all(...idsParams(ids), fromDay, toDay)) as InstrumentRollup[],
  };
}
