/**
 * The serial driver against the serial instrument simulator over REAL serial lines: socat pty pairs, the driver
 * on one end (serialport), the simulated instrument on the other. Covers every serial profile, timeouts, NAK,
 * undecodable answers, stale listen lines, stale input after a timeout, and a cable pulled and plugged back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SerialDriver, type SerialDriverOptions } from '../agent/drivers/serial.ts';
import { ManualClock, systemClock, type Clock } from '../common/clock.ts';
import { silentLogger } from '../common/log.ts';
import { parseTransportUrl, type SerialTransport } from '../common/transport-url.ts';
import { genericScpi } from '../devices/generic/scpi.ts';
import { genericStatusLine } from '../devices/generic/status-line.ts';
import { mettlerMtSics } from '../devices/mettler/mt-sics.ts';
import { pfeifferTpg26x } from '../devices/pfeiffer/tpg26x.ts';
import type { SerialProfile } from '../devices/profile.ts';
import { startSerialInstrument, type SerialInstrument } from '../devices/simulators/serial-instrument.ts';
import { createTrace, DEMO_TRACES, type Trace, type TraceReading } from '../devices/traces.ts';
import { deviceError } from './helpers/device-error.ts';
import { requireOrSkip } from './helpers/require-tool.ts';
import { socatAvailable, startPtyPair, type PtyPair } from './helpers/socat.ts';
import { until } from './helpers/wait.ts';

const EPOCH = Date.UTC(2025, 0, 6, 9, 30, 0);
const PROFILES: readonly SerialProfile[] = [genericScpi, genericStatusLine, pfeifferTpg26x, mettlerMtSics];
const cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function transport(path: string, timeoutMs = 500): SerialTransport {
  const parsed = parseTransportUrl(`serial://${path}?baud=9600&timeout=${timeoutMs}`);
  if (!parsed.ok || parsed.transport.kind !== 'serial') throw new Error(`bad test path ${path}`);
  return parsed.transport;
}

async function pair(): Promise<PtyPair> {
  const p = await startPtyPair();
  cleanup.push(() => p.close());
  return p;
}

function driver(options: Omit<SerialDriverOptions, 'transport'> & { path: string; timeoutMs?: number }, clock: Clock = systemClock): SerialDriver {
  const { path, timeoutMs, ...rest } = options;
  const d = new SerialDriver({ watchIntervalMs: 100, retryMinMs: 100, retryMaxMs: 400, ...rest, transport: transport(path, timeoutMs) }, { clock, logger: silentLogger() });
  cleanup.push(() => d.close());
  return d;
}

function trace(seed = 3): Trace {
  return createTrace(DEMO_TRACES['flow-cytometer'], { seed, epochMs: EPOCH });
}

async function instrument(path: string, profile: SerialProfile, t: Trace, clock: Clock = systemClock, intervalMs = 50): Promise<SerialInstrument> {
  const sim = await startSerialInstrument({ path, profile, trace: t, clock, intervalMs });
  cleanup.push(() => sim.close());
  return sim;
}

/** What a profile's fields read for a trace reading, with the resolution the simulator writes them at. */
function expected(profile: SerialProfile, reading: TraceReading): Array<{ field: string; value: number; tolerance: number }> {
  return profile.fields.map((f) => {
    const hint = profile.simulate?.values?.[f.field];
    const value = (reading as unknown as Record<string, number>)[hint?.from ?? f.field]! * (hint?.scale ?? 1);
    const format = hint?.format;
    const tolerance =
      format?.style === 'fixed'
        ? 0.5 * 10 ** -format.digits * Math.abs(f.scale ?? 1) + 1e-9
        : Math.abs(value) * 0.5 * 10 ** -(format?.digits ?? 5) + 1e-12;
    return { field: f.field, value, tolerance };
  });
}

/** The status each profile reports for a trace forced into `active`. */
const ACTIVE_STATUS: Record<string, string | undefined> = {
  'generic-scpi': undefined,
  'generic-status-line': 'active: RUN',
  'pfeiffer-tpg26x': '0',
  'mettler-mt-sics': 'active: D',
};

describe.skipIf(requireOrSkip('socat', socatAvailable()))('SerialDriver over socat pty pairs', () => {
  describe.each(PROFILES.map((p) => [p.id, p] as const))('%s through the simulator', (_id, profile) => {
    it('reads the values of the trace', async () => {
      const clock = new ManualClock(EPOCH + 100_000);
      const t = trace();
      const line = await pair();
      const d = driver({ profile, path: line.a, timeoutMs: 1000 });
      await d.open();
      const sim = await instrument(line.b, profile, t, clock);
      sim.setState('active');
      const result = await d.read();
      const reading = t.at(clock.now());
      expect(reading.state).toBe('active');
      for (const e of expected(profile, reading)) {
        expect(result.readings[e.field], e.field).toBeDefined();
        expect(Math.abs(result.readings[e.field]! - e.value), `${e.field}: ${result.readings[e.field]} vs ${e.value}`).toBeLessThanOrEqual(e.tolerance);
      }
      expect(Object.keys(result.readings).sort()).toEqual(profile.fields.map((f) => f.field).sort());
      expect(result.status).toBe(ACTIVE_STATUS[profile.id]);
      expect(d.stats()).toMatchObject({ connected: true, reconnects: 0 });
    });
  });

  it('query: returns the raw exchange of a handshake (ACK, ENQ) with read({ raw: true })', async () => {
    const clock = new ManualClock(EPOCH + 100_000);
    const line = await pair();
    const d = driver({ profile: pfeifferTpg26x, path: line.a });
    await instrument(line.b, pfeifferTpg26x, trace(), clock);
    const result = await d.read({ raw: true });
    expect(result.raw).toHaveLength(2);
    expect(result.raw![0]).toEqual({ request: 'PR1\\r\\n', data: '\x06' });
    expect(result.raw![1]!.request).toBe('\\x05');
    expect(result.raw![1]!.data).toMatch(/^\d,\d\.\d{4}E[+-]\d\d$/);
  });

  it('query: a silent instrument times out (DEVICE_TIMEOUT), then the driver recovers', async () => {
    const line = await pair();
    const d = driver({ profile: genericScpi, path: line.a, timeoutMs: 150 });
    const sim = await instrument(line.b, genericScpi, trace());
    sim.setSilent(true);
    const err = await deviceError(d.read());
    expect(err.code).toBe('JISHI_ERR_DEVICE_TIMEOUT');
    expect(err.message).toContain('MEAS:POW?');
    sim.setSilent(false);
    const result = await d.read();
    expect(result.readings.power_w).toBeGreaterThanOrEqual(0);
    expect(d.stats().reconnects).toBe(0);
  });

  it('query: a late answer to a timed-out exchange is not taken for the next answer', async () => {
    const line = await pair();
    const d = driver({ profile: genericScpi, path: line.a, timeoutMs: 150 });
    const sim = await instrument(line.b, genericScpi, trace());
    sim.setAnswer('+1.00000E+02');
    sim.setDelay(300);
    expect((await deviceError(d.read())).code).toBe('JISHI_ERR_DEVICE_TIMEOUT');
    await new Promise((r) => setTimeout(r, 500)); // the late answer (written 300 ms after the request) waits in the buffers
    sim.setDelay(0);
    sim.setAnswer('+2.00000E+02');
    expect((await d.read()).readings.power_w).toBe(200);
  });

  it('query: a NAK to the handshake is DEVICE_EXCEPTION naming what was expected', async () => {
    const line = await pair();
    const d = driver({ profile: pfeifferTpg26x, path: line.a });
    const sim = await instrument(line.b, pfeifferTpg26x, trace());
    sim.setState('standby'); // status 0: the pressure is read
    sim.nak(true);
    const err = await deviceError(d.read());
    expect(err.code).toBe('JISHI_ERR_DEVICE_EXCEPTION');
    expect(err.message).toContain('NAK (0x15)');
    expect(err.message).toContain('PR1\\r\\n');
    expect(err.message).toContain('\\x06');
    sim.nak(false);
    expect((await d.read()).readings.pressure_hpa).toBeGreaterThanOrEqual(0);
  });

  it('query: a NAK in place of the answer is DEVICE_EXCEPTION too', async () => {
    const line = await pair();
    const d = driver({ profile: genericScpi, path: line.a });
    const sim = await instrument(line.b, genericScpi, trace());
    sim.nak(true);
    expect((await deviceError(d.read())).code).toBe('JISHI_ERR_DEVICE_EXCEPTION');
  });

  it('query: a garbage answer is DEVICE_DECODE quoting the line; an NR3 overflow too', async () => {
    const line = await pair();
    const d = driver({ profile: genericScpi, path: line.a });
    const sim = await instrument(line.b, genericScpi, trace());
    sim.setAnswer('*garbage*');
    const err = await deviceError(d.read());
    expect(err.code).toBe('JISHI_ERR_DEVICE_DECODE');
    expect(err.message).toContain('"*garbage*"');
    sim.setAnswer('9.91E+37');
    expect((await deviceError(d.read())).code).toBe('JISHI_ERR_DEVICE_DECODE');
    sim.setAnswer(null);
    expect((await d.read()).readings.power_w).toBeGreaterThanOrEqual(0);
  });

  it('listen: holds the latest matched line; non-matching lines are counted, not errors; stale -> DEVICE_TIMEOUT', async () => {
    const clock = new ManualClock(EPOCH);
    const line = await pair();
    const d = driver({ profile: genericStatusLine, path: line.a, staleAfterS: 60 }, clock);
    await d.open();
    const sim = await instrument(line.b, genericStatusLine, trace(), systemClock, 20);
    sim.setState('standby');
    await until('a standby line', async () => (await d.read()).status === 'standby: READY');
    sim.setAnswer('noise that matches nothing');
    await until('unmatched lines counted', () => d.stats().unmatchedLines >= 3);
    expect((await d.read()).status).toBe('standby: READY'); // still held
    sim.setSilent(true);
    clock.advance(61_000);
    const err = await deviceError(d.read());
    expect(err.code).toBe('JISHI_ERR_DEVICE_TIMEOUT');
    expect(err.message).toMatch(/61 s old/);
    sim.setAnswer(null);
    sim.setState('fault');
    sim.setSilent(false);
    await until('a fresh line', async () => (await d.read()).status === 'ERR 12');
  });

  it('listen: nothing matched yet -> DEVICE_TIMEOUT after the transport timeout', async () => {
    const line = await pair();
    const d = driver({ profile: genericStatusLine, path: line.a, timeoutMs: 100 });
    const sim = await startSerialInstrument({ path: line.b, profile: genericStatusLine, trace: trace(), intervalMs: 20, answer: 'garbage' });
    cleanup.push(() => sim.close());
    const err = await deviceError(d.read());
    expect(err.code).toBe('JISHI_ERR_DEVICE_TIMEOUT');
    expect(err.message).toContain('did not match');
  });

  it('a port that cannot be opened is DEVICE_UNREACHABLE; close() never rejects; a closed driver refuses reads', async () => {
    const d = driver({ profile: genericScpi, path: '/nonexistent/ttyUSB9' });
    const err = await deviceError(d.read());
    expect(err.code).toBe('JISHI_ERR_DEVICE_UNREACHABLE');
    expect(err.message).toContain('/nonexistent/ttyUSB9');
    const listen = driver({ profile: genericStatusLine, path: '/nonexistent/ttyUSB9' });
    expect((await deviceError(listen.read())).code).toBe('JISHI_ERR_DEVICE_UNREACHABLE');
    await expect(d.close()).resolves.toBeUndefined();
    await expect(listen.close()).resolves.toBeUndefined();
    expect((await deviceError(d.read())).code).toBe('JISHI_ERR_DEVICE_UNREACHABLE');
  });

  it('rejects an invalid profile at construction', () => {
    const bad: SerialProfile = { ...genericScpi, template: 'no placeholder' };
    expect(() => new SerialDriver({ profile: bad, transport: transport('/dev/null') }, { clock: systemClock, logger: silentLogger() })).toThrow(/placeholder/);
  });

  it('query: survives the cable being pulled and plugged back (same driver)', async () => {
    const line = await pair();
    const t = trace();
    const d = driver({ profile: genericScpi, path: line.a, timeoutMs: 200 });
    const sim = await instrument(line.b, genericScpi, t);
    await d.read();
    await line.pull();
    await sim.close();
    const err = await deviceError(d.read());
    expect(['JISHI_ERR_DEVICE_UNREACHABLE', 'JISHI_ERR_DEVICE_TIMEOUT']).toContain(err.code);
    expect((await deviceError(d.read())).code).toBe('JISHI_ERR_DEVICE_UNREACHABLE');
    expect(d.stats().connected).toBe(false);
    await line.plug();
    await instrument(line.b, genericScpi, t);
    const result = await until('a read after plugging back', () => d.read().catch(() => undefined), 5000);
    expect(result.readings.power_w).toBeGreaterThanOrEqual(0);
    expect(d.stats()).toMatchObject({ connected: true });
    expect(d.stats().reconnects).toBeGreaterThanOrEqual(1);
  });

  it('listen: survives the cable being pulled and plugged back (background reconnect)', async () => {
    const line = await pair();
    const t = trace();
    const d = driver({ profile: genericStatusLine, path: line.a, timeoutMs: 200 });
    const sim = await instrument(line.b, genericStatusLine, t, systemClock, 20);
    await until('a first line', () => d.read().catch(() => undefined));
    await line.pull();
    await sim.close();
    // The watchdog notices without any read.
    await until('the lost port noticed', () => !d.stats().connected, 3000);
    const err = await deviceError(d.read());
    expect(['JISHI_ERR_DEVICE_UNREACHABLE', 'JISHI_ERR_DEVICE_TIMEOUT']).toContain(err.code);
    await line.plug();
    await instrument(line.b, genericStatusLine, t, systemClock, 20);
    await until('reopened in the background', () => d.stats().connected, 5000);
    const result = await until('a read after plugging back', () => d.read().catch(() => undefined), 5000);
    expect(result.readings.power_w).toBeGreaterThanOrEqual(0);
    expect(d.stats().reconnects).toBeGreaterThanOrEqual(1);
  });
  it('query: a cable pulled and plugged straight back (same path, maybe the same pty number) is reopened', async () => {
    const line = await pair();
    const t = trace();
    const d = driver({ profile: genericScpi, path: line.a, watchIntervalMs: 0 });
    const sim = await instrument(line.b, genericScpi, t);
    await d.read();
    await line.pull();
    await sim.close();
    await line.plug();
    const sim2 = await instrument(line.b, genericScpi, t);
    sim2.setAnswer('+3.00000E+02');
    expect((await d.read()).readings.power_w).toBe(300);
    expect(d.stats().reconnects).toBe(1);
  });

  it('listen: a cable pulled and plugged straight back is noticed and reopened in the background', async () => {
    const line = await pair();
    const t = trace();
    const d = driver({ profile: genericStatusLine, path: line.a });
    const sim = await instrument(line.b, genericStatusLine, t, systemClock, 20);
    sim.setState('active');
    await until('a first line', async () => (await d.read().catch(() => undefined))?.status === 'active: RUN');
    await line.pull();
    await sim.close();
    await line.plug();
    const sim2 = await instrument(line.b, genericStatusLine, t, systemClock, 20);
    sim2.setState('fault');
    await until('a line from the new instrument', async () => (await d.read().catch(() => undefined))?.status === 'ERR 12', 5000);
    expect(d.stats().reconnects).toBe(1);
  });
});
