/**
 * The Modbus RTU driver on a real serial line: a socat pty pair, the RTU simulator on one end (several SDM120
 * units playing traces), the driver(s) on the other, opened with serialport through modbus-serial.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, systemClock, type Clock } from '../common/clock.ts';
import { JishiError } from '../common/errors.ts';
import { silentLogger } from '../common/log.ts';
import { parseTransportUrl, type ModbusRtuTransport } from '../common/transport-url.ts';
import type { DriverContext } from '../agent/drivers/driver.ts';
import { FifoMutex, ModbusRtuDriver, rtuPortKey } from '../agent/drivers/modbus-rtu.ts';
import { SharedResources } from '../agent/drivers/shared.ts';
import { sdm120 } from '../devices/eastron/sdm120.ts';
import type { ModbusProfile, ModbusRequestOptions } from '../devices/profile.ts';
import { startModbusRtuSimulator, type ModbusRtuSimulator, type SimulatedRequest } from '../devices/simulators/modbus-rtu.ts';
import { createTrace, DEMO_TRACES, type Trace } from '../devices/traces.ts';
import { deviceError } from './helpers/device-error.ts';
import { requireOrSkip } from './helpers/require-tool.ts';
import { socatAvailable, startPtyPair, type PtyPair } from './helpers/socat.ts';
import { RecordingClock } from './helpers/recording-clock.ts';
import { expectTrace } from './helpers/trace-readings.ts';
import { until } from './helpers/wait.ts';

const EPOCH = Date.UTC(2025, 0, 6, 9, 30, 0);
const TRACE_IDS = ['flow-cytometer', 'sequencer', 'mass-spectrometer', 'confocal-microscope'] as const;
const cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function transport(path: string, unit: number, params = 'timeout=250'): ModbusRtuTransport {
  const parsed = parseTransportUrl(`modbus-rtu://${path}?baud=9600&unit=${unit}&${params}`);
  if (!parsed.ok || parsed.transport.kind !== 'modbus-rtu') throw new Error(`bad test URL: ${JSON.stringify(parsed)}`);
  return parsed.transport;
}

interface Rig {
  pair: PtyPair;
  sim: ModbusRtuSimulator;
  traces: Map<number, Trace>;
  seen: SimulatedRequest[];
  /** Requests that arrived while another one was still unanswered (must stay 0). */
  overlaps: number;
  clock: ManualClock;
  /** Starts the simulator again on the device end (after pair.plug()), with the same units and traces. */
  restart(): Promise<void>;
}

async function rig(units: readonly number[], options: { answerDelayMs?: number; clock?: ManualClock } = {}): Promise<Rig> {
  const pair = await startPtyPair();
  cleanup.push(() => pair.close());
  const clock = options.clock ?? new ManualClock(EPOCH + 3_600_000);
  const traces = new Map(units.map((unit, i) => [unit, createTrace(DEMO_TRACES[TRACE_IDS[i % TRACE_IDS.length]!], { seed: unit, epochMs: EPOCH })]));
  const r: Rig = {
    pair,
    traces,
    clock,
    seen: [],
    overlaps: 0,
    sim: undefined as unknown as ModbusRtuSimulator,
    restart: async () => {
      r.sim = await startModbusRtuSimulator({
        path: pair.b,
        clock,
        devices: [...traces].map(([unit, trace]) => ({ unit, profile: sdm120, trace })),
        ...(options.answerDelayMs !== undefined ? { answerDelayMs: options.answerDelayMs } : {}),
        onRequest: (req) => {
          if (r.sim.inFlight() > 0) r.overlaps++;
          r.seen.push(req);
        },
      });
      const sim = r.sim;
      cleanup.push(() => sim.close());
    },
  };
  await r.restart();
  for (const unit of units) r.sim.setState(unit, 'active');
  return r;
}

function driverFor(
  r: Rig,
  unit: number,
  options: { profile?: ModbusProfile; request?: ModbusRequestOptions; ctx?: Partial<DriverContext>; params?: string } = {},
): ModbusRtuDriver {
  const ctx: DriverContext = { clock: systemClock, logger: silentLogger(), ...options.ctx };
  const d = new ModbusRtuDriver(
    {
      profile: options.profile ?? sdm120,
      transport: transport(r.pair.a, unit, options.params),
      ...(options.request ? { request: options.request } : {}),
    },
    ctx,
  );
  cleanup.push(() => d.close());
  return d;
}

/** Lets pending I/O run (a few event-loop turns), for asserting that something did NOT happen. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('FifoMutex', () => {
  it('runs tasks one at a time in arrival order, also after a failure', async () => {
    const mutex = new FifoMutex();
    const log: string[] = [];
    let running = 0;
    const task = (name: string, fail = false) =>
      mutex.run(async () => {
        running++;
        expect(running).toBe(1);
        log.push(`${name}+`);
        await new Promise((resolve) => setTimeout(resolve, 3));
        log.push(`${name}-`);
        running--;
        if (fail) throw new Error(name);
        return name;
      });
    const results = await Promise.allSettled([task('a'), task('b', true), task('c')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(log).toEqual(['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
    expect(mutex.size).toBe(0);
  });
});

describe.skipIf(requireOrSkip('socat', socatAvailable()))('ModbusRtuDriver on a socat pty pair', () => {
  it('reads and decodes every SDM120 field from the simulated meter', async () => {
    const r = await rig([1]);
    const driver = driverFor(r, 1);
    expect(driver.target).toBe(`modbus-rtu://${r.pair.a}?baud=9600&unit=1`);
    expect(driver.stats()).toEqual({ connected: false, reconnects: 0 });
    const { readings } = await driver.read();
    expectTrace(readings, r.traces.get(1)!, r.clock.now());
    expect(readings.power_w).toBeGreaterThan(0);
    expect(driver.stats()).toEqual({ connected: true, reconnects: 0 });

    r.clock.advance(60_000);
    const raw = await driver.read({ raw: true });
    expectTrace(raw.readings, r.traces.get(1)!, r.clock.now());
    expect(raw.raw?.[0]).toEqual({ request: 'fn 4 0x0000+2', data: expect.any(Array) });
    expect(raw.raw).toHaveLength(r.seen.length / 2);
  });

  it('shares one port between three units: requests never overlap on the bus, every unit reads right', async () => {
    const r = await rig([1, 2, 7], { answerDelayMs: 3 });
    const shared = new SharedResources();
    const drivers = [1, 2, 7].map((unit) => driverFor(r, unit, { ctx: { shared } }));
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(drivers.map((d) => d.read()));
      [1, 2, 7].forEach((unit, i) => expectTrace(results[i]!.readings, r.traces.get(unit)!, r.clock.now()));
      r.clock.advance(10_000);
    }
    expect(shared.keys()).toEqual([rtuPortKey(r.pair.a)]);
    // 7 requests per SDM120 read (maxGap 0), 3 units, 3 rounds, and never two at once
    expect(r.seen).toHaveLength(3 * 3 * 7);
    expect(r.overlaps).toBe(0);
    // the units' requests interleave request by request (FIFO), a read does not hold the bus
    expect(r.seen.slice(0, 6).map((q) => q.unit)).toEqual([1, 2, 7, 1, 2, 7]);
    for (const d of drivers) expect(d.stats()).toEqual({ connected: true, reconnects: 0 });

    await drivers[0]!.close();
    expect(shared.keys()).toHaveLength(1);
    expectTrace((await drivers[1]!.read()).readings, r.traces.get(2)!, r.clock.now());
    await drivers[1]!.close();
    await drivers[2]!.close();
    expect(shared.keys()).toEqual([]);
    // the port is free again: a driver of its own opens it
    expectTrace((await driverFor(r, 7).read()).readings, r.traces.get(7)!, r.clock.now());
  });

  it('a silent unit times out without costing the other units on the port their readings', async () => {
    const r = await rig([1, 2, 7]);
    const shared = new SharedResources();
    const drivers = [1, 2, 7].map((unit) => driverFor(r, unit, { ctx: { shared } }));
    await Promise.all(drivers.map((d) => d.read()));
    r.sim.setOffline(2);
    const round = await Promise.allSettled(drivers.map((d) => d.read()));
    expect(round.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const err = (round[1] as PromiseRejectedResult).reason as JishiError;
    expect(err).toBeInstanceOf(JishiError);
    expect(err.code).toBe('JISHI_ERR_DEVICE_TIMEOUT');
    expect(err.message).toContain('unit 2');
    expectTrace((round[0] as PromiseFulfilledResult<{ readings: Record<string, number> }>).value.readings, r.traces.get(1)!, r.clock.now());
    expectTrace((round[2] as PromiseFulfilledResult<{ readings: Record<string, number> }>).value.readings, r.traces.get(7)!, r.clock.now());
    // a timeout on a serial bus keeps the port: nobody reconnects
    for (const d of drivers) expect(d.stats()).toEqual({ connected: true, reconnects: 0 });

    r.sim.setOffline(2, false);
    const back = await Promise.all(drivers.map((d) => d.read()));
    expectTrace(back[1]!.readings, r.traces.get(2)!, r.clock.now());
    expect(drivers[1]!.stats()).toEqual({ connected: true, reconnects: 0 });
  });

  it('names the Modbus exception a unit answers with, and keeps the port for the others', async () => {
    const r = await rig([1, 2]);
    const shared = new SharedResources();
    const offByOne: ModbusProfile = { ...sdm120, id: 'test-off-by-one', fields: [{ ...sdm120.fields[0]!, address: 0x0200 }] };
    const bad = driverFor(r, 1, { profile: offByOne, ctx: { shared } });
    const good = driverFor(r, 2, { ctx: { shared } });
    const [exc, ok] = await Promise.allSettled([bad.read(), good.read()]);
    const err = (exc as PromiseRejectedResult).reason as JishiError;
    expect(err).toBeInstanceOf(JishiError);
    expect(err.code).toBe('JISHI_ERR_DEVICE_EXCEPTION');
    expect(err.message).toMatch(/illegal data address/i);
    expect(err.message).toMatch(/unit 1 reading fn 4 address 0x0200 count 2/);
    expect(err.details).toMatchObject({ exceptionCode: 2, exception: 'ILLEGAL DATA ADDRESS', unit: 1 });
    expect(ok.status).toBe('fulfilled');
    expect(bad.stats()).toEqual({ connected: true, reconnects: 0 });
    // holding registers of an input-register meter: exception 2 as well
    const holding: ModbusProfile = { ...sdm120, id: 'test-holding', fields: [{ ...sdm120.fields[0]!, fn: 3 }] };
    expect((await deviceError(driverFor(r, 2, { profile: holding, ctx: { shared } }).read())).code).toBe('JISHI_ERR_DEVICE_EXCEPTION');
    expectTrace((await good.read()).readings, r.traces.get(2)!, r.clock.now());
  });

  it('fails with a device error while the cable is pulled and reopens the port once it is back', async () => {
    const r = await rig([1, 2]);
    const shared = new SharedResources();
    const drivers = [1, 2].map((unit) => driverFor(r, unit, { ctx: { shared } }));
    await Promise.all(drivers.map((d) => d.read()));

    await r.pair.pull();
    await r.sim.close();
    const first = await deviceError(drivers[0]!.read());
    expect(first.code).toBe('JISHI_ERR_DEVICE_UNREACHABLE');
    expect(first.message).toContain(r.pair.a);
    await until('the driver to see the port gone', () => !drivers[1]!.stats().connected, 2000, 10);
    const again = await deviceError(drivers[1]!.read());
    expect(again.code).toBe('JISHI_ERR_DEVICE_UNREACHABLE');
    expect(again.message).toContain(r.pair.a);

    await r.pair.plug();
    await r.restart();
    const back = await Promise.all(drivers.map((d) => d.read()));
    expectTrace(back[0]!.readings, r.traces.get(1)!, r.clock.now());
    expectTrace(back[1]!.readings, r.traces.get(2)!, r.clock.now());
    for (const d of drivers) expect(d.stats()).toEqual({ connected: true, reconnects: 1 });
  });

  it('a cable pulled while idle: at most one read fails (UNREACHABLE), then the port is reopened', async () => {
    const r = await rig([1]);
    const driver = driverFor(r, 1);
    await driver.read();
    await r.pair.pull();
    // serialport usually reports the lost pty by itself ('close'), but not always promptly under load: the
    // first read after the cable is back may be the one that finds the old port dead.
    await r.pair.plug();
    await r.restart();
    let readings;
    try {
      readings = (await driver.read()).readings;
    } catch (err) {
      expect((err as JishiError).code).toBe('JISHI_ERR_DEVICE_UNREACHABLE');
      readings = (await driver.read()).readings;
    }
    expectTrace(readings, r.traces.get(1)!, r.clock.now());
    expect(driver.stats()).toEqual({ connected: true, reconnects: 1 });
  });

  it('reports UNREACHABLE for a port that does not exist, and fails after close()', async () => {
    const r = await rig([1]);
    const ghost = new ModbusRtuDriver({ profile: sdm120, transport: transport(`${r.pair.a}-missing`, 1) }, { clock: systemClock, logger: silentLogger() });
    cleanup.push(() => ghost.close());
    const err = await deviceError(ghost.open());
    expect(err.code).toBe('JISHI_ERR_DEVICE_UNREACHABLE');
    expect(err.message).toContain(`${r.pair.a}-missing`);

    const driver = driverFor(r, 1);
    await driver.open();
    expect(driver.stats().connected).toBe(true);
    await driver.close();
    expect(driver.stats().connected).toBe(false);
    expect((await deviceError(driver.read())).code).toBe('JISHI_ERR_DEVICE_UNREACHABLE');
  });

  it('refuses to share a port with different line settings', async () => {
    const r = await rig([1, 2]);
    const shared = new SharedResources();
    await driverFor(r, 1, { ctx: { shared } }).read();
    const other = driverFor(r, 2, { ctx: { shared }, params: 'timeout=250&parity=even' });
    const err = await deviceError(other.read());
    expect(err.code).toBe('JISHI_ERR_DEVICE_UNREACHABLE');
    expect(err.message).toMatch(/already in use at 9600 baud 8N1 .* asks for 9600 baud 8E1/);
  });

  it('request options change how many requests the bus sees', async () => {
    const r = await rig([1]);
    const count = async (options: { profile?: ModbusProfile; request?: ModbusRequestOptions }) => {
      const before = r.seen.length;
      const driver = driverFor(r, 1, options);
      const { readings } = await driver.read();
      expectTrace(readings, r.traces.get(1)!, r.clock.now());
      await driver.close(); // the driver owns the port (no ctx.shared): free it for the next one
      return r.seen.slice(before);
    };
    expect(await count({})).toHaveLength(7); // contiguous ranges only (maxGap 0)
    const perField = await count({ request: { oneRequestPerField: true } });
    expect(perField).toHaveLength(sdm120.fields.length);
    expect(perField.every((q) => q.count === 2)).toBe(true);
    expect((await count({ request: { maxGap: 100 } })).map((q) => [q.address, q.count])).toEqual([[0, 76]]);
    expect((await count({ request: { maxGap: 100, maxRegisters: 40 } })).map((q) => [q.address, q.count])).toEqual([
      [0, 32],
      [70, 6],
    ]);
    // the profile's own options apply, and the instrument's override them
    const fussy: ModbusProfile = { ...sdm120, id: 'test-fussy', request: { oneRequestPerField: true } };
    expect(await count({ profile: fussy })).toHaveLength(sdm120.fields.length);
    expect(await count({ profile: fussy, request: { oneRequestPerField: false } })).toHaveLength(7);
    expect(() => driverFor(r, 1, { request: { maxRegisters: 0 } })).toThrow(/maxRegisters must be an integer from 1 to 125/);
  });

  it('pauses pauseMs on the driver clock between two requests of a read', async () => {
    const clock = new RecordingClock(EPOCH + 3_600_000);
    const r = await rig([1], { clock });
    const three: ModbusProfile = { ...sdm120, id: 'test-three', fields: sdm120.fields.slice(0, 3) };
    const driver = driverFor(r, 1, { profile: three, request: { pauseMs: 40, oneRequestPerField: true }, ctx: { clock: clock as Clock } });
    const reading = driver.read();
    await until('the first request', () => r.seen.length === 1, 2000, 5);
    await until('the pause to be requested', () => clock.delays.includes(40), 2000, 5);
    await settle();
    expect(r.seen).toHaveLength(1); // waiting on the clock, not on wall time
    clock.advance(39);
    await settle();
    expect(r.seen).toHaveLength(1);
    clock.advance(1);
    await until('the second request', () => r.seen.length === 2, 2000, 5);
    await until('the second pause', () => clock.delays.filter((ms) => ms === 40).length === 2, 2000, 5);
    await settle();
    expect(r.seen).toHaveLength(2);
    clock.advance(40);
    const { readings } = await reading;
    expect(r.seen.map((q) => q.address)).toEqual([0x00, 0x06, 0x0c]);
    expect(Object.keys(readings).sort()).toEqual(['current_a', 'power_w', 'voltage_v']);
    // no pause before the first request of the next read
    const next = driver.read();
    await until('the next read to start', () => r.seen.length === 4, 2000, 5);
    // Advance only once the pause is on the clock: an advance before it would be lost.
    await until('its first pause', () => clock.delays.filter((ms) => ms === 40).length === 3, 2000, 5);
    clock.advance(40);
    await until('its second request', () => r.seen.length === 5, 2000, 5);
    await until('its second pause', () => clock.delays.filter((ms) => ms === 40).length === 4, 2000, 5);
    clock.advance(40);
    await next;
  });
});
