/**
 * Catalog-wide driver round trips: every profile of listProfiles() is played by its simulator and read back by the
 * driver createDriver makes for it, from a config-like InstrumentConfig. A profile added to the catalog is tested
 * here without any new test code.
 * - mqtt: a real broker (mosquitto, one for the file), the MQTT simulator publishing the profile from a trace forced
 *   into each state; every field the profile can carry and the trace has equals the trace's value, and the status
 *   is `<state>: <raw>` where the profile's status map covers the state (else an unmapped raw word); a device whose
 *   availability topic says offline is a DEVICE_UNREACHABLE read.
 * - serial: a socat pty pair, the serial instrument simulator; in every state the values read equal the trace's
 *   (at the resolution the simulator writes them), every field is there in `active`, and a state the status map
 *   covers reads as its mapped status.
 * - modbus: one read over Modbus RTU on a pty (every field, at register resolution). The Modbus TCP path is
 *   covered by test/catalog.test.ts.
 */
import { registerResolution } from './helpers/trace-readings.ts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { InstrumentConfig } from '../agent/config.ts';
import { createDriver, type PolledDriver } from '../agent/drivers/index.ts';
import { ManualClock, systemClock } from '../common/clock.ts';
import { JishiError } from '../common/errors.ts';
import { silentLogger } from '../common/log.ts';
import { formatTransport, parseTransportUrl } from '../common/transport-url.ts';
import { listProfiles } from '../devices/catalog.ts';
import {
  DEVICE_STATES,
  mappedStatus,
  profileDefaults,
  profileFields,
  type DeviceProfile,
  type ModbusProfile,
  type MqttProfile,
  type SerialProfile,
  type StatusSource,
} from '../devices/profile.ts';
import { startModbusRtuSimulator } from '../devices/simulators/modbus-rtu.ts';
import { startMqttSimulator } from '../devices/simulators/mqtt.ts';
import { startSerialInstrument } from '../devices/simulators/serial-instrument.ts';
import { createTrace, DEMO_TRACES, TRACE_STATES, type Trace, type TraceReading, type TraceState } from '../devices/traces.ts';
import { mosquittoAvailable, startMosquitto, type RunningMosquitto } from './helpers/mosquitto.ts';
import { requireOrSkip } from './helpers/require-tool.ts';
import { socatAvailable, startPtyPair } from './helpers/socat.ts';
import { until } from './helpers/wait.ts';

const EPOCH = Date.UTC(2025, 0, 6, 9, 30, 0);
/** The instant every simulator plays its trace at (their clocks stand still: each value is known exactly). */
const NOW = EPOCH + 3_600_000;
const ALL = listProfiles();
const MQTT = ALL.filter((p): p is MqttProfile => p.kind === 'mqtt');
const SERIAL = ALL.filter((p): p is SerialProfile => p.kind === 'serial');
const MODBUS = ALL.filter((p): p is ModbusProfile => p.kind === 'modbus' && p.transports.includes('modbus-rtu'));
const TRACE_IDS = Object.keys(DEMO_TRACES) as Array<keyof typeof DEMO_TRACES>;

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A trace per profile (spread over the demo traces and seeds), forced into `state` at NOW when given. */
function traceFor(profile: DeviceProfile, state?: TraceState): Trace {
  const i = ALL.indexOf(profile);
  const trace = createTrace(DEMO_TRACES[TRACE_IDS[i % TRACE_IDS.length]!], { seed: 200 + i, epochMs: EPOCH });
  if (state !== undefined) trace.forceState(state, NOW);
  return trace;
}

/** The driver an agent config would give this profile on this transport URL. */
function driverFor(profile: DeviceProfile, url: string): PolledDriver {
  const parsed = parseTransportUrl(url, profileDefaults(profile));
  if (!parsed.ok) throw new Error(`bad test URL ${url}: ${parsed.errors.join('; ')}`);
  const instrument: InstrumentConfig = {
    id: `test-${profile.id}`,
    profile,
    transport: parsed.transport,
    target: formatTransport(parsed.transport),
    pollIntervalMs: 1000,
  };
  const driver = createDriver(instrument, { clock: systemClock, logger: silentLogger() });
  cleanup.push(() => driver.close());
  return driver;
}

function traceValue(reading: TraceReading, field: string): number | undefined {
  const v = (reading as unknown as Record<string, unknown>)[field];
  return typeof v === 'number' ? v : undefined;
}

/** The raw values a status map gives `state` (keys compared case-insensitively by the drivers). */
function rawsFor(source: StatusSource | undefined, state: TraceState): string[] {
  return Object.entries(source?.map ?? {})
    .filter(([, s]) => s === state)
    .map(([raw]) => raw.toLowerCase());
}

/** Asserts the status read for a device in `state`: mapped when the map covers the state, else a raw word. */
function expectStatus(status: string | undefined, source: StatusSource | undefined, state: TraceState, what: string): void {
  if (source === undefined) return;
  const raws = rawsFor(source, state);
  expect(status, `${what}: status`).toBeDefined();
  if (raws.length > 0) {
    const prefix = mappedStatus(state, '');
    expect(status!.startsWith(prefix), `${what}: status "${status}" should be mapped to ${state}`).toBe(true);
    expect(raws, `${what}: status "${status}" should be a raw value the map gives ${state}`).toContain(status!.slice(prefix.length).toLowerCase());
  } else {
    // Unmapped (a relay that is ON says nothing about the instrument): sent as the raw word, never as a state.
    const mapped = DEVICE_STATES.map((s) => mappedStatus(s, ''));
    expect(mapped.some((m) => status!.startsWith(m)), `${what}: status "${status}" should be unmapped in ${state}`).toBe(false);
  }
}

describe.skipIf(requireOrSkip('mosquitto', mosquittoAvailable()))('every MQTT profile: simulator -> mosquitto -> driver', () => {
  let broker: RunningMosquitto;
  let seq = 0;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  /** Statuses a profile's messages carry (each message may have its own source; all agree for one state). */
  const statusSource = (p: MqttProfile): StatusSource | undefined => p.messages.find((m) => m.status)?.status;

  it('covers every MQTT profile of the catalog', () => {
    expect(MQTT.length).toBeGreaterThan(0);
  });

  describe.each(MQTT.map((p) => ({ id: p.id, profile: p })))('$id', ({ profile }) => {
    it.each([...TRACE_STATES])('%s: every published field equals the trace, the status maps the state', async (state) => {
      const clock = new ManualClock(NOW);
      const trace = traceFor(profile, state);
      const topic = `catalog-${profile.id}-${state}-${process.pid}-${++seq}`;
      const driver = driverFor(profile, `${broker.url}/${encodeURIComponent(topic)}`);
      await driver.open(); // subscribed before the device's first publication
      const sim = await startMqttSimulator({ brokerUrl: broker.url, devices: [{ profile, topic, trace }], clock, intervalMs: 0 });
      cleanup.push(() => sim.close());

      const reading = trace.at(NOW);
      expect(reading.state).toBe(state);
      const want: Record<string, number> = {};
      for (const { field } of profileFields(profile)) {
        const v = traceValue(reading, field);
        if (v !== undefined) want[field] = v;
      }
      expect(Object.keys(want), 'fields the trace can feed').toContain('power_w');
      const source = statusSource(profile);
      // The device publishes several messages (values, relay state): wait until all of them are in.
      const result = await until(
        `${profile.id} read with every field${source ? ' and a status' : ''}`,
        async () => {
          const r = await driver.read({ raw: true }).catch(() => undefined);
          return r && Object.keys(want).every((f) => f in r.readings) && (source === undefined || r.status !== undefined) ? r : undefined;
        },
        5000,
        20,
      );
      expect(Object.keys(result.readings).sort()).toEqual(Object.keys(want).sort());
      for (const [field, value] of Object.entries(want)) {
        const got = result.readings[field]!;
        expect(Math.abs(got - value), `${field}: read ${got}, trace ${value}`).toBeLessThanOrEqual(Math.abs(value) * 1e-9 + 1e-12);
      }
      expectStatus(result.status, source, state, profile.id);
      expect(result.raw!.length).toBeGreaterThan(0);
    });

    // Only profiles with an availability topic (no skipped case for the others).
    if (profile.availability !== undefined) it('offline by its availability topic: the read is DEVICE_UNREACHABLE', async () => {
      const topic = `catalog-${profile.id}-offline-${process.pid}-${++seq}`;
      const driver = driverFor(profile, `${broker.url}/${encodeURIComponent(topic)}`);
      await driver.open();
      const sim = await startMqttSimulator({ brokerUrl: broker.url, devices: [{ profile, topic, trace: traceFor(profile) }], clock: new ManualClock(NOW), intervalMs: 0 });
      cleanup.push(() => sim.close());
      await until('first values', () => driver.read().catch(() => undefined), 5000, 20);
      await sim.setOffline(topic);
      const err = await until(
        'an offline read',
        async () => {
          const e: unknown = await driver.read().then(
            () => undefined,
            (x: unknown) => x,
          );
          return e instanceof JishiError && e.code === 'JISHI_ERR_DEVICE_UNREACHABLE' ? e : undefined;
        },
        5000,
        20,
      );
      expect(err.message).toMatch(/offline/);
    });
  });
});

/** What a serial field reads for a trace reading, and how far off the simulator's way of writing it may be. */
function serialExpected(profile: SerialProfile, reading: TraceReading, field: string): { value: number; tolerance: number } {
  const f = profile.fields.find((x) => x.field === field)!;
  const hint = profile.simulate?.values?.[field];
  const source = traceValue(reading, hint?.from ?? field);
  if (source === undefined) throw new Error(`${profile.id}: no trace value for ${field}`);
  const value = source * (hint?.scale ?? 1);
  const format = hint?.format;
  const scale = Math.abs(f.scale ?? 1);
  // fixed: half a last decimal (of the raw number, times the field scale); else half a unit of the last of
  // `digits` mantissa decimals (exponential), or of 6 significant digits (default).
  const tolerance =
    format?.style === 'fixed' ? 0.5 * 10 ** -format.digits * scale + 1e-9 : Math.abs(value) * 0.5 * 10 ** -(format?.digits ?? 5) + 1e-12;
  return { value, tolerance };
}

describe.skipIf(requireOrSkip('socat', socatAvailable()))('every serial profile: instrument simulator -> pty -> driver', () => {
  it('covers every serial profile of the catalog', () => {
    expect(SERIAL.length).toBeGreaterThan(0);
  });

  describe.each(SERIAL.map((p) => ({ id: p.id, profile: p })))('$id', ({ profile }) => {
    it.each([...TRACE_STATES])('%s: values equal the trace, a mapped state reads as its status', async (state) => {
      const pair = await startPtyPair();
      cleanup.push(() => pair.close());
      const trace = traceFor(profile, state);
      const driver = driverFor(profile, `serial://${pair.a}?timeout=1000`);
      await driver.open(); // before the instrument: a listen instrument prints its first line at start
      const sim = await startSerialInstrument({ path: pair.b, profile, trace, clock: new ManualClock(NOW) });
      cleanup.push(() => sim.close());

      const result = await driver.read({ raw: true });
      const reading = trace.at(NOW);
      expect(reading.state).toBe(state);
      const fields = profile.fields.map((f) => f.field);
      for (const field of Object.keys(result.readings)) expect(fields, 'a field of the profile').toContain(field);
      // A running instrument reports every value (a gauge in fault, for one, may report none).
      if (state === 'active') expect(Object.keys(result.readings).sort()).toEqual([...fields].sort());
      for (const [field, got] of Object.entries(result.readings)) {
        const e = serialExpected(profile, reading, field);
        expect(Math.abs(got - e.value), `${field}: read ${got}, trace ${e.value}`).toBeLessThanOrEqual(e.tolerance);
      }
      if (rawsFor(profile.status, state).length > 0) expectStatus(result.status, profile.status, state, profile.id);
      expect(result.raw!.length).toBeGreaterThan(0);
    });
  });
});

describe.skipIf(requireOrSkip('socat', socatAvailable()))('every Modbus profile over Modbus RTU on a pty', () => {
  const clock = new ManualClock(NOW);
  const devices = MODBUS.map((profile, i) => ({ unit: i + 1, profile, trace: traceFor(profile, 'active') }));
  let path = '';
  beforeAll(async () => {
    const pair = await startPtyPair();
    const sim = await startModbusRtuSimulator({ path: pair.b, clock, devices });
    path = pair.a;
    return async () => {
      await sim.close();
      await pair.close();
    };
  });

  it('covers every Modbus profile that lists modbus-rtu', () => {
    expect(MODBUS.length).toBeGreaterThan(0);
  });

  it.each(devices.map((d) => ({ id: d.profile.id, d })))('$id: every field equals the trace', async ({ d }) => {
    const driver = driverFor(d.profile, `modbus-rtu://${path}?unit=${d.unit}&timeout=1000`);
    const { readings } = await driver.read();
    const reading = d.trace.at(NOW);
    expect(reading.power_w).toBeGreaterThan(0);
    expect(Object.keys(readings).sort()).toEqual(d.profile.fields.map((f) => f.field).sort());
    for (const f of d.profile.fields) {
      // The simulator serves 0 for a field the trace lacks (a second or third phase).
      const want = traceValue(reading, f.field) ?? 0;
      const got = readings[f.field]!;
      expect(Math.abs(got - want), `${f.field}: read ${got}, trace ${want}`).toBeLessThanOrEqual(registerResolution(f, want));
    }
    await driver.close(); // frees the port for the next profile's driver
  });
});
