/**
 * SIGHUP reloads the agent's config in a real `jishi agent` process: a new instrument starts reporting, the
 * outbox carries on, and an invalid config is refused while the agent goes on with the previous one.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../collector/auth.ts';
import { collectorConfigFromObject } from '../collector/config.ts';
import { startCollector, type RunningCollector } from '../collector/server.ts';
import { silentLogger } from '../common/log.ts';
import { freePort } from '../common/net.ts';
import { sdm120 } from '../devices/eastron/sdm120.ts';
import { startModbusTcpSimulator, type ModbusTcpSimulator } from '../devices/simulators/modbus-tcp.ts';
import { createTrace, DEMO_TRACES } from '../devices/traces.ts';
import { until } from './helpers/wait.ts';

const BIN = fileURLToPath(new URL('../bin/jishi.mjs', import.meta.url));
const TOKEN = 'reload-token-0123456789';

let dir: string;
let sim: ModbusTcpSimulator;
let collector: RunningCollector;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jishi-reload-'));
  const now = Date.now();
  sim = await startModbusTcpSimulator({
    port: 0,
    devices: [1, 2].map((unit) => ({ unit, profile: sdm120, trace: createTrace(DEMO_TRACES.sequencer, { seed: unit, epochMs: now }) })),
  });
  collector = await startCollector(
    collectorConfigFromObject(
      { listen: { port: 0 }, data_dir: join(dir, 'collector'), agents: [{ id: 'reload-pc', token_sha256: sha256Hex(TOKEN) }] },
      'reload',
    ),
    { logger: silentLogger() },
  );
});
afterAll(async () => {
  await collector?.close();
  await sim?.close();
  await rm(dir, { recursive: true, force: true });
});

function agentYaml(units: number[], health: number): string {
  return [
    'agent: { id: reload-pc }',
    `collector: { url: "${collector.url}", token: ${TOKEN} }`,
    `state_dir: ${join(dir, 'state')}`,
    `health: { listen: "127.0.0.1:${health}" }`,
    'poll_interval_s: 0.2',
    'batch_interval_s: 0.2',
    'instruments:',
    ...units.map((u) => `  - { id: INST-${u}, profile: eastron-sdm120, transport: "${sim.url(u)}" }`),
  ].join('\n');
}

const count = (id: string): number => collector.store.readingsAfter(0, 1_000_000).filter((r) => r.instrument_id === id).length;

describe('jishi agent on SIGHUP', () => {
  it('reloads a valid config, refuses an invalid one, and stops cleanly', async () => {
    const file = join(dir, 'agent.yaml');
    const health = await freePort();
    await writeFile(file, agentYaml([1], health));
    const child = spawn(process.execPath, [BIN, 'agent', '--config', file, '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await until('INST-1 readings', () => count('INST-1') >= 5, 20_000);
      expect(count('INST-2')).toBe(0);

      await writeFile(file, agentYaml([1, 2], health));
      child.kill('SIGHUP');
      await until('INST-2 readings after the reload', () => count('INST-2') >= 5, 20_000);

      await writeFile(file, 'agent: { id: "bad id" }\n');
      child.kill('SIGHUP');
      await until('the refusal in the log', () => log.includes('reload refused'), 10_000);
      const before = [count('INST-1'), count('INST-2')] as const;
      await until('both instruments still reporting', () => count('INST-1') > before[0] + 3 && count('INST-2') > before[1] + 3, 20_000);
      expect(log).toContain('/agent/id');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, log).toBe(0);
    // Each reading once: no duplicates by (instrument, ts) across the restarts.
    const keys = collector.store.readingsAfter(0, 1_000_000).map((r) => `${r.instrument_id}@${r.ts}`);
    expect(new Set(keys).size).toBe(keys.length);
  }, 90_000);
});
