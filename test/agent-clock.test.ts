/** A lab PC whose clock is 10 minutes slow: the collector corrects the sample times and shows the skew. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { agentConfigFromObject } from '../agent/config.ts';
import { startAgent } from '../agent/agent.ts';
import { sha256Hex } from '../collector/auth.ts';
import { collectorConfigFromObject } from '../collector/config.ts';
import { startCollector } from '../collector/server.ts';
import { systemClock, type Clock } from '../common/clock.ts';
import { silentLogger } from '../common/log.ts';
import { sdm120 } from '../devices/eastron/sdm120.ts';
import { startModbusTcpSimulator } from '../devices/simulators/modbus-tcp.ts';
import { createTrace, DEMO_TRACES } from '../devices/traces.ts';
import { until } from './helpers/wait.ts';

const TOKEN = 'skewed-clock-token-0123456789';
const SLOW_MS = 600_000;

it('corrects the readings of an agent whose clock is 10 minutes slow', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jishi-skew-'));
  const sim = await startModbusTcpSimulator({
    port: 0,
    devices: [{ unit: 1, profile: sdm120, trace: createTrace(DEMO_TRACES.sequencer, { seed: 1, epochMs: Date.now() }) }],
  });
  const collector = await startCollector(
    collectorConfigFromObject(
      { listen: { port: 0 }, data_dir: join(dir, 'c'), agents: [{ id: 'slow-pc', token_sha256: sha256Hex(TOKEN) }] },
      'skew',
    ),
    { logger: silentLogger() },
  );
  // The agent's clock: real timers, wrong wall time.
  const slowClock: Clock = { ...systemClock, now: () => Date.now() - SLOW_MS };
  const agent = await startAgent(
    agentConfigFromObject(
      {
        agent: { id: 'slow-pc' },
        collector: { url: collector.url, token: TOKEN },
        state_dir: join(dir, 'a'),
        poll_interval_s: 0.2,
        batch_interval_s: 0.2,
        instruments: [{ id: 'SEQ-1', profile: 'eastron-sdm120', transport: sim.url(1) }],
      },
      'skew',
      { env: {} },
    ),
    { clock: slowClock, logger: silentLogger() },
  );
  try {
    await until('readings', () => collector.store.readingsAfter(0, 100).length >= 5, 15_000);
    const stored = collector.store.readingsAfter(0, 100);
    for (const r of stored) {
      // Within a few seconds of the real time they were read, not 10 minutes before it.
      expect(Math.abs(r.ts - r.received_at)).toBeLessThan(5000);
    }
    const agents = (await (await fetch(`${collector.url}/api/v1/agents`)).json()) as { agents: Array<{ id: string; clock_skew_ms: number; clock_offset_ms: number }> };
    const slow = agents.agents.find((a) => a.id === 'slow-pc')!;
    expect(slow.clock_skew_ms).toBeGreaterThan(SLOW_MS - 5000);
    expect(slow.clock_skew_ms).toBeLessThan(SLOW_MS + 5000);
    expect(slow.clock_offset_ms).toBe(slow.clock_skew_ms);
  } finally {
    await agent.stop();
    await collector.close();
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  }
});
