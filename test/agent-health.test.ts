/**
 * Agent health: the local health endpoint (GET /status, /healthz) of a real agent in this process polling a
 * Modbus TCP simulator (one instrument fine, one unreachable) and sending to a real collector; the summary the
 * collector keeps from each batch (GET /api/v1/agents `status`); `jishi agent status` as a child process
 * against that agent (text, --json, not running, health off); the health.listen config key; and the uplink's
 * fallback when a collector refuses the agent_status field.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startAgent, type RunningAgent } from '../agent/agent.ts';
import { loadAgentConfig, parseAgentConfig } from '../agent/config.ts';
import type { HealthStatus } from '../agent/health-server.ts';
import { formatHealthStatus } from '../cli/agent-command.ts';
import { MemoryOutbox } from '../agent/outbox.ts';
import { Uplink } from '../agent/uplink.ts';
import { sha256Hex } from '../collector/auth.ts';
import { collectorConfigFromObject } from '../collector/config.ts';
import type { Static } from '@sinclair/typebox';
import type { AgentList } from '../collector/routes/agents.ts';
import { startCollector, type RunningCollector } from '../collector/server.ts';
import { ManualClock } from '../common/clock.ts';
import { ConfigError } from '../common/errors.ts';
import { silentLogger } from '../common/log.ts';
import { freePort } from '../common/net.ts';
import type { AgentStatusReport } from '../common/wire.ts';
import { sdm120 } from '../devices/eastron/sdm120.ts';
import { startModbusTcpSimulator, type ModbusTcpSimulator } from '../devices/simulators/modbus-tcp.ts';
import { createTrace, DEMO_TRACES } from '../devices/traces.ts';
import { closeFakeCollectors, errorBody, fakeCollector } from './helpers/fake-collector.ts';
import { capture } from './helpers/log-capture.ts';
import { until } from './helpers/wait.ts';

const BIN = fileURLToPath(new URL('../bin/jishi.mjs', import.meta.url));
const AGENT_ID = 'health-pc-1';
const TOKEN = 'health-token-0123456789';

/** Runs `jishi` as a child process without blocking this process's event loop (the agent answers from here). */
function jishi(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('agent health endpoint, collector status and `jishi agent status`', () => {
  let dir: string;
  let sim: ModbusTcpSimulator;
  let collector: RunningCollector;
  let agent: RunningAgent | undefined;
  let healthPort: number;
  let configFile: string;
  const statusUrl = () => `http://127.0.0.1:${healthPort}/status`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'jishi-health-'));
    sim = await startModbusTcpSimulator({
      port: 0,
      devices: [{ unit: 1, profile: sdm120, trace: createTrace(DEMO_TRACES['flow-cytometer'], { seed: 1, epochMs: Date.now() }) }],
    });
    collector = await startCollector(
      collectorConfigFromObject(
        { listen: { port: 0 }, data_dir: join(dir, 'collector'), agents: [{ id: AGENT_ID, token_sha256: sha256Hex(TOKEN) }] },
        'health',
      ),
      { logger: silentLogger() },
    );
    healthPort = await freePort();
    const deadPort = await freePort(); // nothing listens there: the instrument's reads fail
    configFile = join(dir, 'agent.yaml');
    await writeFile(
      configFile,
      [
        `agent: { id: ${AGENT_ID} }`,
        `collector: { url: "${collector.url}", token: ${TOKEN} }`,
        'poll_interval_s: 0.1',
        'batch_interval_s: 0.1',
        'state_dir: agent-state',
        `health: { listen: "127.0.0.1:${healthPort}" }`,
        'instruments:',
        `  - { id: FCM-1, profile: eastron-sdm120, transport: "${sim.url(1)}&timeout=500" }`,
        `  - { id: DEAD-9, profile: eastron-sdm120, transport: "modbus-tcp://127.0.0.1:${deadPort}?unit=1&timeout=200" }`,
        '',
      ].join('\n'),
    );
    agent = await startAgent(await loadAgentConfig(configFile, { env: {} }), { logger: silentLogger(), health: true });
  });

  afterAll(async () => {
    await agent?.stop();
    await collector?.close();
    await sim?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves GET /status with devices, outbox, delivery and clock skew, and GET /healthz', async () => {
    expect(agent!.health).toEqual({ host: '127.0.0.1', port: healthPort });
    const status = await until('a delivery and a failed read in /status', async () => {
      const s = (await (await fetch(statusUrl())).json()) as HealthStatus;
      const dead = s.instruments.find((i) => i.id === 'DEAD-9');
      return s.uplink.last_success_at !== null && s.instruments[0]!.reads > 0 && dead !== undefined && dead.errors > 0 ? s : undefined;
    });
    expect(status).toMatchObject({ agent_id: AGENT_ID, boot_id: agent!.bootId, lost_samples: 0 });
    expect(status.agent_time).toBeGreaterThanOrEqual(status.started_at);
    const [fcm, dead] = status.instruments;
    expect(fcm).toMatchObject({ id: 'FCM-1', running: true, connected: true, errors: 0, last_error: null, reconnects: 0 });
    expect(fcm!.last_reading_at).toBeGreaterThan(status.agent_time - 5000);
    expect(dead).toMatchObject({ id: 'DEAD-9', reads: 0, last_reading_at: null, connected: false });
    expect(dead!.error_streak).toBeGreaterThan(0);
    expect(dead!.last_error!.code).toMatch(/^JISHI_ERR_DEVICE_/);
    expect(status.outbox.depth).toBeGreaterThanOrEqual(0);
    expect(status.outbox.dropped_samples).toBe(0);
    expect(typeof status.outbox.bytes).toBe('number');
    expect(status.outbox.unsaved).toBeGreaterThanOrEqual(0);
    expect(formatHealthStatus({ ...status, outbox: { ...status.outbox, unsaved: 0 } })).toMatch(/^outbox backlog: +\d+ sample\(s\)(, oldest pending [^;\n]+)?$/m);
    expect(formatHealthStatus({ ...status, outbox: { ...status.outbox, unsaved: 7 } })).toMatch(/^outbox backlog: .*; 7 read but not in the outbox yet$/m);
    expect(status.uplink.sent_samples).toBeGreaterThan(0);
    expect(status.uplink.failures).toBe(0);
    // Same machine, same clock: the skew is the time the answer took, well under a second.
    expect(Math.abs(status.clock_skew_ms!)).toBeLessThan(1000);

    const healthz = await fetch(`http://127.0.0.1:${healthPort}/healthz`);
    expect(healthz.status).toBe(200);
    expect(await healthz.json()).toEqual({ status: 'ok' });
    expect((await fetch(`http://127.0.0.1:${healthPort}/nope`)).status).toBe(404);
    expect((await fetch(statusUrl(), { method: 'POST' })).status).toBe(405);
  });

  it('sends a summary with each batch that the collector shows in GET /api/v1/agents', async () => {
    const list = await until('the agent status at the collector', async () => {
      const body = (await (await fetch(`${collector.url}/api/v1/agents`)).json()) as Static<typeof AgentList>;
      const a = body.agents.find((x) => x.id === AGENT_ID);
      return a?.status && a.status.device_errors > 0 ? a : undefined;
    });
    const report = list.status as AgentStatusReport;
    expect(report.started_at).toBe(agent!.status().startedAt);
    expect(report.failing_instruments).toEqual(['DEAD-9']);
    expect(report).toMatchObject({ dropped_samples: 0, lost_samples: 0, uplink_failures: 0 });
    expect(report.outbox_depth).toBeGreaterThan(0); // the batch carrying it was still queued
    expect(report.outbox_oldest_ts).not.toBeNull();
    expect(list.clock_skew_ms).not.toBeNull();
  });

  it('`jishi agent status --json` prints the endpoint JSON, and the text form a table and summary lines', async () => {
    const json = await jishi(['agent', 'status', '--config', configFile, '--json']);
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as HealthStatus;
    expect(parsed.agent_id).toBe(AGENT_ID);
    expect(parsed.instruments.map((i) => i.id)).toEqual(['FCM-1', 'DEAD-9']);

    const text = await jishi(['agent', 'status', '--config', configFile]);
    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^agent ${AGENT_ID} \\(boot ${agent!.bootId}\\), up `));
    expect(lines.find((l) => l.startsWith('instrument'))).toMatch(/^instrument\s+last reading\s+reads\s+errors\s+last error\s+reconnects$/);
    expect(lines.find((l) => l.startsWith('FCM-1'))).toMatch(/^FCM-1\s+\d+s ago\s+\d+\s+0\s+-\s+0$/);
    expect(lines.find((l) => l.startsWith('DEAD-9'))).toMatch(/^DEAD-9\s+never\s+0\s+\d+\s+JISHI_ERR_DEVICE_\w+ \(failing, \d+x\)\s+\d+$/);
    expect(text.stdout).toMatch(/^outbox backlog: +\d+ sample\(s\)/m);
    expect(text.stdout).toMatch(/^dropped samples: 0 \(outbox full\)$/m);
    expect(text.stdout).toMatch(/^last delivery: +\d+s ago, \d+ sample\(s\) in \d+ batch\(es\)$/m);
    expect(text.stdout).toMatch(/^clock skew: +[+-]\d+ ms \(collector minus agent\)$/m);
  });

  it('`jishi agent status` exits 1 with a clear message when no agent answers, or the endpoint is off', async () => {
    const port = await freePort();
    const file = join(dir, 'stopped.yaml');
    // Only the health section is read: no token needed in the environment.
    await writeFile(file, `agent: { id: x }\ncollector: { url: "http://127.0.0.1:1", token: "\${UNSET_TOKEN}" }\nhealth: { listen: "127.0.0.1:${port}" }\ninstruments: []\n`);
    const r = await jishi(['agent', 'status', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^jishi: no agent answers on 127\\.0\\.0\\.1:${port}: is it running\\?`));

    await writeFile(file, 'health: { listen: off }\n');
    const off = await jishi(['agent', 'status', '--config', file]);
    expect(off.code).toBe(1);
    expect(off.stderr).toContain('the health endpoint is off');

    await writeFile(file, 'health: { listen: "localhost" }\n');
    const bad = await jishi(['agent', 'status', '--config', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('/health/listen');

    const unknown = await jishi(['agent', 'stats', '--config', file]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown agent action "stats" (known: status)');
  });

  it('closes the endpoint on stop', async () => {
    await agent!.stop();
    await expect(fetch(`http://127.0.0.1:${healthPort}/healthz`)).rejects.toThrow();
    agent = undefined;
  });
});

describe('health.listen config key', () => {
  const base = 'agent: {id: a1}\ncollector: {url: "http://c.example", token: t}\ninstruments:\n  - {id: X1, profile: eastron-sdm120, transport: "modbus-tcp://192.0.2.5"}\n';

  it('defaults to 127.0.0.1:9475, takes host:port, [v6]:port and off', () => {
    expect(parseAgentConfig(base, 'a.yaml', {}).health).toEqual({ host: '127.0.0.1', port: 9475 });
    expect(parseAgentConfig(`${base}health: {listen: "localhost:9500"}\n`, 'a.yaml', {}).health).toEqual({ host: 'localhost', port: 9500 });
    expect(parseAgentConfig(`${base}health: {listen: "[::1]:9475"}\n`, 'a.yaml', {}).health).toEqual({ host: '::1', port: 9475 });
    expect(parseAgentConfig(`${base}health: {listen: off}\n`, 'a.yaml', {}).health).toBeNull();
    expect(parseAgentConfig(`${base}health: {}\n`, 'a.yaml', {}).health).toEqual({ host: '127.0.0.1', port: 9475 });
  });

  it('reports a bad value together with the other errors', () => {
    const check = (yaml: string): ConfigError => {
      try {
        parseAgentConfig(yaml, 'a.yaml', {});
      } catch (err) {
        return err as ConfigError;
      }
      throw new Error('expected a ConfigError');
    };
    const err = check(`${base}poll_interval_s: 0\nhealth: {listen: "127.0.0.1:70000"}\n`);
    expect(err.issues.map((i) => i.path)).toEqual(['/health/listen', '/poll_interval_s']);
    expect(err.issues[0]).toMatchObject({ value: '127.0.0.1:70000', message: 'the port must be 1 to 65535' });
    expect(check(`${base}health: {listen: "9475"}\n`).issues[0]!.message).toMatch(/^expected host:port/);
    expect(check(`${base}health: {listen: 9475, port: 1}\n`).issues.map((i) => i.path)).toEqual(['/health/listen', '/health/port']);
  });

  it('startAgent fails with a clear message when the address is taken', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jishi-health-busy-'));
    const port = await freePort();
    const config = parseAgentConfig(`${base}state_dir: ${dir}\nhealth: {listen: "127.0.0.1:${port}"}\n`, join(dir, 'a.yaml'), {});
    const first = await startAgent(config, { logger: silentLogger(), health: true });
    try {
      await expect(startAgent({ ...config, agentId: 'a2' }, { logger: silentLogger(), health: true })).rejects.toThrow(
        `cannot serve the health endpoint on 127.0.0.1:${port}: EADDRINUSE`,
      );
    } finally {
      await first.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Uplink agent_status', () => {
  afterEach(closeFakeCollectors);
  const T0 = Date.UTC(2025, 3, 1, 6, 0, 0);
  const REPORT: AgentStatusReport = {
    started_at: T0,
    outbox_depth: 2,
    outbox_oldest_ts: T0,
    dropped_samples: 0,
    lost_samples: 0,
    device_errors: 0,
    failing_instruments: [],
    uplink_failures: 0,
  };

  it('sends it with each batch, measures the clock skew from the ack, and drops it when a collector refuses it', async () => {
    const c = await fakeCollector();
    c.script.push(
      { status: 400, body: errorBody(400, 'FST_ERR_VALIDATION', 'body must NOT have additional properties') },
      { status: 200, body: { batch_id: 'lab-pc-1-b00t-7', accepted: 2, duplicate: false, server_time: T0 + 2000 + 1500 } },
    );
    const clock = new ManualClock(T0);
    const { logger, lines } = capture();
    const outbox = new MemoryOutbox({ agentId: 'lab-pc-1', bootId: 'b00t', firstSeq: 7, maxSamples: 100, logger });
    const uplink = new Uplink({
      agentId: 'lab-pc-1',
      collectorUrl: c.url,
      token: 'tok',
      batchIntervalMs: 2000,
      maxBatchSamples: 500,
      outbox,
      clock,
      logger,
      statusReport: () => REPORT,
    });
    outbox.append([0, 1].map((i) => ({ instrument_id: 'FCM-1', ts: T0 + i, readings: { power_w: i } })));
    uplink.start();
    clock.advance(2000);
    await vi.waitFor(() => expect(uplink.status().sentBatches).toBe(1), { timeout: 5000, interval: 5 });
    expect(c.requests.map((r) => [r.body.batch_id, r.body.agent_status])).toEqual([
      ['lab-pc-1-b00t-7', REPORT],
      ['lab-pc-1-b00t-7', undefined],
    ]);
    expect(uplink.status()).toMatchObject({ discardedBatches: 0, sentSamples: 2, clockSkewMs: 1500 });
    expect(lines.some((l) => /refused the agent_status field/.test(String(l.msg)))).toBe(true);

    outbox.append([{ instrument_id: 'FCM-1', ts: T0 + 3000, readings: { power_w: 3 } }]);
    clock.advance(2000);
    await vi.waitFor(() => expect(uplink.status().sentBatches).toBe(2), { timeout: 5000, interval: 5 });
    expect(c.requests[2]!.body.agent_status).toBeUndefined();
    await uplink.stop();
  });
});
