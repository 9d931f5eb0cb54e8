/**
 * Store-and-forward with real processes: `jishi agent` runs as a child process (bin/jishi.mjs) polling a Modbus
 * TCP simulator and sending to a real collector (startCollector, SQLite store), both in this process.
 *
 * (a) The collector stops for a few seconds under load and comes back on the same port: every sample the agent
 *     read arrives exactly once (one stored reading per poll the simulator served, none twice).
 * (b) The agent is killed with SIGKILL mid-stream, and again while the collector stored a batch whose answer was
 *     lost: restarted on the same state_dir, nothing that was in the outbox file is lost, the batch in flight is
 *     re-sent under its id (the collector recognises the duplicate), nothing is stored twice.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { outboxFile, SqliteOutbox } from '../agent/sqlite-outbox.ts';
import { sha256Hex } from '../collector/auth.ts';
import { collectorConfigFromObject, type CollectorConfig } from '../collector/config.ts';
import { startCollector, type RunningCollector } from '../collector/server.ts';
import { silentLogger } from '../common/log.ts';
import { freePort } from '../common/net.ts';
import type { IngestAck, IngestBatch, Sample } from '../common/wire.ts';
import { sdm120 } from '../devices/eastron/sdm120.ts';
import { startModbusTcpSimulator, type ModbusTcpSimulator } from '../devices/simulators/modbus-tcp.ts';
import { createTrace, DEMO_TRACES } from '../devices/traces.ts';
import { until } from './helpers/wait.ts';

const BIN = fileURLToPath(new URL('../bin/jishi.mjs', import.meta.url));
const AGENT_ID = 'durable-pc-1';
const TOKEN = 'durability-token-0123456789';
const FLEET = [
  { id: 'FCM-1', unit: 1, trace: DEMO_TRACES['flow-cytometer'] },
  { id: 'SEQ-2', unit: 2, trace: DEMO_TRACES.sequencer },
  { id: 'MS-3', unit: 3, trace: DEMO_TRACES['mass-spectrometer'] },
];
/** A poll starts with the read of the lowest register of the lowest function: count those to count polls. */
const FIRST_FN = Math.min(...sdm120.fields.map((f) => f.fn));
const FIRST_ADDRESS = Math.min(...sdm120.fields.filter((f) => f.fn === FIRST_FN).map((f) => f.address));

/** A running `jishi agent` process and what it wrote to stderr (pino JSON lines). */
interface AgentProcess {
  child: ChildProcess;
  log: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let dir: string;
let sim: ModbusTcpSimulator;
let collector: RunningCollector | undefined;
let collectorConfig: CollectorConfig;
let served: Map<number, number>;
const agents: AgentProcess[] = [];
const servers: Server[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jishi-durability-'));
  served = new Map();
  const now = Date.now();
  sim = await startModbusTcpSimulator({
    port: 0,
    devices: FLEET.map((f) => ({ unit: f.unit, profile: sdm120, trace: createTrace(f.trace, { seed: f.unit, epochMs: now }) })),
    onRequest: (req) => {
      if (req.fn === FIRST_FN && req.address === FIRST_ADDRESS) served.set(req.unit, (served.get(req.unit) ?? 0) + 1);
    },
  });
  collectorConfig = collectorConfigFromObject(
    {
      listen: { host: '127.0.0.1', port: await freePort() },
      data_dir: join(dir, 'collector'),
      agents: [{ id: AGENT_ID, token_sha256: sha256Hex(TOKEN) }],
    },
    'durability',
  );
  collector = await startCollector(collectorConfig, { logger: silentLogger() });
});

afterEach(async () => {
  for (const a of agents.splice(0)) {
    if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL');
    await a.exited;
  }
  for (const s of servers.splice(0)) await new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r())));
  await collector?.close();
  collector = undefined;
  await sim.close();
  await rm(dir, { recursive: true, force: true });
});

/** Writes the agent config (state_dir relative to it) and returns its path. */
async function agentConfig(collectorUrl: string): Promise<string> {
  const file = join(dir, 'agent.yaml');
  const yaml = [
    `agent: { id: ${AGENT_ID} }`,
    `collector: { url: "${collectorUrl}", token: ${TOKEN} }`,
    'poll_interval_s: 0.1',
    'batch_interval_s: 0.2',
    'max_batch_samples: 50',
    'state_dir: agent-state',
    'outbox: { sync: interval, sync_interval_s: 0.5 }',
    `health: { listen: "127.0.0.1:${await freePort()}" }`,
    'instruments:',
    ...FLEET.map((f) => `  - { id: ${f.id}, profile: eastron-sdm120, transport: "${sim.url(f.unit)}&timeout=500" }`),
    '',
  ].join('\n');
  await writeFile(file, yaml);
  return file;
}

function startAgentProcess(configFile: string): AgentProcess {
  const child = spawn(process.execPath, [BIN, 'agent', '--config', configFile, '--log-level', 'info'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const a: AgentProcess = { child, log: () => text, exited };
  agents.push(a);
  onTestFailed(() => {
    process.stderr.write(`--- agent process ${child.pid} (${configFile}), last output:\n${text.slice(-4000)}\n`);
  });
  return a;
}

/** Log lines (JSON) of an agent process. */
function logLines(a: AgentProcess): Array<Record<string, unknown>> {
  return a
    .log()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function stopAgent(a: AgentProcess): Promise<void> {
  a.child.kill('SIGTERM');
  const { code } = await a.exited;
  expect(code, a.log()).toBe(0);
}

async function killAgent(a: AgentProcess): Promise<void> {
  a.child.kill('SIGKILL');
  expect((await a.exited).signal).toBe('SIGKILL');
}

const key = (s: { instrument_id: string; ts: number }) => `${s.instrument_id}@${s.ts}`;

function stored(): Array<{ instrument_id: string; ts: number }> {
  return collector!.store.readingsAfter(0, 1_000_000);
}

/** The outbox file as the killed agent left it: opens (recovering the WAL), and what it holds. */
function inspectOutbox(): { samples: Sample[]; inFlight?: string; depth: number } {
  const o = new SqliteOutbox({ path: outboxFile(join(dir, 'agent-state'), AGENT_ID), agentId: AGENT_ID, bootId: 'inspect', maxBytes: 1e9 });
  try {
    const stats = o.stats();
    return { samples: o.queuedSamples(), depth: stats.depth, ...(stats.inFlightBatch ? { inFlight: stats.inFlightBatch } : {}) };
  } finally {
    o.close();
  }
}

/** Every poll the simulator served is stored exactly once (up to `lostPerInstrument` polls cut off by SIGKILL). */
function expectExactlyOnce(lostPerInstrument: number, log: string): void {
  const rows = stored();
  const keys = rows.map(key);
  const dup = keys.filter((k, i) => keys.indexOf(k) !== i);
  expect(dup, 'stored twice').toEqual([]);
  for (const f of FLEET) {
    const count = rows.filter((r) => r.instrument_id === f.id).length;
    const polls = served.get(f.unit) ?? 0;
    expect(polls, f.id).toBeGreaterThan(20);
    expect(count, `${f.id}: ${count} stored, ${polls} polls served\n${log.slice(-3000)}`).toBeLessThanOrEqual(polls);
    expect(count, `${f.id}: ${count} stored, ${polls} polls served\n${log.slice(-3000)}`).toBeGreaterThanOrEqual(polls - lostPerInstrument);
  }
}

describe('agent durability (real agent process, simulator, collector)', () => {
  it('(a) a collector outage under load: every sample read arrives exactly once', async () => {
    const agent = startAgentProcess(await agentConfig(`http://127.0.0.1:${collectorConfig.listen.port}`));
    await until('the first readings', () => stored().length >= 30, 10_000);

    await collector!.close();
    collector = undefined;
    await new Promise((r) => setTimeout(r, 3000)); // the agent keeps polling: ~90 samples pile up in its outbox
    const servedBeforeRestart = [...served.values()].reduce((a, b) => a + b, 0);
    collector = await startCollector(collectorConfig, { logger: silentLogger() });

    // the agent comes back by itself (its retry backoff), before any stop-time flush
    await until('the outage backlog', () => stored().length >= servedBeforeRestart, 15_000);
    await stopAgent(agent);

    expectExactlyOnce(0, agent.log());
    const lines = logLines(agent);
    expect(lines.some((l) => String(l.msg).startsWith('sending batch') && String(l.msg).includes('retrying with backoff'))).toBe(true);
    expect(lines.find((l) => l.msg === 'agent stopped' && 'sentSamples' in l)).toMatchObject({ queued: 0, droppedSamples: 0, lostSamples: 0 });
    expect(inspectOutbox().depth).toBe(0);
    // Polling never waited for delivery: through the outage and the catch-up, every instrument was read on
    // schedule (no hole in its stored sample times anywhere near the 3 s outage; polls are 0.1 s apart).
    for (const f of FLEET) {
      const ts = stored().filter((r) => r.instrument_id === f.id).map((r) => r.ts).sort((a, b) => a - b);
      const widest = Math.max(...ts.slice(1).map((t, k) => t - ts[k]!));
      expect(widest, f.id).toBeLessThan(2000); // the outage alone lasted 3 s
    }
  });

  it('(b) SIGKILL mid-stream and after a lost answer: nothing persisted is lost, nothing stored twice', async () => {
    // A proxy between agent and collector that can forward a batch and then drop the collector's answer.
    let loseAnswers = false;
    const proxied: Array<{ batchId: string; lost: boolean; ack?: IngestAck }> = [];
    const target = `http://127.0.0.1:${collectorConfig.listen.port}`;
    const proxy = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        void (async () => {
          const batchId = (JSON.parse(body) as IngestBatch).batch_id;
          const lost = loseAnswers;
          const headers = { 'content-type': 'application/json', authorization: req.headers.authorization ?? '' };
          const answer = await fetch(`${target}${req.url}`, { method: 'POST', headers, body });
          const text = await answer.text();
          proxied.push({ batchId, lost, ...(answer.status === 200 ? { ack: JSON.parse(text) as IngestAck } : {}) });
          if (lost) {
            req.socket.destroy(); // stored by the collector, but the agent never hears it
            return;
          }
          res.writeHead(answer.status, { 'content-type': 'application/json' });
          res.end(text);
        })().catch(() => req.socket.destroy());
      });
    });
    servers.push(proxy);
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const config = await agentConfig(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
    const persisted = new Set<string>();

    // 1. SIGKILL at an arbitrary point of a normal stream
    const first = startAgentProcess(config);
    await until('the first readings', () => stored().length >= 30, 10_000);
    await killAgent(first);
    const afterFirst = inspectOutbox();
    for (const s of afterFirst.samples) persisted.add(key(s));

    // 2. answers get lost: the collector stores a batch, the agent resends it (same id) and is killed meanwhile
    const storedBefore = stored().length;
    const second = startAgentProcess(config);
    await until('the restarted agent sending', () => stored().length >= storedBefore + 30, 10_000);
    loseAnswers = true;
    const lostBatch = await until('a batch resent after a lost answer', () => {
      const lost = proxied.filter((p) => p.lost);
      return lost.find((p, i) => lost.findIndex((q) => q.batchId === p.batchId) !== i)?.batchId;
    }, 10_000);
    await killAgent(second);
    const afterSecond = inspectOutbox();
    expect(afterSecond.inFlight, 'the batch the collector stored is still in flight in the file').toBe(lostBatch);
    for (const s of afterSecond.samples) persisted.add(key(s));

    // 3. answers come through again: the restarted agent resends the batch under its id and catches up
    loseAnswers = false;
    const third = startAgentProcess(config);
    await until('the lost batch acknowledged as a duplicate', () => proxied.some((p) => !p.lost && p.batchId === lostBatch && p.ack?.duplicate === true), 10_000);
    await until('every persisted sample stored', () => {
      const have = new Set(stored().map(key));
      return [...persisted].every((k) => have.has(k));
    }, 10_000);
    await stopAgent(third);

    const log = first.log() + second.log() + third.log();
    expectExactlyOnce(2, log); // each SIGKILL may cut off one poll in progress per instrument
    expect(proxied.filter((p) => p.batchId === lostBatch && p.ack).every((p, i) => p.ack!.duplicate === (i > 0))).toBe(true);
    expect(logLines(third).find((l) => String(l.msg).startsWith('opened the outbox'))).toMatchObject({ inFlightBatch: lostBatch });
    expect(inspectOutbox().depth).toBe(0);
  });
});
