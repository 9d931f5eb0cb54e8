/**
 * RTU over TCP: the Modbus TCP driver with framing=rtu against the RTU-over-TCP simulator (RTU frames with CRC on a
 * plain socket, as a serial device server in transparent mode), the simulator's RTU framing seen from a raw socket,
 * and the request options (pauseMs, oneRequestPerField, maxRegisters) of the plain Modbus TCP driver.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, systemClock, type Clock } from '../common/clock.ts';
import { silentLogger } from '../common/log.ts';
import { ModbusTcpDriver, type ModbusTcpDriverOptions } from '../agent/drivers/modbus-tcp.ts';
import { sdm120 } from '../devices/eastron/sdm120.ts';
import { hasValidCrc, withCrc } from '../devices/modbus-crc.ts';
import type { ModbusProfile } from '../devices/profile.ts';
import { INTER_FRAME_SILENCE_MS, startModbusRtuOverTcpSimulator, type ModbusRtuOverTcpSimulator } from '../devices/simulators/modbus-rtu.ts';
import { startModbusTcpSimulator, type SimulatedRequest } from '../devices/simulators/modbus-tcp.ts';
import { createTrace, DEMO_TRACES, type Trace } from '../devices/traces.ts';
import { deviceError } from './helpers/device-error.ts';
import { RecordingClock } from './helpers/recording-clock.ts';
import { expectTrace, tcpTransport } from './helpers/trace-readings.ts';
import { until } from './helpers/wait.ts';

const EPOCH = Date.UTC(2025, 0, 6, 9, 30, 0);
const cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const transport = tcpTransport;

function driverFor(url: string, options: Omit<ModbusTcpDriverOptions, 'transport' | 'profile'> & { profile?: ModbusProfile } = {}, clock: Clock = systemClock) {
  const d = new ModbusTcpDriver({ profile: sdm120, ...options, transport: transport(url) }, { clock, logger: silentLogger() });
  cleanup.push(() => d.close());
  return d;
}

const TRACES = { 1: 'flow-cytometer', 2: 'sequencer', 7: 'mass-spectrometer' } as const;

async function rtuSim(clock: ManualClock, seen: SimulatedRequest[] = []): Promise<{ sim: ModbusRtuOverTcpSimulator; traces: Map<number, Trace> }> {
  const traces = new Map(Object.entries(TRACES).map(([unit, id]) => [Number(unit), createTrace(DEMO_TRACES[id], { seed: Number(unit), epochMs: EPOCH })]));
  const sim = await startModbusRtuOverTcpSimulator({
    port: 0,
    clock,
    devices: [...traces].map(([unit, trace]) => ({ unit, profile: sdm120, trace })),
    onRequest: (r) => seen.push(r),
  });
  cleanup.push(() => sim.close());
  for (const unit of traces.keys()) sim.setState(unit, 'active');
  return { sim, traces };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** A raw TCP client that collects what the simulator sends back. */
async function rawClient(sim: ModbusRtuOverTcpSimulator): Promise<{ socket: net.Socket; received: () => Buffer }> {
  const socket = net.connect({ host: sim.host, port: sim.port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  let got = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
  cleanup.push(async () => {
    socket.destroy();
  });
  return { socket, received: () => got };
}

const readFrame = (unit: number, fn: number, address: number, count: number): Buffer =>
  withCrc(Uint8Array.from([unit, fn, address >> 8, address & 0xff, count >> 8, count & 0xff]));

describe('ModbusTcpDriver with framing=rtu (RTU over TCP)', () => {
  it('reads every SDM120 field of several units over RTU frames', async () => {
    const clock = new ManualClock(EPOCH + 3_600_000);
    const seen: SimulatedRequest[] = [];
    const { sim, traces } = await rtuSim(clock, seen);
    expect(sim.url(2)).toBe(`modbus-tcp://127.0.0.1:${sim.port}?unit=2&framing=rtu`);
    expect(transport(sim.url(2))).toMatchObject({ framing: 'rtu', unit: 2, port: sim.port });
    const drivers = [1, 2, 7].map((unit) => driverFor(sim.url(unit)));
    expect(drivers[0]!.target).toBe(sim.url(1));
    const results = await Promise.all(drivers.map((d) => d.read()));
    [1, 2, 7].forEach((unit, i) => expectTrace(results[i]!.readings, traces.get(unit)!, clock.now()));
    expect(seen).toHaveLength(3 * 7);
    for (const d of drivers) expect(d.stats()).toEqual({ connected: true, reconnects: 0 });

    const raw = await drivers[0]!.read({ raw: true });
    expect(raw.raw?.map((f) => f.request)).toContain('fn 4 0x000c+2');
  });

  it('names exceptions, times out on a silent unit and reconnects after the timeout', async () => {
    const clock = new ManualClock(EPOCH);
    const { sim, traces } = await rtuSim(clock);
    const offByOne: ModbusProfile = { ...sdm120, id: 'test-off-by-one', fields: [{ ...sdm120.fields[0]!, address: 0x0200 }] };
    const exc = await deviceError(driverFor(sim.url(1), { profile: offByOne }).read());
    expect(exc.code).toBe('JISHI_ERR_DEVICE_EXCEPTION');
    expect(exc.message).toMatch(/Modbus exception 2 ILLEGAL DATA ADDRESS/);

    // a transparent serial server passes the bus through: an absent unit is silence, not exception 0x0B
    const absent = await deviceError(driverFor(`${sim.url(9)}&timeout=150`).read());
    expect(absent.code).toBe('JISHI_ERR_DEVICE_TIMEOUT');

    const driver = driverFor(`${sim.url(2)}&timeout=150`);
    await driver.read();
    sim.setOffline(2);
    expect((await deviceError(driver.read())).code).toBe('JISHI_ERR_DEVICE_TIMEOUT');
    // no transaction id in RTU: after a timeout the connection is dropped so a late answer cannot be misread
    expect(driver.stats().connected).toBe(false);
    sim.setOffline(2, false);
    expectTrace((await driver.read()).readings, traces.get(2)!, clock.now());
    expect(driver.stats()).toEqual({ connected: true, reconnects: 1 });
  });

  it('reports UNREACHABLE when the server goes away', async () => {
    const { sim } = await rtuSim(new ManualClock(EPOCH));
    const driver = driverFor(sim.url(1));
    await driver.read();
    await sim.close();
    expect((await deviceError(driver.read())).code).toBe('JISHI_ERR_DEVICE_UNREACHABLE');
  });
});

describe('RTU-over-TCP simulator framing', () => {
  it('answers a read with a CRC-checked frame, also when the request arrives in pieces', async () => {
    const clock = new ManualClock(EPOCH + 3_600_000);
    const { sim } = await rtuSim(clock);
    const c = await rawClient(sim);
    const req = readFrame(1, 4, 0x0c, 2);
    c.socket.write(req.subarray(0, 3));
    await new Promise((resolve) => setTimeout(resolve, 5)); // well within the inter-frame silence
    expect(c.received()).toHaveLength(0);
    c.socket.write(req.subarray(3));
    await until('the answer', () => c.received().length >= 9, 2000, 5);
    const answer = c.received();
    expect([...answer.subarray(0, 3)]).toEqual([1, 4, 4]);
    expect(answer).toHaveLength(9);
    expect(hasValidCrc(answer)).toBe(true);
  });

  it('discards the start of a frame after a silence, as a slave resynchronizes on the inter-frame gap', async () => {
    const { sim } = await rtuSim(new ManualClock(EPOCH));
    const c = await rawClient(sim);
    c.socket.write(readFrame(1, 4, 0x00, 2).subarray(0, 5));
    await new Promise((resolve) => setTimeout(resolve, INTER_FRAME_SILENCE_MS * 3));
    c.socket.write(readFrame(7, 4, 0x46, 2));
    await until('the answer', () => c.received().length >= 9, 2000, 5);
    await settle();
    expect(c.received()).toHaveLength(9);
    expect(c.received()[0]).toBe(7);
  });

  it('drops a frame with a bad CRC silently and answers the next good one', async () => {
    const { sim } = await rtuSim(new ManualClock(EPOCH));
    const c = await rawClient(sim);
    const bad = readFrame(1, 4, 0x00, 2);
    bad[7] = bad[7]! ^ 0xff;
    c.socket.write(Buffer.concat([bad, readFrame(2, 4, 0x46, 2)]));
    await until('one answer', () => c.received().length >= 9, 2000, 5);
    await settle();
    expect(c.received()).toHaveLength(9);
    expect(c.received()[0]).toBe(2);
  });

  it('stays silent for absent units and broadcasts, and answers other functions with exception 1', async () => {
    const { sim } = await rtuSim(new ManualClock(EPOCH));
    const c = await rawClient(sim);
    c.socket.write(readFrame(9, 4, 0, 2));
    c.socket.write(readFrame(0, 4, 0, 2));
    await settle();
    expect(c.received()).toHaveLength(0);
    // write single register (fn 6) to unit 7: illegal function
    c.socket.write(withCrc(Uint8Array.from([7, 6, 0, 1, 0, 5])));
    await until('the exception', () => c.received().length >= 5, 2000, 5);
    expect([...c.received().subarray(0, 3)]).toEqual([7, 0x86, 0x01]);
    expect(hasValidCrc(c.received())).toBe(true);
    // more than 125 registers: exception 3; a range without a field: exception 2
    c.socket.write(readFrame(7, 4, 0, 126));
    await until('exception 3', () => c.received().length >= 10, 2000, 5);
    expect([...c.received().subarray(5, 8)]).toEqual([7, 0x84, 0x03]);
    c.socket.write(readFrame(7, 3, 0, 2));
    await until('exception 2', () => c.received().length >= 15, 2000, 5);
    expect([...c.received().subarray(10, 13)]).toEqual([7, 0x83, 0x02]);
    // an offline unit is silent too
    sim.setOffline(7);
    c.socket.write(readFrame(7, 4, 0, 2));
    await settle();
    expect(c.received()).toHaveLength(15);
  });
});

describe('ModbusTcpDriver request options', () => {
  async function tcpSim(clock: ManualClock, seen: SimulatedRequest[] = []) {
    const trace = createTrace(DEMO_TRACES['flow-cytometer'], { seed: 3, epochMs: EPOCH });
    const sim = await startModbusTcpSimulator({ port: 0, clock, devices: [{ unit: 1, profile: sdm120, trace }], onRequest: (r) => seen.push(r) });
    cleanup.push(() => sim.close());
    sim.setState(1, 'active');
    return { sim, seen, trace };
  }

  it('oneRequestPerField, maxRegisters and maxGap change the requests; the profile sets defaults', async () => {
    const clock = new ManualClock(EPOCH + 3_600_000);
    const { sim, seen, trace } = await tcpSim(clock);
    const count = async (options: Omit<ModbusTcpDriverOptions, 'transport' | 'profile'> & { profile?: ModbusProfile }) => {
      const before = seen.length;
      expectTrace((await driverFor(sim.url(1), options).read()).readings, trace, clock.now());
      return seen.slice(before).map((q) => [q.address, q.count]);
    };
    expect(await count({})).toHaveLength(7);
    expect(await count({ request: { oneRequestPerField: true } })).toHaveLength(sdm120.fields.length);
    expect(await count({ request: { maxGap: 100 } })).toEqual([[0, 76]]);
    expect(await count({ request: { maxGap: 100, maxRegisters: 40 } })).toEqual([
      [0, 32],
      [70, 6],
    ]);
    // the top-level PlanOptions still work; `request` wins over them
    expect(await count({ maxGap: 100 })).toEqual([[0, 76]]);
    expect(await count({ maxGap: 100, request: { oneRequestPerField: true } })).toHaveLength(sdm120.fields.length);
    expect(await count({ maxGap: 100, request: { maxGap: 0 } })).toHaveLength(7);
    const fussy: ModbusProfile = { ...sdm120, id: 'test-fussy', request: { oneRequestPerField: true } };
    expect(await count({ profile: fussy })).toHaveLength(sdm120.fields.length);
    expect(await count({ profile: fussy, request: { oneRequestPerField: false } })).toHaveLength(7);
  });

  it('pauses pauseMs on the driver clock between requests, over Modbus TCP and RTU over TCP', async () => {
    for (const framing of ['tcp', 'rtu'] as const) {
      const clock = new RecordingClock(EPOCH + 3_600_000);
      const got: SimulatedRequest[] = [];
      const url = framing === 'tcp' ? (await tcpSim(clock, got)).sim.url(1) : (await rtuSim(clock, got)).sim.url(1);
      const three: ModbusProfile = { ...sdm120, id: 'test-three', fields: sdm120.fields.slice(0, 3) };
      const driver = driverFor(url, { profile: three, request: { pauseMs: 25, oneRequestPerField: true } }, clock);
      const reading = driver.read();
      await until('the first request', () => got.length === 1, 2000, 5);
      await until('the pause', () => clock.delays.includes(25), 2000, 5);
      await settle();
      expect(got).toHaveLength(1);
      clock.advance(24);
      await settle();
      expect(got).toHaveLength(1);
      clock.advance(1);
      await until('the second request', () => got.length === 2, 2000, 5);
      await until('the second pause', () => clock.delays.filter((ms) => ms === 25).length === 2, 2000, 5);
      clock.advance(25);
      const { readings } = await reading;
      expect(Object.keys(readings).sort()).toEqual(['current_a', 'power_w', 'voltage_v']);
      expect(got.map((q) => q.address)).toEqual([0x00, 0x06, 0x0c]);
    }
  });
});
