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

export const MIGRATIONS: readonly string[] = [V1];

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
