/**
 * The ingest benchmark's design bound (bench/ingest.ts), in a process of its own: the collector store's ingest
 * transaction alone (`Store.ingest`: every reading into SQLite, the system of record), on the very same readings,
 * with nothing else the collector does (no HTTP, no JSON parsing or validation, no engine, no forwarding).
 *
 * `node --import tsx bench/store-process.ts --dir DIR --agents ID,ID,... --batches N --start MS`
 * builds the readings (bench/lib/ingest-workload.ts), opens a fresh store in DIR, prints `{"ready":true}`, and
 * on SIGUSR2 ingests every batch (client by client within each round, as concurrent clients would interleave),
 * then prints `{"seconds":S,"cpu_s":C}` and exits.
 */
import { join } from 'node:path';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';
import { WIRE_VERSION, type IngestBatch, type Sample } from '../common/wire.ts';
import { buildReadings } from './lib/ingest-workload.ts';

function arg(name: string): string {
  const i = process.argv.indexOf(name);
  const v = i < 0 ? undefined : process.argv[i + 1];
  if (v === undefined) throw new Error(`${name} is required`);
  return v;
}

const agentIds = arg('--agents').split(',');
const batchesPerClient = Number(arg('--batches'));
const readings = buildReadings({ agentIds, batchesPerClient, start: Number(arg('--start')) }, { lines: false });
const batches: IngestBatch[] = [];
for (let k = 0; k < batchesPerClient; k++) {
  agentIds.forEach((agentId, c) => {
    batches.push({
      wire_version: WIRE_VERSION,
      agent_id: agentId,
      batch_id: `b-${k}`,
      seq: k,
      sent_at: Date.now(),
      samples: JSON.parse(readings.wire[c]![k]!) as Sample[],
    });
  });
}
const store = openSqliteStore(join(arg('--dir'), 'store.db'));

process.once('SIGUSR2', () => {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const b of batches) store.ingest(b, Date.now());
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  store.close();
  process.stdout.write(`${JSON.stringify({ seconds, cpu_s: (cpu.user + cpu.system) / 1e6 })}\n`, () => process.exit(0));
});
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
setInterval(() => undefined, 60_000); // wait for the signal
