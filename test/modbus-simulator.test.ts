import net from 'node:net';
import ModbusSerial from 'modbus-serial';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock.ts';
import { parseTransportUrl } from '../common/transport-url.ts';
import { sdm120 } from '../devices/eastron/sdm120.ts';
import { decodeRequest, planReads } from '../devices/modbus-codec.ts';
import { startModbusTcpSimulator, type ModbusTcpSimulator, type SimulatedRequest } from '../devices/simulators/modbus-tcp.ts';
import { createTrace, DEMO_TRACES, type Trace } from '../devices/traces.ts';

// modbus-serial is CommonJS: the default import is module.exports, whose `default` is the client class.
const ModbusRTU = ModbusSerial.default;
type ModbusRTU = InstanceType<typeof ModbusRTU>;

const EPOCH = Date.UTC(2025, 0, 6, 8, 0, 0);
const open: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

async function client(sim: ModbusTcpSimulator, unit: number, timeoutMs = 1000): Promise<ModbusRTU> {
  const c = new ModbusRTU();
  await c.connectTCP(sim.host, { port: sim.port });
  c.setID(unit);
  c.setTimeout(timeoutMs);
  open.push({ close: () => new Promise<void>((resolve) => (c.isOpen ? c.close(() => resolve()) : resolve())) });
  return c;
}

async function start(clock: ManualClock, onRequest?: (r: SimulatedRequest) => void) {
  const traces: Record<number, Trace> = {
    1: createTrace(DEMO_TRACES['flow-cytometer'], { seed: 1, epochMs: EPOCH }),
    2: createTrace(DEMO_TRACES.sequencer, { seed: 2, epochMs: EPOCH }),
    7: createTrace(DEMO_TRACES['mass-spectrometer'], { seed: 7, epochMs: EPOCH }),
  };
  const sim = await startModbusTcpSimulator({
    port: 0,
    clock,
    devices: Object.entries(traces).map(([unit, trace]) => ({ unit: Number(unit), profile: sdm120, trace })),
    ...(onRequest ? { onRequest } : {}),
  });
  open.push(sim);
  return { sim, traces };
}

async function readAll(c: ModbusRTU, maxGap = 0): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const req of planReads(sdm120.fields, { maxGap })) {
    const res = await c.readInputRegisters(req.address, req.count);
    Object.assign(out, decodeRequest(req, res.data));
  }
  return out;
}

function expectMatchesTrace(got: Record<string, number>, trace: Trace, at: number): void {
  const want = trace.at(at) as unknown as Record<string, number>;
  for (const f of sdm120.fields) expect(got[f.field], f.field).toBe(Math.fround(want[f.field]!));
}

async function modbusCode(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return (err as { modbusCode?: number; errno?: string }).modbusCode ?? (err as { errno?: string }).errno;
  }
  return 'no error';
}

describe('Modbus TCP simulator', () => {
  it('listens on a free port when asked for port 0 and serves three units from their traces', async () => {
    const clock = new ManualClock(EPOCH + 100_000);
    const { sim, traces } = await start(clock);
    expect(sim.port).toBeGreaterThan(0);
    expect(sim.url(7)).toBe(`modbus-tcp://127.0.0.1:${sim.port}?unit=7`);
    const parsed = parseTransportUrl(sim.url(7));
    expect(parsed).toMatchObject({ ok: true, transport: { kind: 'modbus-tcp', host: '127.0.0.1', port: sim.port, unit: 7 } });

    for (const unit of [1, 2, 7]) {
      const c = await client(sim, unit);
      expectMatchesTrace(await readAll(c), traces[unit]!, clock.now());
      expectMatchesTrace(await readAll(c, 100), traces[unit]!, clock.now());
    }
    const c1 = await client(sim, 1);
    expect((await readAll(c1)).power_w).toBeGreaterThan(400); // 100 s into the cytometer cycle: active
    clock.advance(90_000); // 190 s: 10 s into the next cycle, off
    const off = await readAll(c1);
    expectMatchesTrace(off, traces[1]!, clock.now());
    expect(off.power_w).toBe(0);
  });

  it('answers a single-register read and unmapped registers as 0', async () => {
    const clock = new ManualClock(EPOCH + 100_000);
    const { sim } = await start(clock);
    const c = await client(sim, 2);
    const res = await c.readInputRegisters(0x0c, 1);
    expect(res.data).toHaveLength(1);
    const block = await c.readInputRegisters(0x00, 6); // voltage, then 0x02..0x05 unmapped
    expect(block.data.slice(2)).toEqual([0, 0, 0, 0]);
  });

  it('answers exception 2 for a range with no field, or for holding registers of an input-register meter', async () => {
    const { sim } = await start(new ManualClock(EPOCH));
    const c = await client(sim, 1);
    expect(await modbusCode(c.readInputRegisters(0x100, 2))).toBe(2);
    expect(await modbusCode(c.readHoldingRegisters(0x0c, 2))).toBe(2);
    // the connection still works afterwards
    expect((await c.readInputRegisters(0x0c, 2)).data).toHaveLength(2);
  });

  it('answers exception 0x0B (gateway target failed) for an unknown unit', async () => {
    const { sim } = await start(new ManualClock(EPOCH));
    const c = await client(sim, 3);
    expect(await modbusCode(c.readInputRegisters(0x0c, 2))).toBe(0x0b);
    expect(() => sim.setState(3, 'active')).toThrow(/no simulated device with unit 3/);
  });

  it('lets a unit go silent with setOffline while the others keep answering', async () => {
    const { sim } = await start(new ManualClock(EPOCH));
    sim.setOffline(2);
    const dead = await client(sim, 2, 200);
    expect(await modbusCode(dead.readInputRegisters(0x0c, 2))).toBe('ETIMEDOUT');
    const alive = await client(sim, 7);
    expect((await alive.readInputRegisters(0x0c, 2)).data).toHaveLength(2);
    sim.setOffline(2, false);
    const back = await client(sim, 2);
    expect((await back.readInputRegisters(0x0c, 2)).data).toHaveLength(2);
  });

  it('setState forces a unit into a state from now on', async () => {
    const clock = new ManualClock(EPOCH + 10_000); // cytometer off
    const { sim, traces } = await start(clock);
    const c = await client(sim, 1);
    expect((await readAll(c)).power_w).toBe(0);
    sim.setState(1, 'active');
    expect(traces[1]!.forcedState).toBe('active');
    const active = await readAll(c);
    expect(Math.abs(active.power_w! - 450)).toBeLessThanOrEqual(25);
    clock.advance(3_600_000);
    const later = await readAll(c);
    expect(later.energy_kwh! - active.energy_kwh!).toBeCloseTo(0.45, 2);
    sim.setState(1, null);
    expect(traces[1]!.forcedState).toBeNull();
  });

  it('reports every request it receives', async () => {
    const seen: SimulatedRequest[] = [];
    const { sim } = await start(new ManualClock(EPOCH), (r) => seen.push(r));
    const c = await client(sim, 7);
    await readAll(c, 100);
    expect(seen).toEqual([{ unit: 7, fn: 4, address: 0, count: 0x4c }]);
  });

  it('close() releases the port and drops connected clients', async () => {
    const { sim } = await start(new ManualClock(EPOCH));
    const c = await client(sim, 1);
    const closed = new Promise<void>((resolve) => c.on('close', () => resolve()));
    await sim.close();
    await sim.close(); // idempotent
    await closed;
    // the same port can be bound again right away
    const probe = net.createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen({ host: '127.0.0.1', port: sim.port }, () => resolve());
    });
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });

  it('starts and stops many simulators, also on a fixed port', async () => {
    for (let i = 0; i < 15; i++) {
      const { sim } = await start(new ManualClock(EPOCH));
      const c = await client(sim, 1);
      expect((await c.readInputRegisters(0, 2)).data).toHaveLength(2);
      await new Promise<void>((resolve) => c.close(() => resolve()));
      await sim.close();
    }
    const first = await startModbusTcpSimulator({
      devices: [{ unit: 1, profile: sdm120, trace: createTrace(DEMO_TRACES.sequencer, { seed: 1, epochMs: EPOCH }) }],
    });
    const port = first.port;
    await first.close();
    const fixed = await startModbusTcpSimulator({
      port,
      devices: [{ unit: 1, profile: sdm120, trace: createTrace(DEMO_TRACES.sequencer, { seed: 1, epochMs: EPOCH }) }],
    });
    open.push(fixed);
    expect(fixed.port).toBe(port);
    await expect(
      startModbusTcpSimulator({
        port,
        devices: [{ unit: 1, profile: sdm120, trace: createTrace(DEMO_TRACES.sequencer, { seed: 1, epochMs: EPOCH }) }],
      }),
    ).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
