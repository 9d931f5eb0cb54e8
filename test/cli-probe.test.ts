/** `jishi profiles` and `jishi probe` as real processes, against the Modbus TCP simulator. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock.ts';
import { listProfiles } from '../devices/catalog.ts';
import { sdm120 } from '../devices/eastron/sdm120.ts';
import { startModbusTcpSimulator, type ModbusTcpSimulator } from '../devices/simulators/modbus-tcp.ts';
import { createTrace, DEMO_TRACES, type Trace } from '../devices/traces.ts';

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
