/**
 * Benchmark 2, agent footprint: RSS and CPU of one agent polling 50 simulated Modbus TCP meters every second,
 * against an idle node process measured over the same window.
 *
 * - The devices: 50 simulated Eastron SDM120 meters in a process of their own (bench/sim-process.ts), in two
 *   layouts, each measured with an agent of its own:
 *   - `devices` (the target's figure): 50 Modbus TCP endpoints with one meter each (meters with their own
 *     Ethernet port, or one small gateway per cabinet): 50 connections, reads of different meters overlap.
 *   - `gateway` (information): the 50 meters behind ONE gateway (units 1..50): one shared connection, one
 *     request at a time (docs/drivers.md), 350 requests a second one after the other. A real RS-485 line cannot
 *     carry that (one SDM120 read is 7 requests of ~20 ms at 9600 baud), so this layout measures the agent's
 *     request path at a rate no real gateway reaches, not a lab.
 * - The agent: `node bin/jishi.mjs agent --config FILE` with a generated config (poll_interval_s 1, the default
 *   batch interval, durable outbox and health endpoint as shipped), sending to a fake collector in the bench
 *   process that acknowledges every batch and counts the readings (so the agent is known to be doing its job).
 *   It runs the way users run it: the JavaScript bundle bin/jishi.mjs made from the sources (bin/bundle.mjs; built,
 *   or found up to date, before the agent starts, so the agent starts as it does every day: no esbuild, no tsx).
 * - The baseline, started at the same time: `node -e "setInterval(() => {}, 1000)"` (idle node).
 * After a warm-up (every instrument delivered), VmRSS (/proc/<pid>/status) and utime + stime (/proc/<pid>/stat)
 * of both processes are read every second over the window: RSS is the median over the window, CPU the CPU time
 * used in the window over its length (resolution: one clock tick, 10 ms, i.e. 0.03 % over 30 s). CPU has no
 * ratio: the idle baseline uses next to nothing, so the target is on the value.
 */
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../common/net.ts';
import type { IngestBatch } from '../common/wire.ts';
import { JISHI_BIN, progress, readJsonLine, sampleProcesses, sleep, spawnJishi, spawnNode, spawnTs, tempDir, waitFor, type Child } from './lib/proc.ts';
import { figureFromRuns, type BenchOptions, type Figure } from './lib/report.ts';

const DEVICES = 50;

/** `devices`: one endpoint per meter; `gateway`: every meter behind one gateway (see the module comment). */
type Layout = 'devices' | 'gateway';

interface FakeCollector {
  url: string;
  samples: number;
  instruments: Set<string>;
  close(): Promise<void>;
}

async function fakeCollector(): Promise<FakeCollector> {
  const state = { samples: 0, instruments: new Set<string>() };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const batch = JSON.parse(Buffer.concat(chunks).toString('utf8')) as IngestBatch;
      state.samples += batch.samples.length;
      for (const s of batch.samples) if (s.error === undefined) state.instruments.add(s.instrument_id);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ batch_id: batch.batch_id, accepted: batch.samples.length, duplicate: false, server_time: Date.now() }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get samples() {
      return state.samples;
    },
    instruments: state.instruments,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface AgentRun {
  agentRssKb: number;
  agentCpu: number;
  idleRssKb: number;
  idleCpu: number;
  readingsPerSecond: number;
}

/** Builds the bundle bin/jishi.mjs runs (or finds it up to date); throws with esbuild's message when it cannot. */
function ensureBundle(): string {
  return execFileSync(process.execPath, [join(dirname(JISHI_BIN), 'bundle.mjs')], { encoding: 'utf8' }).trim();
}

async function oneRun(layout: Layout, windowMs: number, warmupMs: number, log: (m: string) => void): Promise<AgentRun> {
  const { dir, remove } = await tempDir('jishi-bench-agent-');
  const collector = await fakeCollector();
  const children: Child[] = [];
  try {
    const [gateways, units] = layout === 'gateway' ? [1, DEVICES] : [DEVICES, 1];
    const sim = spawnTs('bench/sim-process.ts', ['--gateways', String(gateways), '--units', String(units)]);
    children.push(sim);
    const { ports } = await readJsonLine<{ ports: number[] }>(sim);
    const transport = (i: number): string =>
      layout === 'gateway' ? `modbus-tcp://127.0.0.1:${ports[0]!}?unit=${i + 1}` : `modbus-tcp://127.0.0.1:${ports[i]!}?unit=1`;
    const config = {
      agent: { id: 'bench-agent' },
      collector: { url: collector.url, token: 'bench-token-0123456789abcdef' },
      poll_interval_s: 1,
      state_dir: join(dir, 'agent-state'),
      health: { listen: `127.0.0.1:${await freePort()}` },
      instruments: Array.from({ length: DEVICES }, (_, u) => ({
        id: `AGT-${u + 1}`,
        profile: 'eastron-sdm120',
        transport: transport(u),
      })),
    };
    const file = join(dir, 'agent.yaml');
    await writeFile(file, stringify(config));
    const agent = spawnJishi(['agent', '--config', file, '--log-level', 'warn']);
    const idle = spawnNode(['-e', 'setInterval(() => {}, 1000)']);
    children.push(agent, idle);
    await waitFor(
      `readings from all ${DEVICES} instruments`,
      () => {
        if (agent.exited()) throw new Error(`the agent exited: ${agent.stderr()}`);
        return collector.instruments.size >= DEVICES;
      },
      60_000,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${agent.stderr()}`);
    });
    log(`all ${DEVICES} instruments delivered; warming up ${warmupMs / 1000} s, then measuring ${windowMs / 1000} s`);
    await sleep(warmupMs);
    const before = collector.samples;
    const [a, i] = await sampleProcesses([agent.pid, idle.pid], windowMs, 1000, (ms) => {
      if (ms % 10_000 === 0) log(`measuring: ${ms / 1000} / ${windowMs / 1000} s`);
    });
    const readingsPerSecond = (collector.samples - before) / a!.seconds;
    if (agent.exited()) throw new Error(`the agent exited during the window: ${agent.stderr()}`);
    return {
      agentRssKb: a!.rssMedianKb,
      agentCpu: a!.cpuPercent,
      idleRssKb: i!.rssMedianKb,
      idleCpu: i!.cpuPercent,
      readingsPerSecond,
    };
  } finally {
    for (const c of children.reverse()) await c.stop();
    await collector.close();
    await remove();
  }
}

export async function runAgentFootprint(o: BenchOptions): Promise<Figure[]> {
  const t = performance.now();
  const log = (m: string): void => progress('agent', t, m);
  const windowMs = o.quick ? 10_000 : 30_000;
  const warmupMs = o.quick ? 3000 : 10_000;
  log(`bundle: ${ensureBundle()}`);
  const runs: Record<Layout, AgentRun[]> = { devices: [], gateway: [] };
  for (let run = 0; run < o.runs; run++) {
    // Alternating, so that both layouts see the same machine over the runs.
    for (const layout of (run % 2 === 0 ? ['devices', 'gateway'] : ['gateway', 'devices']) as Layout[]) {
      const r = await oneRun(layout, windowMs, warmupMs, log);
      log(
        `run ${run + 1}/${o.runs} (${layout}): agent ${(r.agentRssKb / 1024).toFixed(1)} MB, ${r.agentCpu.toFixed(2)} % CPU, ` +
          `${r.readingsPerSecond.toFixed(1)} readings/s delivered; idle node ${(r.idleRssKb / 1024).toFixed(1)} MB`,
      );
      runs[layout].push(r);
    }
  }
  const delivered = (rs: AgentRun[]): string => rs.map((r) => r.readingsPerSecond.toFixed(1)).join(', ');
  const window = `${windowMs / 1000} s window after ${warmupMs / 1000} s warm-up`;
  const figures = (layout: Layout): Figure[] => {
    const rs = runs[layout];
    const where = layout === 'devices' ? `${DEVICES} Modbus TCP devices` : `${DEVICES} meters behind one Modbus TCP gateway`;
    const target = layout === 'devices';
    return [
      figureFromRuns(
        {
          bench: 'agent',
          id: layout === 'devices' ? 'agent.rss' : 'agent.rss_gateway',
          label: `agent: RSS, ${where} at 1 Hz (median over the window)`,
          unit: 'MB',
          baselineLabel: 'idle `node -e setInterval`',
          ...(target ? { target: { on: 'ratio', op: '<=', limit: 2, text: '< 2x idle node' } as const } : {}),
          note: `SDM120 meters polled every 1 s; ${window}; delivered ${delivered(rs)} readings/s`,
        },
        rs.map((r) => ({ value: r.agentRssKb / 1024, baseline: r.idleRssKb / 1024 })),
      ),
      figureFromRuns(
        {
          bench: 'agent',
          id: layout === 'devices' ? 'agent.cpu' : 'agent.cpu_gateway',
          label: `agent: CPU, ${where} at 1 Hz`,
          unit: '% of a core',
          baselineLabel: 'idle `node -e setInterval`',
          ...(target ? { target: { on: 'value', op: '<=', limit: 2, text: '< 2 % of one core' } as const } : {}),
        },
        rs.map((r) => ({ value: r.agentCpu, baseline: r.idleCpu })),
        { ratio: false },
      ),
    ];
  };
  return [...figures('devices'), ...figures('gateway')];
}
