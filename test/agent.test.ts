/**
 * The whole agent in-process, with real parts: the Modbus TCP simulator, the Modbus TCP driver, and a
 * stand-in collector over HTTP. Short real intervals; the test waits on outcomes (vi.waitFor), not on time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../common/clock.ts';
import { freePort } from '../common/net.ts';
import { agentConfigFromObject } from '../agent/config.ts';
import { startAgent, type RunningAgent } from '../agent/agent.ts';
import { sdm120 } from '../devices/eastron/sdm120.ts';
import { startModbusTcpSimulator } from '../devices/simulators/modbus-tcp.ts';
import { createTrace, DEMO_TRACES } from '../devices/traces.ts';
import { closeFakeCollectors, fakeCollector } from './helpers/fake-collector.ts';
import { capture } from './helpers/log-capture.ts';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await closeFakeCollectors();
});

describe('startAgent', () => {
  it('polls instruments, sends their samples, isolates a dead one, and flushes on stop', async () => {
    const simClock = new ManualClock(Date.UTC(2025, 0, 6, 10, 0, 0));
    const trace = createTrace(DEMO_TRACES['flow-cytometer'], { seed: 5, epochMs: simClock.now() });
    const sim = await startModbusTcpSimulator({ port: 0, clock: simClock, devices: [{ unit: 1, profile: sdm120, trace }] });
    cleanup.push(() => sim.close());
    const collector = await fakeCollector();
    const deadPort = await freePort();

    const stateDir = mkdtempSync(join(tmpdir(), 'jishi-agent-test-'));
    cleanup.push(async () => rmSync(stateDir, { recursive: true, force: true }));
    const config = agentConfigFromObject(
      {
        agent: { id: 'lab-pc-1' },
        collector: { url: collector.url, token: '${TOKEN}' },
        state_dir: stateDir,
        poll_interval_s: 0.1,
        batch_interval_s: 0.1,
        instruments: [
          { id: 'FCM-2019-001', name: 'Flow cytometer', profile: 'eastron-sdm120', transport: sim.url(1) },
          { id: 'DEAD-1', profile: 'eastron-sdm120', transport: `modbus-tcp://127.0.0.1:${deadPort}?unit=1&timeout=200` },
        ],
      },
      'test',
      { env: { TOKEN: 'tok-xyz' } },
    );
    const { logger, lines } = capture();
    const agent: RunningAgent = await startAgent(config, { logger });
    cleanup.push(() => agent.stop());
    const seen: string[] = [];
    agent.onSample((s) => seen.push(s.instrument_id), 'recorder');
    agent.onSample(() => {
      throw new Error('listener bug');
    }, 'console-table');

    const received = () => collector.requests.flatMap((r) => r.body.samples);
    await vi.waitFor(
      () => {
        expect(received().filter((s) => s.instrument_id === 'FCM-2019-001').length).toBeGreaterThanOrEqual(3);
        expect(received().some((s) => s.instrument_id === 'DEAD-1')).toBe(true);
      },
      { timeout: 5000, interval: 20 },
    );

    const good = received().find((s) => s.instrument_id === 'FCM-2019-001')!;
    expect(good.readings.voltage_v).toBe(Math.fround(trace.at(simClock.now()).voltage_v));
    expect(received().find((s) => s.instrument_id === 'DEAD-1')).toMatchObject({ readings: {}, error: 'JISHI_ERR_DEVICE_UNREACHABLE' });
    expect(collector.requests[0]!.headers.authorization).toBe('Bearer tok-xyz');
    expect(collector.requests[0]!.body.batch_id).toMatch(new RegExp(`^lab-pc-1-${agent.bootId}-\\d+$`));

    const status = agent.status();
    expect(status.agentId).toBe('lab-pc-1');
    const [fcm, dead] = status.instruments;
    expect(fcm).toMatchObject({ instrumentId: 'FCM-2019-001', errors: 0, connected: true, target: sim.url(1) });
    expect(fcm!.reads).toBeGreaterThanOrEqual(3);
    expect(dead).toMatchObject({ instrumentId: 'DEAD-1', reads: 0, lastError: { code: 'JISHI_ERR_DEVICE_UNREACHABLE' } });
    // the collector has recorded the requests; the agent counts them once the answers are in
    await vi.waitFor(() => expect(agent.status().uplink.sentSamples).toBeGreaterThanOrEqual(4), { timeout: 5000, interval: 20 });

    // listeners: a throwing one is named in the log and does not stop the others
    expect(seen.length).toBeGreaterThan(0);
    expect(lines.some((l) => l.listener === 'console-table' && String(l.msg).includes('"console-table" threw'))).toBe(true);

    await agent.stop();
    const after = agent.status();
    expect(after.uplink.queueDepth).toBe(0);
    expect(after.instruments.every((i) => !i.running)).toBe(true);
    expect(after.instruments[0]!.connected).toBe(false);
    expect(received().length).toBe(after.uplink.sentSamples);
    expect(lines.some((l) => l.msg === 'agent stopped; every sample was sent')).toBe(true);
    // stop() is idempotent
    await agent.stop();
  });
});
