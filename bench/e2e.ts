/**
 * Benchmark 4, end to end: latency from a device reading to a queryable point in InfluxDB, at 200 instruments
 * read every second.
 *
 * The pipeline, each part in its own process as deployed: 4 simulated Modbus TCP gateways of 50 SDM120 meters
 * (bench/sim-process.ts) -> 4 agents (`jishi agent`, 50 instruments each, poll_interval_s 1, the default
 * batch_interval_s 2, durable outbox) -> a collector (`jishi collector`, SQLite store, engine, forwarder) -> a
 * real influxd. The latency of a reading is the time it is first returned by a query minus its sample `ts` (the
 * agent's clock when it read the device; every process runs on this machine's clock).
 *
 * Visibility is polled every 100 ms with one cheap query, `SELECT last(power_w) ... GROUP BY instrument_id`:
 * each instrument's points reach InfluxDB in ts order (outbox FIFO, store ids, forwarder cursor), so when its
 * last ts moves to b, every reading up to b is visible. After the window every reading of the window is fetched,
 * and each one gets the time of the first poll that saw its instrument at or past its ts. Resolution: one poll
 * interval plus the query time.
 *
 * Baseline, measured in the same run with the same poller: 200 points a second written straight to InfluxDB
 * (line protocol, 20 at a random moment of every 100 ms slot, ts = the time of the write): what InfluxDB and the poller alone add.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../common/net.ts';
import { makeAgents, startCollectorProcess } from './lib/collector.ts';
import { createDatabase, influxQuery, startBenchInfluxd, writeLines, type RunningInfluxd } from './lib/influx.ts';
import { progress, readJsonLine, sleep, spawnJishi, spawnTs, tempDir, waitFor, type Child } from './lib/proc.ts';
import { figureFromRuns, percentile, type BenchOptions, type Figure } from './lib/report.ts';

const GATEWAYS = 4;
const UNITS = 50;
const INSTRUMENTS = GATEWAYS * UNITS;
const POLL_MS = 100;

/** Per instrument: the polls at which its last visible ts moved, in order. */
type Sightings = Map<string, Array<{ at: number; lastTs: number }>>;

/** Polls last(power_w) per instrument every POLL_MS until `stop()`; records when each instrument's last ts moved. */
async function watch(url: string, db: string, fromMs: number, stop: () => boolean): Promise<Sightings> {
  const seen: Sightings = new Map();
  const q = `SELECT last("power_w") FROM "reading" WHERE time >= ${fromMs}ms GROUP BY "instrument_id"`;
  let next = Date.now();
  while (!stop()) {
    const sent = Date.now();
    const rows = await influxQuery(url, db, q);
    for (const r of rows) {
      const id = String(r.instrument_id);
      const ts = Number(r.time);
      let list = seen.get(id);
      if (list === undefined) seen.set(id, (list = []));
      if (list.length === 0 || list[list.length - 1]!.lastTs < ts) list.push({ at: sent, lastTs: ts });
    }
    next += POLL_MS;
    const wait = next - Date.now();
    if (wait > 0) await sleep(wait);
    else next = Date.now();
  }
  return seen;
}

/** Latencies of every reading with ts in [from, to]: first sighting at or past its ts, minus ts. */
async function latencies(url: string, db: string, from: number, to: number, seen: Sightings): Promise<{ ms: number[]; readings: number; unseen: number }> {
  const rows = await influxQuery(url, db, `SELECT "power_w", "instrument_id" FROM "reading" WHERE time >= ${from}ms AND time <= ${to}ms`);
  const ms: number[] = [];
  let unseen = 0;
  for (const r of rows) {
    const ts = Number(r.time);
    const list = seen.get(String(r.instrument_id)) ?? [];
    // First sighting whose lastTs >= ts (lastTs only grows): binary search.
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.lastTs >= ts) hi = mid;
      else lo = mid + 1;
    }
    if (lo < list.length) ms.push(list[lo]!.at - ts);
    else unseen++;
  }
  return { ms, readings: rows.length, unseen };
}

/** Baseline: 200 points a second straight to InfluxDB, watched by the same poller. */
async function directRun(influx: RunningInfluxd, db: string, windowMs: number): Promise<number[]> {
  await createDatabase(influx.url, db);
  const start = Date.now();
  let stopWatch = false;
  const watching = watch(influx.url, db, start - 1000, () => stopWatch);
  let k = 0;
  let next = Date.now();
  while (Date.now() - start < windowMs) {
    // A random moment within each 100 ms slot, so the writes do not lock into phase with the poller.
    await sleep(Math.random() * 80);
    const ts = Date.now();
    const lines: string[] = [];
    for (let i = 0; i < INSTRUMENTS / 10; i++, k++) lines.push(`reading,agent_id=direct,instrument_id=DIR-${k % INSTRUMENTS} power_w=${100 + (k % 7)} ${ts}`);
    await writeLines(influx.url, db, lines.join('\n'));
    next += 100;
    const wait = next - Date.now();
    if (wait > 0) await sleep(wait);
  }
  const end = Date.now();
  await sleep(2000);
  stopWatch = true;
  const seen = await watching;
  const r = await latencies(influx.url, db, start, end, seen);
  await influxQuery(influx.url, db, `DROP DATABASE "${db}"`, true);
  if (r.ms.length === 0) throw new Error('direct writes: no point was ever seen by the poller');
  return r.ms;
}

interface PipelineResult {
  ms: number[];
  readings: number;
  expected: number;
  unseen: number;
}

async function pipelineRun(influx: RunningInfluxd, db: string, windowMs: number, warmupMs: number, log: (m: string) => void): Promise<PipelineResult> {
  const { dir, remove } = await tempDir('jishi-bench-e2e-');
  const children: Child[] = [];
  const agents = makeAgents('e2e-agent', GATEWAYS);
  const collector = await startCollectorProcess({ dir, agents, influx: { url: influx.url, database: db } });
  children.push(collector.child);
  try {
    const sim = spawnTs('bench/sim-process.ts', ['--gateways', String(GATEWAYS), '--units', String(UNITS)]);
    children.push(sim);
    const { ports } = await readJsonLine<{ ports: number[] }>(sim);
    for (let g = 0; g < GATEWAYS; g++) {
      const agent = agents[g]!;
      const config = {
        agent: { id: agent.id },
        collector: { url: collector.url, token: agent.token },
        poll_interval_s: 1,
        state_dir: join(dir, `state-${g}`),
        health: { listen: `127.0.0.1:${await freePort()}` },
        instruments: Array.from({ length: UNITS }, (_, u) => ({
          id: `E2E-${g + 1}-${u + 1}`,
          profile: 'eastron-sdm120',
          transport: `modbus-tcp://127.0.0.1:${ports[g]!}?unit=${u + 1}`,
        })),
      };
      const file = join(dir, `agent-${g}.yaml`);
      await writeFile(file, stringify(config));
      children.push(spawnJishi(['agent', '--config', file, '--log-level', 'warn']));
    }
    const t0 = Date.now();
    let stopWatch = false;
    const watching = watch(influx.url, db, t0 - 60_000, () => stopWatch).catch(async (err: unknown) => {
      // The database does not exist until the forwarder creates it: poll again until it does.
      if (!/database not found/.test(String(err))) throw err;
      await waitFor('the forwarder to create its database', async () => (await influxQuery(influx.url, db, 'SHOW MEASUREMENTS')).length > 0, 60_000, 200);
      return watch(influx.url, db, t0 - 60_000, () => stopWatch);
    });
    await sleep(warmupMs);
    const from = Date.now();
    log(`pipeline running (${INSTRUMENTS} instruments, ${GATEWAYS} agents); measuring readings taken in the next ${windowMs / 1000} s`);
    await sleep(windowMs);
    const to = Date.now();
    // Let the window's last readings arrive (a batch interval, the forwarder, a margin).
    await sleep(10_000);
    stopWatch = true;
    const seen = await watching;
    for (const c of children) if (c.exited()) throw new Error(`a pipeline process exited: ${c.stderr()}`);
    const r = await latencies(influx.url, db, from, to, seen);
    return { ms: r.ms, readings: r.readings, unseen: r.unseen, expected: Math.round((INSTRUMENTS * (to - from)) / 1000) };
  } finally {
    for (const c of children.reverse()) await c.stop();
    await influxQuery(influx.url, db, `DROP DATABASE "${db}"`, true).catch(() => undefined);
    await remove();
  }
}

export async function runE2e(o: BenchOptions): Promise<Figure[]> {
  const t = performance.now();
  const log = (m: string): void => progress('e2e', t, m);
  const windowMs = o.quick ? 10_000 : 30_000;
  const warmupMs = o.quick ? 8000 : 12_000;
  const directMs = o.quick ? 5000 : 10_000;
  const influx = await startBenchInfluxd();
  const runs: Array<{ direct: number[]; pipe: PipelineResult }> = [];
  try {
    for (let run = 0; run < o.runs; run++) {
      const direct = await directRun(influx, `bench_e2e_direct_${run}`, directMs);
      log(`run ${run + 1}/${o.runs}: direct writes visible after p50 ${percentile(direct, 50).toFixed(0)} ms, p99 ${percentile(direct, 99).toFixed(0)} ms`);
      const pipe = await pipelineRun(influx, `bench_e2e_${run}`, windowMs, warmupMs, log);
      log(
        `run ${run + 1}/${o.runs}: pipeline p50 ${percentile(pipe.ms, 50).toFixed(0)} ms, p99 ${percentile(pipe.ms, 99).toFixed(0)} ms ` +
          `over ${pipe.ms.length.toLocaleString('en-US')} readings (${pipe.readings} in InfluxDB, ~${pipe.expected} expected, ${pipe.unseen} unseen)`,
      );
      runs.push({ direct, pipe });
    }
  } finally {
    await influx.stop();
  }
  const note =
    `${INSTRUMENTS} instruments (${GATEWAYS} gateways x ${UNITS}) -> ${GATEWAYS} agents (poll 1 s, batch interval 2 s) -> collector -> influxd; ` +
    `${windowMs / 1000} s window; readings measured per run: ${runs.map((r) => `${r.pipe.ms.length} of ~${r.pipe.expected}`).join(', ')}; poll every ${POLL_MS} ms`;
  const baselineLabel = 'point written straight to InfluxDB, same poller';
  return [
    figureFromRuns(
      { bench: 'e2e', id: 'e2e.latency_p50', label: `e2e: reading -> queryable in InfluxDB, p50 (${INSTRUMENTS} instruments x 1 Hz)`, unit: 'ms', baselineLabel, note },
      runs.map((r) => ({ value: percentile(r.pipe.ms, 50), baseline: percentile(r.direct, 50) })),
    ),
    figureFromRuns(
      { bench: 'e2e', id: 'e2e.latency_p99', label: `e2e: reading -> queryable in InfluxDB, p99 (${INSTRUMENTS} instruments x 1 Hz)`, unit: 'ms', baselineLabel },
      runs.map((r) => ({ value: percentile(r.pipe.ms, 99), baseline: percentile(r.direct, 99) })),
    ),
  ];
}
