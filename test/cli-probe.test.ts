/**
 * `jishi profiles` and `jishi probe` as real processes: against the Modbus TCP simulator, an MQTT plug on the
 * embedded broker (probe waits for its first message; a silent topic and an offline device fail clearly), and
 * serial instruments on socat pty pairs (query with the raw exchange, listen mode).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../common/clock.ts';
import { listProfiles } from '../devices/catalog.ts';
import { sdm120 } from '../devices/eastron/sdm120.ts';
import { genericScpi } from '../devices/generic/scpi.ts';
import { genericStatusLine } from '../devices/generic/status-line.ts';
import { compileSerialProfile, renderSerialLine } from '../devices/serial-codec.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../devices/simulators/mqtt-broker.ts';
import { startMqttSimulator } from '../devices/simulators/mqtt.ts';
import { startModbusTcpSimulator, type ModbusTcpSimulator } from '../devices/simulators/modbus-tcp.ts';
import { startSerialInstrument } from '../devices/simulators/serial-instrument.ts';
import { tasmotaPlug } from '../devices/tasmota/plug.ts';
import { createTrace, DEMO_TRACES, type Trace } from '../devices/traces.ts';
import { requireOrSkip } from './helpers/require-tool.ts';
import { socatAvailable, startPtyPair } from './helpers/socat.ts';

const BIN = fileURLToPath(new URL('../bin/jishi.mjs', import.meta.url));

/** Runs the CLI without blocking this process (the simulator answers from here). */
function jishi(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const T = Date.UTC(2025, 2, 3, 8, 0, 0);
let sim: ModbusTcpSimulator;
let trace: Trace;
beforeAll(async () => {
  const clock = new ManualClock(T);
  trace = createTrace(DEMO_TRACES.sequencer, { seed: 3, epochMs: T });
  sim = await startModbusTcpSimulator({ port: 0, clock, devices: [{ unit: 5, profile: sdm120, trace }] });
});
afterAll(async () => {
  await sim?.close();
});

describe('jishi profiles', () => {
  it('lists every profile of the catalog', async () => {
    const r = await jishi(['profiles']);
    expect(r.code).toBe(0);
    for (const p of listProfiles()) expect(r.stdout).toContain(p.id);
    const json = JSON.parse((await jishi(['profiles', '--json'])).stdout) as Array<{ id: string }>;
    expect(json.map((p) => p.id)).toEqual(listProfiles().map((p) => p.id));
  });
});

describe('jishi probe', () => {
  it('reads a device once and prints the decoded readings, with the raw registers on request', async () => {
    const expected = trace.at(T);
    const r = await jishi(['probe', 'eastron-sdm120', sim.url(5), '--json', '--raw']);
    expect(r.code, r.stderr).toBe(0);
    const body = JSON.parse(r.stdout) as { readings: Record<string, number>; raw: Array<{ request: string; data: number[] }> };
    expect(body.readings.power_w).toBeCloseTo(expected.power_w, 2);
    expect(body.readings.energy_kwh).toBeCloseTo(expected.energy_kwh, 2);
    expect(body.raw.map((f) => f.request)).toContain('fn 4 0x000c+2');
    const text = await jishi(['probe', 'eastron-sdm120', sim.url(5), '--raw']);
    expect(text.stdout).toMatch(/power_w\s+\d/);
    expect(text.stdout).toMatch(/fn 4 0x000c\+2: [0-9a-f]{4} [0-9a-f]{4}/);
  });

  it('names the problem: unknown profile, bad URL, a unit that does not answer', async () => {
    expect((await jishi(['probe', 'nope', sim.url(5)])).stderr).toMatch(/unknown profile "nope" \(known: eastron-sdm120/);
    expect((await jishi(['probe', 'eastron-sdm120', 'modbus-tcp://127.0.0.1:502?unit=999'])).stderr).toMatch(/unit must be between 0 and 255/);
    const silent = await jishi(['probe', 'eastron-sdm120', `${sim.url(5).replace('unit=5', 'unit=9')}&timeout=300`]);
    expect(silent.code).toBe(1);
    expect(silent.stderr).toMatch(/GATEWAY|0x0B|target/i);
  });
});

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe('jishi probe on MQTT (embedded broker)', () => {
  let broker: EmbeddedBroker;
  beforeAll(async () => {
    broker = await startEmbeddedBroker();
  });
  afterAll(async () => {
    await broker?.close();
  });

  /** A Tasmota plug playing a trace at a standing clock, publishing every 100 ms (probe subscribes at some point). */
  async function plug(topic: string): Promise<{ trace: Trace; offline: () => Promise<void> }> {
    const clock = new ManualClock(T);
    const plugTrace = createTrace(DEMO_TRACES['flow-cytometer'], { seed: 11, epochMs: T });
    plugTrace.forceState('active', T);
    const sim = await startMqttSimulator({ brokerUrl: broker.url, devices: [{ profile: tasmotaPlug, topic, trace: plugTrace }], clock, intervalMs: 0 });
    const timer = setInterval(() => void sim.publishNow(), 100);
    cleanup.push(async () => {
      clearInterval(timer);
      await sim.close();
    });
    return { trace: plugTrace, offline: () => sim.setOffline(topic) };
  }

  it('waits for the plug\'s first message and prints its readings, status and raw payloads', async () => {
    const { trace: plugTrace } = await plug('probe-plug1');
    const expected = plugTrace.at(T);
    const r = await jishi(['probe', 'tasmota-plug', `${broker.url}/probe-plug1`, '--json', '--raw']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/waiting up to 30 s for tasmota-plug on mqtt:\/\/127\.0\.0\.1:\d+\/probe-plug1/);
    const body = JSON.parse(r.stdout) as { readings: Record<string, number>; status?: string; raw: Array<{ request: string; data: string }> };
    for (const field of ['power_w', 'energy_kwh', 'voltage_v', 'current_a', 'power_factor', 'frequency_hz'] as const) {
      expect(Math.abs(body.readings[field]! - expected[field]), `${field}: ${body.readings[field]} vs ${expected[field]}`).toBeLessThanOrEqual(
        Math.abs(expected[field]) * 1e-9,
      );
    }
    expect(body.status).toBe('ON'); // the relay is on; the power says the rest
    expect(body.raw.map((f) => f.request)).toEqual(expect.arrayContaining(['tele/probe-plug1/SENSOR', 'tele/probe-plug1/LWT']));
    expect(body.raw.find((f) => f.request === 'tele/probe-plug1/LWT')!.data).toBe('Online');

    const text = await jishi(['probe', 'tasmota-plug', `${broker.url}/probe-plug1`, '--raw']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/power_w\s+\d/);
    expect(text.stdout).toContain('status: ON');
    expect(text.stdout).toMatch(/tele\/probe-plug1\/SENSOR: \{"ENERGY":/);
  });

  it('gives up after --wait on a topic nobody publishes, naming the topics it listened to', async () => {
    const started = Date.now();
    const r = await jishi(['probe', 'tasmota-plug', `${broker.url}/nobody-here`, '--wait', '1']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('waiting up to 1 s for tasmota-plug');
    expect(r.stderr).toMatch(/tasmota-plug at mqtt:\/\/[^ ]+\/nobody-here: no values within 1 s: no message from tele\/nobody-here\/SENSOR.* yet/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('reports a device that its LWT says is offline at once, without waiting', async () => {
    const { offline } = await plug('probe-plug2');
    await offline();
    const started = Date.now();
    const r = await jishi(['probe', 'tasmota-plug', `${broker.url}/probe-plug2`, '--wait', '20']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/device offline: tele\/probe-plug2\/LWT says "Offline"/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('names an unreachable broker', async () => {
    const r = await jishi(['probe', 'tasmota-plug', 'mqtt://127.0.0.1:1/plug', '--wait', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach MQTT broker mqtt:\/\/127\.0\.0\.1:1/);
  });
});

describe.skipIf(requireOrSkip('socat', socatAvailable()))('jishi probe on a serial line (socat pty pair)', () => {
  it('query (generic-scpi): prints the power and, with --raw, the command sent and the answer line', async () => {
    const pair = await startPtyPair();
    cleanup.push(() => pair.close());
    const scpiTrace = createTrace(DEMO_TRACES.sequencer, { seed: 5, epochMs: T });
    scpiTrace.forceState('active', T);
    const sim = await startSerialInstrument({ path: pair.b, profile: genericScpi, trace: scpiTrace, clock: new ManualClock(T) });
    cleanup.push(() => sim.close());
    const answer = renderSerialLine(compileSerialProfile(genericScpi), scpiTrace.at(T)); // e.g. +1.21040E+03
    const r = await jishi(['probe', 'generic-scpi', `serial://${pair.a}?baud=9600`, '--raw']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(''); // a polled device: one read, no waiting
    expect(r.stdout).toMatch(new RegExp(`power_w\\s+${Number(answer)}\\s+W`));
    expect(r.stdout).toContain('raw:\n  > MEAS:POW?\\n\n  < ' + answer + '\n');
    const json = await jishi(['probe', 'generic-scpi', `serial://${pair.a}`, '--json', '--raw']);
    expect(json.code, json.stderr).toBe(0);
    const body = JSON.parse(json.stdout) as { readings: Record<string, number>; raw: Array<{ request: string; data: string }> };
    expect(body.readings.power_w).toBe(Number(answer));
    expect(body.raw).toEqual([{ request: 'MEAS:POW?\\n', data: answer }]);
  });

  it('query: a silent instrument fails at once with the timeout, naming the command', async () => {
    const pair = await startPtyPair();
    cleanup.push(() => pair.close());
    const r = await jishi(['probe', 'generic-scpi', `serial://${pair.a}?timeout=300`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^jishi: generic-scpi at serial:\/\/[^ ]+: no answer to "MEAS:POW\?\\n" within 300 ms\n$/);
  });

  it('listen (generic-status-line): waits for the first line the instrument prints, shows it with --raw', async () => {
    const pair = await startPtyPair();
    cleanup.push(() => pair.close());
    const lineTrace = createTrace(DEMO_TRACES.sequencer, { seed: 6, epochMs: T });
    lineTrace.forceState('active', 0);
    const sim = await startSerialInstrument({ path: pair.b, profile: genericStatusLine, trace: lineTrace, clock: systemClock, intervalMs: 300 });
    cleanup.push(() => sim.close());
    const r = await jishi(['probe', 'generic-status-line', `serial://${pair.a}`, '--raw', '--wait', '10']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/waiting up to 10 s for generic-status-line on serial:\/\//);
    expect(r.stdout).toContain('status: active: RUN');
    expect(r.stdout).toMatch(/power_w\s+\d/);
    expect(r.stdout).toMatch(/raw:\n  < STATUS RUN P=\d+\.\d\n/);
  });
});
