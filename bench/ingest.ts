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
 * sides alternates between runs.
 */
import { readingToPoint } from '../collector/influx/points.ts';
import { toLineProtocol } from '../collector/influx/line-protocol.ts';
import { mulberry32 } from '../common/prng.ts';
import { INGEST_PATH, WIRE_VERSION, type Sample } from '../common/wire.ts';
import { makeAgents, startCollectorProcess, type BenchAgent } from './lib/collector.ts';
import { countPoints, createDatabase, influxQuery, startBenchInfluxd, writeLines, type RunningInfluxd } from './lib/influx.ts';
import { procCpuSeconds, procMemory, progress, sleep, tempDir } from './lib/proc.ts';
import { figureFromRuns, percentile, type BenchOptions, type Figure } from './lib/report.ts';

const SAMPLES_PER_BATCH = 500;
const INSTRUMENTS_PER_AGENT = 50;

interface Workload {
  clients: number;
  batchesPerClient: number;
  total: number;
  agents: BenchAgent[];
  /** Per client, per batch: the JSON of the samples array. */
  wire: string[][];
  /** Per client, per batch: the same readings as line protocol. */
  lines: string[][];
}

/** Power of a lab instrument cycling off -> standby -> active, with noise. */
function power(t: number, phase: number, rnd: () => number): number {
  const m = ((t / 1000 + phase) % 600) / 60; // a 10-minute cycle
  const base = m < 2 ? 3 : m < 5 ? 150 : 800;
  return Math.max(0, base + (rnd() - 0.5) * 0.1 * base);
}

function buildWorkload(clients: number, batchesPerClient: number): Workload {
  const agents = makeAgents('bench-agent', clients);
  const rnd = mulberry32(42);
  const start = Math.floor((Date.now() - 2 * 86_400_000) / 1000) * 1000;
  const perBatchSeconds = SAMPLES_PER_BATCH / INSTRUMENTS_PER_AGENT;
  const wire: string[][] = [];
  const lines: string[][] = [];
  for (let c = 0; c < clients; c++) {
    const agent = agents[c]!;
    const energy = Array.from({ length: INSTRUMENTS_PER_AGENT }, () => 100 + rnd() * 1000);
    const w: string[] = [];
    const l: string[] = [];
    for (let b = 0; b < batchesPerClient; b++) {
      const samples: Sample[] = [];
      for (let s = 0; s < perBatchSeconds; s++) {
        const ts = start + (b * perBatchSeconds + s) * 1000;
        for (let i = 0; i < INSTRUMENTS_PER_AGENT; i++) {
          const p = power(ts, i * 37 + c * 11, rnd);
          energy[i]! += p / 3_600_000;
          const v = 229 + rnd() * 2;
          samples.push({
            instrument_id: `ING-${c + 1}-${i + 1}`,
            ts,
            readings: {
              power_w: Math.round(p * 10) / 10,
              energy_kwh: Math.round(energy[i]! * 1000) / 1000,
              energy_export_kwh: 0,
              voltage_v: Math.round(v * 10) / 10,
              current_a: Math.round((p / v) * 1000) / 1000,
              apparent_power_va: Math.round((p / 0.9) * 10) / 10,
              reactive_power_var: Math.round(p * 0.48 * 10) / 10,
              power_factor: 0.9,
              frequency_hz: Math.round((49.98 + rnd() * 0.04) * 100) / 100,
            },
          });
        }
      }
      w.push(JSON.stringify(samples));
      l.push(
        samples
          .map((s) => toLineProtocol(readingToPoint({ id: 0, agent_id: agent.id, received_at: 0, ...s }).point!))
          .join('\n'),
      );
    }
    wire.push(w);
    lines.push(l);
  }
  return { clients, batchesPerClient, total: clients * batchesPerClient * SAMPLES_PER_BATCH, agents, wire, lines };
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
  const runs: Array<{ ceiling: SideResult; collector: Awaited<ReturnType<typeof collectorRun>> }> = [];
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
      runs.push({ ceiling, collector });
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
