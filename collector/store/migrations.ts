/**
 * Schema migrations of the collector's SQLite store, keyed by `PRAGMA user_version`: migration i (0-based)
 * brings the file from version i to i + 1. Append new migrations; never edit one that has shipped.
 */
import type Database from 'better-sqlite3';

/** Reading fields stored in their own REAL columns (schema v1). Other fields go to `readings.extra` as JSON. */
export const READING_COLUMNS = [
  'power_w',
  'energy_kwh',
  'energy_export_kwh',
  'voltage_v',
  'current_a',
  'apparent_power_va',
  'reactive_power_var',
  'power_factor',
  'frequency_hz',
] as const;

const V1 = `
CREATE TABLE agents (
  id           TEXT PRIMARY KEY,
  token_sha256 TEXT NOT NULL UNIQUE
) STRICT;

CREATE TABLE batches (
  agent_id    TEXT NOT NULL,
  batch_id    TEXT NOT NULL,
  seq         INTEGER NOT NULL,
  sent_at     INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  samples     INTEGER NOT NULL,
  PRIMARY KEY (agent_id, batch_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE readings (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  instrument_id TEXT NOT NULL,
  agent_id      TEXT NOT NULL,
  ts            INTEGER NOT NULL,
  ${READING_COLUMNS.map((c) => `${c} REAL`).join(',\n  ')},
  extra         TEXT,
  status        TEXT,
  error         TEXT,
  received_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX readings_instrument_ts ON readings (instrument_id, ts);

CREATE TABLE instruments (
  id              TEXT PRIMARY KEY,
  agent_id        TEXT,
  name            TEXT,
  first_seen      INTEGER,
  last_seen       INTEGER,
  last_reading_id INTEGER REFERENCES readings (id),
  state           TEXT NOT NULL DEFAULT 'unknown',
  state_since     INTEGER
) STRICT;

CREATE TABLE cursors (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) STRICT;
`;

/**
 * v2: the utilization engine's output. Every row carries `drain_ts`, the engine's last sample time when the row
 * was finalized, so a recompute from a checkpoint deletes exactly the rows finalized after that checkpoint.
 */
const V2 = `
CREATE TABLE state_intervals (
  instrument_id TEXT NOT NULL,
  start         INTEGER NOT NULL,
  end           INTEGER NOT NULL,
  state         TEXT NOT NULL,
  energy_kwh    REAL NOT NULL,
  drain_ts      INTEGER NOT NULL,
  PRIMARY KEY (instrument_id, start)
) STRICT, WITHOUT ROWID;
CREATE INDEX state_intervals_end ON state_intervals (instrument_id, end);

CREATE TABLE sessions (
  instrument_id TEXT NOT NULL,
  start         INTEGER NOT NULL,
  end           INTEGER NOT NULL,
  active_s      REAL NOT NULL,
  warmup_s      REAL NOT NULL,
  post_s        REAL NOT NULL,
  energy_kwh    REAL NOT NULL,
  drain_ts      INTEGER NOT NULL,
  PRIMARY KEY (instrument_id, start)
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_start ON sessions (start);

CREATE TABLE daily_rollups (
  instrument_id TEXT NOT NULL,
  day           TEXT NOT NULL,
  period_s      REAL NOT NULL,
  off_s         REAL NOT NULL,
  standby_s     REAL NOT NULL,
  active_s      REAL NOT NULL,
  fault_s       REAL NOT NULL,
  unknown_s     REAL NOT NULL,
  effective_s   REAL NOT NULL,
  sessions      INTEGER NOT NULL,
  energy_kwh    REAL NOT NULL,
  coverage      REAL NOT NULL,
  PRIMARY KEY (instrument_id, day)
) STRICT, WITHOUT ROWID;

-- The engine's state after its last sample, to continue streaming after a restart.
CREATE TABLE engine_state (
  instrument_id TEXT PRIMARY KEY,
  last_ts       INTEGER,
  checkpoint    TEXT NOT NULL
) STRICT;

-- What the engine wrote or removed, in order, for forwarders (InfluxDB): kind interval | session | rollup | delete.
CREATE TABLE result_log (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  instrument_id TEXT NOT NULL,
  kind          TEXT NOT NULL,
  payload       TEXT NOT NULL
) STRICT;

-- The engine's state right before the first sample of each local day, where a recompute can start.
CREATE TABLE engine_day_checkpoints (
  instrument_id TEXT NOT NULL,
  day           TEXT NOT NULL,
  last_ts       INTEGER,
  checkpoint    TEXT NOT NULL,
  PRIMARY KEY (instrument_id, day)
) STRICT, WITHOUT ROWID;
`;

/**
 * v3: instruments no longer keep a state. It was the instantaneous classifier's, which the utilization engine
 * replaced: the live state is the engine's (EngineRunner.live), derived from its checkpoint in engine_state.
 */
const V3 = `
ALTER TABLE instruments DROP COLUMN state;
ALTER TABLE instruments DROP COLUMN state_since;
`;

/** v4: the clock correction applied to each batch (collector clock - agent clock when above the threshold). */
const V4 = `
ALTER TABLE batches ADD COLUMN clock_offset_ms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX batches_agent_received ON batches (agent_id, received_at);
`;

/** v5: the health summary (IngestBatch.agent_status, JSON) of each agent's latest batch that carried one. */
const V5 = `
ALTER TABLE agents ADD COLUMN last_status TEXT;
`;

/**
 * v6: open sharing. The instrument registry (asset fields and thresholds as JSON, one row per instrument), every
 * change of a registry field, and booking / usage records (unique per instrument, start, end and user, so a
 * re-imported file adds nothing twice).
 */
const V6 = `
CREATE TABLE registry (
  id         TEXT PRIMARY KEY,
  fields     TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE registry_history (
  seq           INTEGER PRIMARY KEY,
  instrument_id TEXT NOT NULL,
  field         TEXT NOT NULL,
  old_value     TEXT,
  new_value     TEXT,
  changed_at    INTEGER NOT NULL,
  source        TEXT NOT NULL
) STRICT;
CREATE INDEX registry_history_instrument ON registry_history (instrument_id, seq);

CREATE TABLE bookings (
  id            INTEGER PRIMARY KEY,
  instrument_id TEXT NOT NULL,
  start         INTEGER NOT NULL,
  end           INTEGER NOT NULL,
  user          TEXT NOT NULL,
  organisation  TEXT NOT NULL,
  kind          TEXT NOT NULL CHECK (kind IN ('internal', 'external')),
  purpose       TEXT,
  fee_cny       REAL,
  samples       INTEGER,
  source        TEXT NOT NULL,
  imported_at   INTEGER NOT NULL,
  UNIQUE (instrument_id, start, end, user)
) STRICT;
CREATE INDEX bookings_instrument_start ON bookings (instrument_id, start);
`;

/**
 * v7: one row per accepted batch with the agent's health summary, in arrival order (an id the InfluxDB forwarder
 * keeps a cursor on: measurement agent_health). `batches` stays the dedup table.
 */
const V7 = `
CREATE TABLE agent_reports (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  agent_id        TEXT NOT NULL,
  sent_at         INTEGER NOT NULL,
  received_at     INTEGER NOT NULL,
  samples         INTEGER NOT NULL,
  clock_offset_ms INTEGER NOT NULL,
  status          TEXT
) STRICT;
`;

export const MIGRATIONS: readonly string[] = [V1, V2, V3, V4, V5, V6, V7];

/** Brings the database to the newest schema; refuses a file written by a newer jishi. */
export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(
      `store schema version ${current} is newer than this collector supports (${MIGRATIONS.length}); upgrade jishi`,
    );
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
