/**
 * The Modbus TCP driver against real Modbus TCP servers: the device simulator (SDM120 playing a trace)
 * and, for answers the simulator does not give (late answers), modbus-serial's ServerTCP with a vector of our own.
 */
import { ServerTCP, type FCallbackVal } from 'modbus-serial';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../common/clock.ts';
import { silentLogger } from '../common/log.ts';
import { freePort } from '../common/net.ts';
import { ModbusTcpDriver } from '../agent/drivers/modbus-tcp.ts';
import { modbusExceptionName } from '../agent/drivers/modbus-errors.ts';
import { sdm120 } from '../devices/eastron/sdm120.ts';
import { encodeField } from '../devices/modbus-codec.ts';
import { startModbusTcpSimulator, type ModbusTcpSimulator } from '../devices/simulators/modbus-tcp.ts';
import { createTrace, DEMO_TRACES, type Trace } from '../devices/traces.ts';
import type { ModbusProfile } from '../devices/profile.ts';
import { deviceError } from './helpers/device-error.ts';
import { expectTrace, tcpTransport } from './helpers/trace-readings.ts';

const EPOCH = Date.UTC(2025, 0, 6, 9, 30, 0);
const ctx = { clock: systemClock, logger: silentLogger() };
const cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const transport = tcpTransport;

function driverFor(url: string, profile: ModbusProfile = sdm120): ModbusTcpDriver {
  const d = new ModbusTcpDriver({ profile, transport: transport(url) }, ctx);
  cleanup.push(() => d.close());
  return d;
}

async function simulator(clock: ManualClock, port = 0): Promise<{ sim: ModbusTcpSimulator; trace: Trace }> {
  const trace = createTrace(DEMO_TRACES['flow-cytometer'], { seed: 3, epochMs: EPOCH });
  const sim = await startModbusTcpSimulator({ port, clock, devices: [{ unit: 1, profile: sdm120, trace }] });
  cleanup.push(() => sim.close());
  return { sim, trace };
}

describe('ModbusTcpDriver', () => {
  it('reads and decodes every SDM120 field from the simulator', async () => {
    const clock = new ManualClock(EPOCH + 3_600_000);
    const { sim, trace } = await simulator(clock);
    sim.setState(1, 'active');
    const driver = driverFor(sim.url(1));
    const { readings } = await driver.read();
    expectTrace(readings, trace, clock.now());
    expect(readings.power_w).toBeGreaterThan(0);
    expect(driver.stats()).toEqual({ connected: true, reconnects: 0 });

    clock.advance(60_000);
    const second = await driver.read();
    expect(second.readings.energy_kwh).toBe(Math.fround(trace.at(clock.now()).energy_kwh));
  });

  it('names the Modbus exception the device answers with', async () => {
    const { sim } = await simulator(new ManualClock(EPOCH));
    // unit 9 is not behind the simulated gateway: exception 0x0B
    const err = await deviceError(driverFor(sim.url(9)).read());
    expect(err.code).toBe('JISHI_ERR_DEVICE_EXCEPTION');
    expect(err.message).toContain('GATEWAY TARGET FAILED TO RESPOND');
    expect(err.details).toMatchObject({ exceptionCode: 0x0b, exception: 'GATEWAY TARGET FAILED TO RESPOND', unit: 9 });

    // a register nobody serves: exception 2, with the 0-/1-based hint
    const offByOne: ModbusProfile = { ...sdm120, id: 'test-off-by-one', fields: [{ ...sdm120.fields[0]!, address: 0x0200 }] };
    const driver = driverFor(sim.url(1), offByOne);
    const err2 = await deviceError(driver.read());
    expect(err2.code).toBe('JISHI_ERR_DEVICE_EXCEPTION');
    expect(err2.message).toMatch(/Modbus exception 2 ILLEGAL DATA ADDRESS .*fn 4 address 0x0200 count 2.*1-based/);
    // an exception keeps the connection: the device answered
    expect(driver.stats().connected).toBe(true);
    expect(modbusExceptionName(6)).toBe('SLAVE DEVICE BUSY');
    expect(modbusExceptionName(0x0a)).toBe('GATEWAY PATH UNAVAILABLE');
  });

  it('reports UNREACHABLE while the server is down and recovers after a restart on the same port', async () => {
    const clock = new ManualClock(EPOCH);
    const first = await simulator(clock);
    const port = first.sim.port;
    const driver = driverFor(first.sim.url(1));
    await driver.read();

    await first.sim.close();
    const down = await deviceError(driver.read());
    expect(down.code).toBe('JISHI_ERR_DEVICE_UNREACHABLE');
    const stillDown = await deviceError(driver.read());
    expect(stillDown.code).toBe('JISHI_ERR_DEVICE_UNREACHABLE');
    expect(stillDown.message).toContain(`127.0.0.1:${port}`);
    expect(driver.stats().connected).toBe(false);

    const second = await simulator(clock, port);
    const { readings } = await driver.read();
    expect(readings.voltage_v).toBe(Math.fround(second.trace.at(clock.now()).voltage_v));
    expect(driver.stats()).toEqual({ connected: true, reconnects: 1 });
  });

  it('reports UNREACHABLE when nothing listens', async () => {
    const port = await freePort();
    const err = await deviceError(driverFor(`modbus-tcp://127.0.0.1:${port}?unit=1&timeout=200`).open());
    expect(err.code).toBe('JISHI_ERR_DEVICE_UNREACHABLE');
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('times out on a silent unit, keeps the connection once, drops it after a second timeout in a row', async () => {
    const { sim } = await simulator(new ManualClock(EPOCH));
    const driver = driverFor(`${sim.url(1)}&timeout=150`);
    await driver.read();
    sim.setOffline(1);
    const err = await deviceError(driver.read());
    expect(err.code).toBe('JISHI_ERR_DEVICE_TIMEOUT');
    // Modbus TCP has transaction ids: the connection stays for the other units behind the gateway
    expect(driver.stats().connected).toBe(true);
    // nothing answered since: the gateway itself may be gone (half-open connection), so it is dropped
    expect((await deviceError(driver.read())).code).toBe('JISHI_ERR_DEVICE_TIMEOUT');
    expect(driver.stats().connected).toBe(false);
    sim.setOffline(1, false);
    await expect(driver.read()).resolves.toMatchObject({ readings: { frequency_hz: expect.any(Number) } });
    expect(driver.stats()).toEqual({ connected: true, reconnects: 1 });
  });

  it('does not take a late answer to a timed-out request for a later one', async () => {
    // Power reads 111 W on the first request, answered too late; 222 W afterwards, answered at once.
    const power = sdm120.fields.find((f) => f.field === 'power_w')!;
    const onlyPower: ModbusProfile = { ...sdm120, id: 'test-power', fields: [power] };
    let calls = 0;
    const port = await freePort();
    const server = new ServerTCP(
      {
        getMultipleInputRegisters: (addr: number, len: number, _unit: number, cb: FCallbackVal<number[]>) => {
          const first = calls++ === 0;
          const words = encodeField(power, first ? 111 : 222);
          const answer = (): void => cb(null, addr === power.address && len === 2 ? words : new Array<number>(len).fill(0));
          if (first) setTimeout(answer, 300);
          else answer();
        },
      },
      { host: '127.0.0.1', port },
    );
    server.on('socketError', () => undefined);
    await new Promise<void>((resolve) => server.once('initialized', () => resolve()));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const driver = driverFor(`modbus-tcp://127.0.0.1:${port}?unit=1&timeout=100`, onlyPower);
    expect((await deviceError(driver.read())).code).toBe('JISHI_ERR_DEVICE_TIMEOUT');
    expect((await driver.read()).readings).toEqual({ power_w: 222 });
    await new Promise((r) => setTimeout(r, 300)); // let the late answer arrive, on the same connection
    expect((await driver.read()).readings).toEqual({ power_w: 222 });
    // the connection was kept: the late answer carried the timed-out request's transaction id and was ignored
    expect(driver.stats()).toEqual({ connected: true, reconnects: 0 });
    expect(calls).toBe(3);
  });

  it('rejects reads after close()', async () => {
    const { sim } = await simulator(new ManualClock(EPOCH));
    const driver = driverFor(sim.url(1));
    await driver.read();
    await driver.close();
    expect((await deviceError(driver.read())).code).toBe('JISHI_ERR_DEVICE_UNREACHABLE');
  });
});
