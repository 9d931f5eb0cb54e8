/**
 * Several Modbus TCP instruments behind one gateway share one connection (ModbusTcpGateway through
 * SharedResources). Against the real simulators (Modbus TCP, RTU over TCP) or modbus-serial's ServerTCP, behind a
 * small TCP proxy that counts the connections, sees every request frame (transaction id, unit) and can cut the
 * connections or hold the answers back.
 */
import net from 'node:net';
import ModbusSerial, { ServerTCP, type FCallbackVal } from 'modbus-serial';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock, systemClock } from '../common/clock.ts';
import { silentLogger } from '../common/log.ts';
import { freePort } from '../common/net.ts';
import { MAX_RETIRED_IDS, ModbusTcpDriver, ModbusTcpGateway, modbusTcpKey } from '../agent/drivers/modbus-tcp.ts';
import { SharedResources } from '../agent/drivers/shared.ts';
import { sdm120 } from '../devices/eastron/sdm120.ts';
import { encodeField } from '../devices/modbus-codec.ts';
import type { ModbusProfile } from '../devices/profile.ts';
import { startModbusRtuOverTcpSimulator } from '../devices/simulators/modbus-rtu.ts';
import { startModbusTcpSimulator, type SimulatedRequest } from '../devices/simulators/modbus-tcp.ts';
import { createTrace, DEMO_TRACES, type Trace } from '../devices/traces.ts';
import { deviceError } from './helpers/device-error.ts';
import { expectTrace, tcpTransport } from './helpers/trace-readings.ts';
import { until } from './helpers/wait.ts';

const EPOCH = Date.UTC(2025, 0, 6, 9, 30, 0);
const cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  vi.restoreAllMocks();
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A request frame the proxy saw going to the gateway. */
interface Frame {
  connection: number;
  /** MBAP transaction id (`tcp` framing only). */
  tx?: number;
  unit: number;
}

interface Proxy {
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections open now. */
  readonly open: number;
  frames: Frame[];
  /** Most requests that were on one connection at a time without an answer (`tcp` framing). */
  readonly maxOutstanding: number;
  /** Holds the gateway's answers back (they are dropped) while true. */
  hold: boolean;
  /** Cuts every open connection. */
  dropAll(): void;
}

/** A TCP proxy in front of a gateway at `targetPort`. */
async function proxy(targetPort: number, framing: 'tcp' | 'rtu' = 'tcp'): Promise<Proxy> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  let maxOutstanding = 0;
  const state: Proxy = {
    port: 0,
    get accepted() {
      return accepted;
    },
    get open() {
      return sockets.size;
    },
    get maxOutstanding() {
      return maxOutstanding;
    },
    frames: [],
    hold: false,
    dropAll: () => {
      for (const s of sockets) s.destroy();
    },
  };
  const server = net.createServer((client) => {
    const connection = ++accepted;
    sockets.add(client);
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    let outstanding = 0;
    let pending = Buffer.alloc(0);
    client.on('data', (d: Buffer) => {
      if (framing === 'tcp') {
        pending = Buffer.concat([pending, d]);
        while (pending.length >= 7 && pending.length >= 6 + pending.readUInt16BE(4)) {
          state.frames.push({ connection, tx: pending.readUInt16BE(0), unit: pending[6]! });
          pending = pending.subarray(6 + pending.readUInt16BE(4));
          maxOutstanding = Math.max(maxOutstanding, ++outstanding);
        }
      } else {
        state.frames.push({ connection, unit: d[0]! });
      }
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (state.hold) return;
      if (framing === 'tcp') {
        for (let at = 0; at + 6 <= d.length; at += 6 + d.readUInt16BE(at + 4)) outstanding--;
      }
      client.write(d);
    });
    const end = (): void => {
      sockets.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  state.port = (server.address() as net.AddressInfo).port;
  cleanup.push(async () => {
    state.dropAll();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return state;
}

const TRACES = { 1: 'flow-cytometer', 2: 'sequencer', 3: 'mass-spectrometer', 7: 'confocal-microscope' } as const;

function traces(): Map<number, Trace> {
  return new Map(Object.entries(TRACES).map(([unit, id]) => [Number(unit), createTrace(DEMO_TRACES[id], { seed: Number(unit), epochMs: EPOCH })]));
}

/** The Modbus TCP simulator with units 1, 2, 3, 7 (each its own trace, all active), behind a proxy. */
async function tcpGateway(clock: ManualClock, seen: SimulatedRequest[] = []) {
  const t = traces();
  const sim = await startModbusTcpSimulator({ port: 0, clock, devices: [...t].map(([unit, trace]) => ({ unit, profile: sdm120, trace })), onRequest: (r) => seen.push(r) });
  cleanup.push(() => sim.close());
  for (const unit of t.keys()) sim.setState(unit, 'active');
  const p = await proxy(sim.port);
  return { sim, proxy: p, traces: t, url: (unit: number, query = '') => `modbus-tcp://127.0.0.1:${p.port}?unit=${unit}${query}` };
}

/** The value of a settled read, failing the test with the error when it was rejected. */
function fulfilled<T>(r: PromiseSettledResult<T> | undefined): T {
  if (r?.status !== 'fulfilled') throw new Error(`read failed: ${String((r as PromiseRejectedResult | undefined)?.reason)}`);
  return r.value;
}

/** The error code of a rejected read (undefined when it was not rejected). */
function rejectedCode(r: PromiseSettledResult<unknown> | undefined): string | undefined {
  return r?.status === 'rejected' ? (r.reason as { code?: string }).code : undefined;
}

function sharedDrivers(urls: string[], options: { shared?: SharedResources; profile?: ModbusProfile } = {}) {
  const shared = options.shared ?? new SharedResources();
  const drivers = urls.map((url) => new ModbusTcpDriver({ profile: options.profile ?? sdm120, transport: tcpTransport(url) }, { clock: systemClock, logger: silentLogger(), shared }));
  cleanup.push(async () => {
    await Promise.all(drivers.map((d) => d.close()));
  });
  return { shared, drivers };
}

describe('Modbus TCP: one connection per gateway', () => {
  it('several instruments share exactly one connection, one request at a time, each reading its own unit', async () => {
    const clock = new ManualClock(EPOCH + 3_600_000);
    const { proxy: p, traces: t, url } = await tcpGateway(clock);
    const units = [1, 2, 3, 7];
    const { shared, drivers } = sharedDrivers(units.map((u) => url(u)));
    for (let round = 0; round < 3; round++) {
      clock.advance(60_000);
      const results = await Promise.all(drivers.map((d) => d.read()));
      units.forEach((unit, i) => expectTrace(results[i]!.readings, t.get(unit)!, clock.now()));
    }
    expect(p.accepted).toBe(1);
    expect(p.open).toBe(1);
    expect(p.maxOutstanding).toBe(1);
    expect(p.frames).toHaveLength(3 * units.length * 7);
    expect(shared.keys()).toEqual([modbusTcpKey({ host: '127.0.0.1', port: p.port, framing: 'tcp' })]);
    for (const d of drivers) expect(d.stats()).toEqual({ connected: true, reconnects: 0 });
  });

  it('keeps no record of answered requests (modbus-serial would hold up to 256 per connection)', async () => {
    const clock = new ManualClock(EPOCH + 3_600_000);
    const { url, proxy: p } = await tcpGateway(clock);
    const { shared, drivers } = sharedDrivers([url(1), url(2)]);
    for (let round = 0; round < 20; round++) await Promise.all(drivers.map((d) => d.read())); // 280 requests
    const lease = shared.acquire(modbusTcpKey({ host: '127.0.0.1', port: p.port, framing: 'tcp' }), () => {
      throw new Error('the gateway should exist');
    }, async () => undefined);
    expect((lease.value as ModbusTcpGateway).trackedTransactions).toBe(0);
    await lease.release();
  });

  it('interleaves the units request by request, first come first served', async () => {
    const clock = new ManualClock(EPOCH);
    const seen: SimulatedRequest[] = [];
    const { url } = await tcpGateway(clock, seen);
    const { drivers } = sharedDrivers([url(1), url(2), url(3)]);
    await Promise.all(drivers.map((d) => d.read()));
    // each read is 7 requests; the queue takes one request per unit in turn
    expect(seen.map((r) => r.unit)).toEqual(Array.from({ length: 7 }, () => [1, 2, 3]).flat());
  });

  it('different gateways, or another framing, get connections of their own; so do drivers without SharedResources', async () => {
    const clock = new ManualClock(EPOCH);
    const a = await tcpGateway(clock);
    const b = await tcpGateway(clock);
    const { shared, drivers } = sharedDrivers([a.url(1), a.url(2), b.url(1), b.url(2)]);
    await Promise.all(drivers.map((d) => d.read()));
    expect([a.proxy.accepted, b.proxy.accepted]).toEqual([1, 1]);
    expect(shared.keys()).toHaveLength(2);
    expect(modbusTcpKey({ host: 'GW.local', port: 502, framing: 'tcp' })).toBe(modbusTcpKey({ host: 'gw.local', port: 502, framing: 'tcp' }));
    expect(modbusTcpKey({ host: 'gw', port: 502, framing: 'tcp' })).not.toBe(modbusTcpKey({ host: 'gw', port: 502, framing: 'rtu' }));

    const alone = [1, 2].map((u) => new ModbusTcpDriver({ profile: sdm120, transport: tcpTransport(a.url(u)) }, { clock: systemClock, logger: silentLogger() }));
    cleanup.push(async () => void (await Promise.all(alone.map((d) => d.close()))));
    await Promise.all(alone.map((d) => d.read()));
    expect(a.proxy.accepted).toBe(3);
  });

  it('a silent unit times out; the other units keep reading on the same connection (tcp framing)', async () => {
    const clock = new ManualClock(EPOCH + 3_600_000);
    const { sim, proxy: p, traces: t, url } = await tcpGateway(clock);
    const { drivers } = sharedDrivers([url(1, '&timeout=150'), url(2, '&timeout=150'), url(3, '&timeout=150')]);
    await Promise.all(drivers.map((d) => d.read()));
    sim.setOffline(2);
    const offlineFrom = p.frames.length;
    for (let round = 0; round < 3; round++) {
      const [one, two, three] = await Promise.allSettled(drivers.map((d) => d.read()));
      expectTrace(fulfilled(one).readings, t.get(1)!, clock.now());
      expectTrace(fulfilled(three).readings, t.get(3)!, clock.now());
      expect(rejectedCode(two)).toBe('JISHI_ERR_DEVICE_TIMEOUT');
    }
    expect(p.accepted).toBe(1);
    expect(drivers.map((d) => d.stats())).toEqual(Array.from({ length: 3 }, () => ({ connected: true, reconnects: 0 })));

    // the timed-out requests' transaction ids are retired: never used again on this connection, so their late
    // answers cannot be taken for another request, even after the 8-bit ids wrapped around
    const retired = new Set(p.frames.slice(offlineFrom).filter((f) => f.unit === 2).map((f) => f.tx!));
    expect(retired.size).toBe(3);
    const before = p.frames.length;
    sim.setOffline(2, false);
    const one = drivers[0]!;
    for (let i = 0; i < 45; i++) await one.read(); // 315 requests
    const later = p.frames.slice(before);
    expect(new Set(later.map((f) => f.tx)).size).toBe(256 - retired.size);
    expect(later.filter((f) => retired.has(f.tx!))).toEqual([]);
    expect(p.accepted).toBe(1);
  });

  it(`renews the connection once ${MAX_RETIRED_IDS} ids are retired, and when the gateway stops answering altogether`, async () => {
    const clock = new ManualClock(EPOCH);
    const { sim, proxy: p, url } = await tcpGateway(clock);
    const onlyPower: ModbusProfile = { ...sdm120, id: 'test-power', fields: sdm120.fields.filter((f) => f.field === 'power_w') };
    const { drivers } = sharedDrivers([url(1, '&timeout=100'), url(2, '&timeout=100')], { profile: onlyPower });
    const [one, two] = drivers as [ModbusTcpDriver, ModbusTcpDriver];
    sim.setOffline(2);
    for (let i = 0; i < MAX_RETIRED_IDS; i++) {
      expect((await deviceError(two.read())).code).toBe('JISHI_ERR_DEVICE_TIMEOUT');
      await one.read(); // an answer between two timeouts: the gateway is alive
    }
    expect(p.accepted).toBe(1);
    expect((await deviceError(two.read())).code).toBe('JISHI_ERR_DEVICE_TIMEOUT');
    await one.read();
    expect(p.accepted).toBe(2);
    expect(one.stats()).toEqual({ connected: true, reconnects: 1 });

    // no answer at all (a hung gateway, a half-open connection): two timeouts in a row drop the connection
    sim.setOffline(1);
    expect((await deviceError(one.read())).code).toBe('JISHI_ERR_DEVICE_TIMEOUT');
    expect(one.stats().connected).toBe(true);
    expect((await deviceError(two.read())).code).toBe('JISHI_ERR_DEVICE_TIMEOUT');
    expect(one.stats().connected).toBe(false);
    sim.setOffline(1, false);
    await one.read();
    expect(p.accepted).toBe(3);
  });

  it('a late answer of a timed-out unit is not taken for another unit', async () => {
    // unit 2 answers 250 ms late with 222 W; unit 1 answers at once with 111 W
    const power = sdm120.fields.find((f) => f.field === 'power_w')!;
    const onlyPower: ModbusProfile = { ...sdm120, id: 'test-power', fields: [power] };
    const port = await freePort();
    let lateAnswers = 0;
    const server = new ServerTCP(
      {
        getMultipleInputRegisters: (addr: number, len: number, unit: number, cb: FCallbackVal<number[]>) => {
          const words = addr === power.address && len === 2 ? encodeField(power, unit === 2 ? 222 : 111) : new Array<number>(len).fill(0);
          if (unit !== 2) cb(null, words);
          else
            setTimeout(() => {
              cb(null, words);
              lateAnswers++;
            }, 250);
        },
      },
      { host: '127.0.0.1', port, unitID: 255 },
    );
    server.on('socketError', () => undefined);
    await new Promise<void>((resolve) => server.once('initialized', () => resolve()));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const p = await proxy(port);
    const { drivers } = sharedDrivers([`modbus-tcp://127.0.0.1:${p.port}?unit=1`, `modbus-tcp://127.0.0.1:${p.port}?unit=2&timeout=100`], { profile: onlyPower });
    const [one, two] = drivers as [ModbusTcpDriver, ModbusTcpDriver];

    expect((await deviceError(two.read())).code).toBe('JISHI_ERR_DEVICE_TIMEOUT');
    // unit 1 reads on while unit 2's answer arrives (about 150 ms after its timeout), and a few times after it
    const readings: number[] = [];
    while (lateAnswers === 0) readings.push((await one.read()).readings.power_w!);
    for (let i = 0; i < 5; i++) readings.push((await one.read()).readings.power_w!);
    expect(readings.length).toBeGreaterThan(6);
    expect(new Set(readings)).toEqual(new Set([111]));
    expect(p.accepted).toBe(1);
    expect(one.stats()).toEqual({ connected: true, reconnects: 0 });
  });

  it('reconnects after the gateway dropped the connection; a request on the wire fails at once', async () => {
    const clock = new ManualClock(EPOCH + 3_600_000);
    const { proxy: p, traces: t, url } = await tcpGateway(clock);
    const { drivers } = sharedDrivers([url(1, '&timeout=10000'), url(3, '&timeout=10000')]);
    await Promise.all(drivers.map((d) => d.read()));

    // dropped while idle: the next reads reconnect (once for both) and succeed
    p.dropAll();
    await until('the drop seen by the drivers', () => drivers.every((d) => !d.stats().connected), 2000, 5);
    const results = await Promise.all(drivers.map((d) => d.read()));
    expectTrace(results[0]!.readings, t.get(1)!, clock.now());
    expectTrace(results[1]!.readings, t.get(3)!, clock.now());
    expect(p.accepted).toBe(2);
    expect(drivers.map((d) => d.stats())).toEqual(Array.from({ length: 2 }, () => ({ connected: true, reconnects: 1 })));

    // dropped with a request on the wire: it fails as UNREACHABLE without waiting for its 10 s timeout
    p.hold = true;
    const reading = drivers[0]!.read();
    const queued = drivers[1]!.read();
    await until('the request on the wire', () => p.frames.length === 2 * 14 + 1, 2000, 5);
    p.hold = false;
    p.dropAll();
    expect((await deviceError(reading)).code).toBe('JISHI_ERR_DEVICE_UNREACHABLE');
    // the other unit's read was queued behind it: it goes out on a new connection
    expectTrace((await queued).readings, t.get(3)!, clock.now());
    expect(p.accepted).toBe(3);
  });

  it('closes the connection when the last driver closes, not before', async () => {
    const { proxy: p, url } = await tcpGateway(new ManualClock(EPOCH));
    const { shared, drivers } = sharedDrivers([url(1), url(2), url(3)]);
    await Promise.all(drivers.map((d) => d.read()));
    await drivers[0]!.close();
    await drivers[1]!.close();
    expect(drivers[0]!.stats().connected).toBe(false);
    expect((await deviceError(drivers[0]!.read())).code).toBe('JISHI_ERR_DEVICE_UNREACHABLE');
    await drivers[2]!.read();
    expect(drivers[2]!.stats().connected).toBe(true);
    expect(p.open).toBe(1);
    await drivers[2]!.close();
    await until('the connection closed', () => p.open === 0, 2000, 5);
    expect(shared.keys()).toEqual([]);
    expect(p.accepted).toBe(1);
  });

  it('a failed connection attempt fails the requests waiting for it, without one attempt each', async () => {
    const ModbusRTU = ModbusSerial.default;
    const connects = vi.spyOn(ModbusRTU.prototype, 'connectTCP');
    const port = await freePort();
    const { drivers } = sharedDrivers([1, 2, 3, 4, 5].map((u) => `modbus-tcp://127.0.0.1:${port}?unit=${u}&timeout=500`));
    const errors = await Promise.all(drivers.map((d) => deviceError(d.read())));
    expect(errors.map((e) => e.code)).toEqual(Array.from({ length: 5 }, () => 'JISHI_ERR_DEVICE_UNREACHABLE'));
    expect(errors.map((e) => (e.details as { unit: number }).unit)).toEqual([1, 2, 3, 4, 5]);
    expect(errors[4]!.message).toContain(`unit 5`);
    expect(connects).toHaveBeenCalledTimes(1);
    // the next poll tries again
    await deviceError(drivers[0]!.read());
    expect(connects).toHaveBeenCalledTimes(2);
  });
});

describe('RTU over TCP: one connection per serial server', () => {
  it('shares the connection; a timeout drops it (no transaction ids) and the other units read on a new one', async () => {
    const clock = new ManualClock(EPOCH + 3_600_000);
    const t = traces();
    const sim = await startModbusRtuOverTcpSimulator({ port: 0, clock, devices: [...t].map(([unit, trace]) => ({ unit, profile: sdm120, trace })) });
    cleanup.push(() => sim.close());
    for (const unit of t.keys()) sim.setState(unit, 'active');
    const p = await proxy(sim.port, 'rtu');
    const url = (unit: number) => `modbus-tcp://127.0.0.1:${p.port}?unit=${unit}&framing=rtu&timeout=150`;
    const { drivers } = sharedDrivers([url(1), url(2), url(7)]);
    const first = await Promise.all(drivers.map((d) => d.read()));
    [1, 2, 7].forEach((unit, i) => expectTrace(first[i]!.readings, t.get(unit)!, clock.now()));
    expect(p.accepted).toBe(1);

    sim.setOffline(2);
    for (let round = 1; round <= 2; round++) {
      const [one, two, seven] = await Promise.allSettled(drivers.map((d) => d.read()));
      expectTrace(fulfilled(one).readings, t.get(1)!, clock.now());
      expectTrace(fulfilled(seven).readings, t.get(7)!, clock.now());
      expect(rejectedCode(two)).toBe('JISHI_ERR_DEVICE_TIMEOUT');
      // each timeout cost one reconnect, nothing else
      expect(p.accepted).toBe(1 + round);
    }
    expect(drivers[0]!.stats()).toEqual({ connected: true, reconnects: 2 });
    await until('one connection open', () => p.open === 1, 2000, 5);
  });
});
