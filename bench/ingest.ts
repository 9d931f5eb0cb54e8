/**
 * Benchmark 1, collector ingest: sustained readings/s from many agents through the collector into InfluxDB,
 * against the same points written straight to the same InfluxDB as line protocol (the ceiling).
 *
 * Both sides send the same readings in the same shape: `clients` concurrent HTTP clients (one per agent), each
 * posting its batches of 500 samples one after the other. The collector side posts wire batches
 * (common/wire.ts IngestBatch, valid agent tokens) to a real collector process (`jishi collector`, SQLite store,
 * utilization engine, InfluxDB forwarder); its clock stops when the forwarder backlog is drained (GET /healthz
 * influx.pending = 0, every reading in InfluxDB), not at the last HTTP ack. The ceiling side posts the
 * readings' points (built by the collector's own readingToPoint, so the lines are identical) to /write; its clock
 * stops at the last 204 (InfluxDB answers 204 once the points are queryable). Bodies are serialized before the
 * clocks start on both sides. Each run uses a fresh collector store and fresh databases; the order of the two
 * sides alternates between runs. A third side, the design bound (boundRun), runs after them in every run: the
 * ceiling's writes again while another process stores the same readings with the collector store's ingest
 * transaction alone, to show how much of the ceiling any design storing each reading in SQLite can keep.
 */
import { INGEST_PATH, WIRE_VERSION } from '../common/wire.ts';
import { buildReadings, SAMPLES_PER_BATCH, type Readings } from './lib/ingest-workload.ts';
import { makeAgents, startCollectorProcess, type BenchAgent } from './lib/collector.ts';
import { countPoints, createDatabase, influxQuery, startBenchInfluxd, writeLines, type RunningInfluxd } from './lib/influx.ts';
import { procCpuSeconds, procMemory, progress, readJsonLine, sleep, spawnTs, tempDir } from './lib/proc.ts';
import { figureFromRuns, percentile, type BenchOptions, type Figure } from './lib/report.ts';

interface Workload extends Readings {
  clients: number;
  batchesPerClient: number;
  agents: BenchAgent[];
  start: number;
}

function buildWorkload(clients: number, batchesPerClient: number): Workload {
  const agents = makeAgents('bench-agent', clients);
  const start = Math.floor((Date.now() - 2 * 86_400_000) / 1000) * 1000;
  const readings = buildReadings({ agentIds: agents.map((a) => a.id), batchesPerClient, start }, { lines: true });
  return { clients, batchesPerClient, agents, start, ...readings };
}

interface SideResult {
  /** Readings (points) per second until they were all in InfluxDB. */
  throughput: number;
  /** Readings per second until the last HTTP answer. */
  ackThroughput: number;
  latenciesMs: number[];
  seconds: number;
  /** CPU seconds used during the side's clock: influxd, the collector process (0 on the ceiling side), the bench process (the clients). */
  cpu: { influxd: number; collector: number; clients: number };
}

/** CPU seconds of influxd, of another process (the collector) and of this process, so far. */
function cpuNow(influx: RunningInfluxd, otherPid?: number): { influxd: number; collector: number; clients: number } {
  const pid = influx.pid();
  const u = process.cpuUsage();
  return {
    influxd: pid === undefined ? 0 : procCpuSeconds(pid),
    collector: otherPid === undefined ? 0 : procCpuSeconds(otherPid),
    clients: (u.user + u.system) / 1e6,
  };
}

function cpuSince(a: SideResult['cpu'], b: SideResult['cpu']): SideResult['cpu'] {
  return { influxd: b.influxd - a.influxd, collector: b.collector - a.collector, clients: b.clients - a.clients };
}

/** `clients` concurrent loops, each sending its own requests one after the other; latencies of every request. */
async function drive(clients: number, requests: number, send: (client: number, k: number) => Promise<void>): Promise<{ latenciesMs: number[]; seconds: number }> {
  const latenciesMs: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let k = 0; k < requests; k++) {
        const t = performance.now();
        await send(c, k);
        latenciesMs.push(performance.now() - t);
      }
    }),
  );
  return { latenciesMs, seconds: (performance.now() - t0) / 1000 };
}

async function ceilingRun(influx: RunningInfluxd, w: Workload, db: string): Promise<SideResult> {
  await createDatabase(influx.url, db);
  const cpu0 = cpuNow(influx);
  const r = await drive(w.clients, w.batchesPerClient, (c, k) => writeLines(influx.url, db, w.lines[c]![k]!));
  const cpu = cpuSince(cpu0, cpuNow(influx));
  const count = await countPoints(influx.url, db, 'reading', 'power_w');
  if (count !== w.total) throw new Error(`ceiling: ${count} points in InfluxDB, expected ${w.total}`);
  await influxQuery(influx.url, db, `DROP DATABASE "${db}"`, true);
  const tps = w.total / r.seconds;
  return { throughput: tps, ackThroughput: tps, latenciesMs: r.latenciesMs, seconds: r.seconds, cpu };
}

/**
 * The design bound: the ceiling's writes to InfluxDB and, at the same time in another process, the collector
 * store's ingest transaction over the same readings (bench/store-process.ts). Any collector that stores every
 * reading in SQLite before forwarding it does at least this much on the same two cores, so its throughput cannot
 * beat this side's, whatever else it does faster. The clock stops when both are done.
 */
async function boundRun(influx: RunningInfluxd, w: Workload, db: string): Promise<{ throughput: number; storeCpuS: number; storeSeconds: number }> {
  const { dir, remove } = await tempDir('jishi-bench-bound-');
  const child = spawnTs('bench/store-process.ts', [
    '--dir', dir,
    '--agents', w.agents.map((a) => a.id).join(','),
    '--batches', String(w.batchesPerClient),
    '--start', String(w.start),
  ]);
  try {
    await readJsonLine<{ ready: true }>(child, 120_000);
    await createDatabase(influx.url, db);
    const result = readJsonLine<{ seconds: number; cpu_s: number }>(child, 600_000);
    const t0 = performance.now();
    child.proc.kill('SIGUSR2');
    const [store] = await Promise.all([
      result.then((r) => ({ ...r, at: performance.now() })),
      drive(w.clients, w.batchesPerClient, (c, k) => writeLines(influx.url, db, w.lines[c]![k]!)),
    ]);
    const seconds = (Math.max(store.at, performance.now()) - t0) / 1000;
    const count = await countPoints(influx.url, db, 'reading', 'power_w');
    if (count !== w.total) throw new Error(`design bound: ${count} points in InfluxDB, expected ${w.total}`);
    return { throughput: w.total / seconds, storeCpuS: store.cpu_s, storeSeconds: store.seconds };
  } finally {
    await child.stop();
    await influxQuery(influx.url, db, `DROP DATABASE "${db}"`, true).catch(() => undefined);
    await remove();
  }
}

async function collectorRun(
  influx: RunningInfluxd,
  w: Workload,
  db: string,
  log: (m: string) => void,
): Promise<SideResult & { peakRssKb: number; idleRssKb: number; drainSeconds: number }> {
  const { dir, remove } = await tempDir('jishi-bench-ingest-');
  const collector = await startCollectorProcess({ dir, agents: w.agents, influx: { url: influx.url, database: db } });
  try {
    // Let the forwarder create its database and the process settle before the clock starts.
    await sleep(1500);
    const idleRssKb = procMemory(collector.child.pid).rssKb;
    const cpu0 = cpuNow(influx, collector.child.pid);
    const t0 = performance.now();
    const r = await drive(w.clients, w.batchesPerClient, async (c, k) => {
      const agent = w.agents[c]!;
      const body = `{"wire_version":${WIRE_VERSION},"agent_id":"${agent.id}","batch_id":"b-${k}","seq":${k},"sent_at":${Date.now()},"samples":${w.wire[c]![k]!}}`;
      const res = await fetch(`${collector.url}${INGEST_PATH}`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${agent.token}` },
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${text.slice(0, 300)}`);
    });
    const acked = performance.now();
    log(`all ${w.total.toLocaleString('en-US')} readings acknowledged in ${r.seconds.toFixed(1)} s; waiting for the forwarder backlog`);
    let last = performance.now();
    await (async () => {
      for (;;) {
        const s = await collector.influxStatus();
        if (s === undefined) throw new Error('the collector has no forwarder');
        if (s.pending === 0 && s.forwarded >= w.total) return;
        if (performance.now() - last > 5000) {
          last = performance.now();
          log(`forwarder backlog ${s.pending.toLocaleString('en-US')} (forwarded ${s.forwarded.toLocaleString('en-US')})${s.last_error ? `, last error: ${s.last_error}` : ''}`);
        }
        if (performance.now() - acked > 600_000) throw new Error('the forwarder did not drain within 10 minutes');
        await sleep(50);
      }
    })();
    const drained = performance.now();
    const cpu = cpuSince(cpu0, cpuNow(influx, collector.child.pid));
    const peakRssKb = procMemory(collector.child.pid).hwmKb;
    const count = await countPoints(influx.url, db, 'reading', 'power_w');
    if (count !== w.total) throw new Error(`collector: ${count} reading points in InfluxDB, expected ${w.total}`);
    const seconds = (drained - t0) / 1000;
    return {
      throughput: w.total / seconds,
      ackThroughput: w.total / r.seconds,
      latenciesMs: r.latenciesMs,
      seconds,
      drainSeconds: (drained - acked) / 1000,
      cpu,
      peakRssKb,
      idleRssKb,
    };
  } finally {
    await collector.stop();
    await influxQuery(influx.url, db, `DROP DATABASE "${db}"`, true).catch(() => undefined);
    await remove();
  }
}

export async function runIngest(o: BenchOptions): Promise<Figure[]> {
  const t = performance.now();
  const log = (m: string): void => progress('ingest', t, m);
  const clients = 20;
  const batchesPerClient = o.quick ? 10 : 30;
  const w = buildWorkload(clients, batchesPerClient);
  log(`${clients} clients x ${batchesPerClient} batches x ${SAMPLES_PER_BATCH} samples = ${w.total.toLocaleString('en-US')} readings per side; starting influxd`);
  const influx = await startBenchInfluxd();
  const runs: Array<{ ceiling: SideResult; collector: Awaited<ReturnType<typeof collectorRun>>; bound: Awaited<ReturnType<typeof boundRun>> }> = [];
  try {
    for (let run = 0; run < o.runs; run++) {
      let ceiling: SideResult;
      let collector: Awaited<ReturnType<typeof collectorRun>>;
      if (run % 2 === 0) {
        ceiling = await ceilingRun(influx, w, `bench_ceiling_${run}`);
        log(`run ${run + 1}/${o.runs}: ceiling ${Math.round(ceiling.throughput).toLocaleString('en-US')} points/s`);
        collector = await collectorRun(influx, w, `bench_ingest_${run}`, log);
      } else {
        collector = await collectorRun(influx, w, `bench_ingest_${run}`, log);
        ceiling = await ceilingRun(influx, w, `bench_ceiling_${run}`);
        log(`run ${run + 1}/${o.runs}: ceiling ${Math.round(ceiling.throughput).toLocaleString('en-US')} points/s`);
      }
      log(
        `run ${run + 1}/${o.runs}: collector ${Math.round(collector.throughput).toLocaleString('en-US')} readings/s into InfluxDB ` +
          `(acks at ${Math.round(collector.ackThroughput).toLocaleString('en-US')}/s, drained ${collector.drainSeconds.toFixed(1)} s after the last ack), ` +
          `peak RSS ${(collector.peakRssKb / 1024).toFixed(0)} MB; CPU s: collector ${collector.cpu.collector.toFixed(1)}, ` +
          `influxd ${collector.cpu.influxd.toFixed(1)} (ceiling side: influxd ${ceiling.cpu.influxd.toFixed(1)}, clients ${ceiling.cpu.clients.toFixed(1)})`,
      );
      const bound = await boundRun(influx, w, `bench_bound_${run}`);
      log(
        `run ${run + 1}/${o.runs}: design bound ${Math.round(bound.throughput).toLocaleString('en-US')} readings/s ` +
          `(the store's ingest alone took ${bound.storeSeconds.toFixed(1)} s, ${bound.storeCpuS.toFixed(1)} CPU s, beside the ceiling's writes)`,
      );
      runs.push({ ceiling, collector, bound });
    }
  } finally {
    await influx.stop();
  }
  const size = `${clients} clients, ${w.total.toLocaleString('en-US')} readings in batches of ${SAMPLES_PER_BATCH}`;
  const ceilingLabel = 'same points, line protocol straight to InfluxDB';
  return [
    figureFromRuns(
      {
        bench: 'ingest',
        id: 'ingest.throughput',
        label: 'ingest: readings/s into InfluxDB through the collector (until the backlog is drained)',
        unit: 'readings/s',
        baselineLabel: ceilingLabel,
        baselineUnit: 'points/s',
        target: { on: 'ratio', op: '>=', limit: 0.7, text: '>= 70 % of ceiling' },
        note: size,
      },
      runs.map((r) => ({ value: r.collector.throughput, baseline: r.ceiling.throughput })),
    ),
    figureFromRuns(
      {
        bench: 'ingest',
        id: 'ingest.design_bound',
        label: "ingest: design bound: the store's ingest transaction alone, beside the ceiling's writes",
        unit: 'readings/s',
        baselineLabel: ceilingLabel,
        baselineUnit: 'points/s',
        note: 'no HTTP, parsing, engine or forwarding: what any collector storing every reading in SQLite does at least, on the same cores',
      },
      runs.map((r) => ({ value: r.bound.throughput, baseline: r.ceiling.throughput })),
    ),
    figureFromRuns(
      {
        bench: 'ingest',
        id: 'ingest.ack_throughput',
        label: 'ingest: readings/s acknowledged over HTTP (store commit)',
        unit: 'readings/s',
        baselineLabel: ceilingLabel,
        baselineUnit: 'points/s',
        note: 'until the last 200 IngestAck; the forwarder may still be behind then',
      },
      runs.map((r) => ({ value: r.collector.ackThroughput, baseline: r.ceiling.throughput })),
    ),
    figureFromRuns(
      {
        bench: 'ingest',
        id: 'ingest.latency_p50',
        label: 'ingest: batch latency p50 (POST to 200)',
        unit: 'ms',
        baselineLabel: 'same batch to InfluxDB /write',
      },
      runs.map((r) => ({ value: percentile(r.collector.latenciesMs, 50), baseline: percentile(r.ceiling.latenciesMs, 50) })),
    ),
    figureFromRuns(
      {
        bench: 'ingest',
        id: 'ingest.latency_p99',
        label: 'ingest: batch latency p99 (POST to 200)',
        unit: 'ms',
        baselineLabel: 'same batch to InfluxDB /write',
      },
      runs.map((r) => ({ value: percentile(r.collector.latenciesMs, 99), baseline: percentile(r.ceiling.latenciesMs, 99) })),
    ),
    figureFromRuns(
      {
        bench: 'ingest',
        id: 'ingest.cpu_collector',
        label: 'ingest: collector CPU per 100,000 readings (until drained)',
        unit: 'CPU s',
        baselineLabel: 'influxd CPU per 100,000 points at the ceiling',
        baselineUnit: 'CPU s',
        note: 'CPU time (user + system, all threads) from /proc/<pid>/stat over each side\'s clock',
      },
      runs.map((r) => ({ value: (r.collector.cpu.collector * 100_000) / w.total, baseline: (r.ceiling.cpu.influxd * 100_000) / w.total })),
    ),
    figureFromRuns(
      {
        bench: 'ingest',
        id: 'ingest.cpu_store',
        label: "ingest: the store's ingest transaction alone, CPU per 100,000 readings",
        unit: 'CPU s',
        baselineLabel: 'influxd CPU per 100,000 points at the ceiling',
        baselineUnit: 'CPU s',
        note: 'the design bound side (bench/store-process.ts), measured by that process',
      },
      runs.map((r) => ({ value: (r.bound.storeCpuS * 100_000) / w.total, baseline: (r.ceiling.cpu.influxd * 100_000) / w.total })),
    ),
    figureFromRuns(
      {
        bench: 'ingest',
        id: 'ingest.cpu_influxd',
        label: 'ingest: influxd CPU per 100,000 readings through the collector',
        unit: 'CPU s',
        baselineLabel: 'influxd CPU per 100,000 points at the ceiling',
        baselineUnit: 'CPU s',
      },
      runs.map((r) => ({ value: (r.collector.cpu.influxd * 100_000) / w.total, baseline: (r.ceiling.cpu.influxd * 100_000) / w.total })),
    ),
    figureFromRuns(
      {
        bench: 'ingest',
        id: 'ingest.peak_rss',
        label: 'ingest: collector peak RSS (VmHWM)',
        unit: 'MB',
        baselineLabel: 'the same collector at rest before the load',
      },
      runs.map((r) => ({ value: r.collector.peakRssKb / 1024, baseline: r.collector.idleRssKb / 1024 })),
    ),
  ];
}
