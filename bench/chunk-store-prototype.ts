/**
 * A prototype for the product owner's decision on the ingest target (docs/benchmarks.md "Ingest"), not part of
 * `npm run bench`: the readings of the ingest benchmark stored as ONE ROW PER INSTRUMENT AND BATCH (times and the
 * nine fields packed as float64 blobs, indexed on (instrument_id, ts_first)) instead of one row per reading.
 * Prints the CPU time per 100,000 readings and the bytes per reading, to compare with the design bound's
 * "store's ingest transaction alone" row (one row per reading).
 *
 *   npx tsx bench/chunk-store-prototype.ts
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildReadings } from './lib/ingest-workload.ts';
import { READING_COLUMNS } from '../collector/store/migrations.ts';
import type { Sample } from '../common/wire.ts';
const agentIds = Array.from({ length: 20 }, (_, i) => `bench-agent-${i + 1}`);
const readings = buildReadings({ agentIds, batchesPerClient: 30, start: Date.UTC(2026, 0, 1) }, { lines: false });
const batches: Array<{ agent: string; samples: Sample[] }> = [];
for (let k = 0; k < 30; k++) {
  agentIds.forEach((agent, c) => batches.push({ agent, samples: JSON.parse(readings.wire[c]![k]!) as Sample[] }));
}
const total = readings.total;
const FIELDS = [...READING_COLUMNS].sort();

const dir = mkdtempSync(join(tmpdir(), 'jishi-chunks-'));
const db = new Database(join(dir, 'chunks.sqlite'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(`
CREATE TABLE chunks (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  instrument_id TEXT NOT NULL,
  agent_id      TEXT NOT NULL,
  ts_first      INTEGER NOT NULL,
  ts_last       INTEGER NOT NULL,
  n             INTEGER NOT NULL,
  ts            BLOB NOT NULL,
  fields        TEXT NOT NULL,
  vals          BLOB NOT NULL,
  received_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX chunks_instrument_ts ON chunks (instrument_id, ts_first);`);
const insert = db.prepare(
  'INSERT INTO chunks (instrument_id, agent_id, ts_first, ts_last, n, ts, fields, vals, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
);
const store = db.transaction((samples: readonly Sample[], agent: string, receivedAt: number) => {
  const byInstrument = new Map<string, Sample[]>();
  for (const s of samples) {
    let list = byInstrument.get(s.instrument_id);
    if (list === undefined) byInstrument.set(s.instrument_id, (list = []));
    list.push(s);
  }
  for (const [id, list] of byInstrument) {
    const ts = new Float64Array(list.length);
    const vals = new Float64Array(list.length * FIELDS.length);
    list.forEach((s, i) => {
      ts[i] = s.ts;
      FIELDS.forEach((f, j) => (vals[i * FIELDS.length + j] = s.readings[f] ?? Number.NaN));
    });
    const first = list[0]!.ts;
    const last = list[list.length - 1]!.ts;
    insert.run(id, agent, first, last, list.length, Buffer.from(ts.buffer), FIELDS.join(','), Buffer.from(vals.buffer), receivedAt);
  }
});

const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (const b of batches) store(b.samples, b.agent, Date.now());
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
db.close();
const bytes = statSync(join(dir, 'chunks.sqlite')).size;
rmSync(dir, { recursive: true, force: true });
console.log(
  `one row per instrument and batch: ${total.toLocaleString('en-US')} readings in ${seconds.toFixed(2)} s, ` +
    `${((((cpu.user + cpu.system) / 1e6) * 100_000) / total).toFixed(2)} CPU s per 100,000 readings, ${(bytes / total).toFixed(1)} bytes per reading`,
);
