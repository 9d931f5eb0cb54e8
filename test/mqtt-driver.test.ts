/**
 * The MQTT driver against a real broker (Debian's mosquitto), fed by the MQTT device simulator, plus one run on
 * the embedded aedes broker the demo uses.
 */
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { brokerKey, MqttDriver, type MqttDriverOptions } from '../agent/drivers/mqtt.ts';
import { SharedResources } from '../agent/drivers/shared.ts';
import { ManualClock, systemClock, type Clock } from '../common/clock.ts';
import { JishiError } from '../common/errors.ts';
import { silentLogger, type Logger } from '../common/log.ts';
import { freePort } from '../common/net.ts';
import { parseTransportUrl, type MqttTransport } from '../common/transport-url.ts';
import { genericMqttJson } from '../devices/generic/mqtt-json.ts';
import { mapStatus, statusRawFor } from '../devices/mqtt-payload.ts';
import { profileFields, type MqttProfile } from '../devices/profile.ts';
import { shellyGen1Plug } from '../devices/shelly/gen1-plug.ts';
import { shellyGen2Switch } from '../devices/shelly/gen2-switch.ts';
import { startEmbeddedBroker } from '../devices/simulators/mqtt-broker.ts';
import { startMqttSimulator, type MqttSimulator, type SimulatedMqttDevice } from '../devices/simulators/mqtt.ts';
import { tasmotaPlug } from '../devices/tasmota/plug.ts';
import { createTrace, DEMO_TRACES, type TraceReading } from '../devices/traces.ts';
import { zigbee2mqttPlug } from '../devices/zigbee2mqtt/plug.ts';
import { deviceError } from './helpers/device-error.ts';
import { capture } from './helpers/log-capture.ts';
import { mosquittoAvailable, requireOrSkip, startMosquitto, type RunningMosquitto } from './helpers/mosquitto.ts';
import { until } from './helpers/wait.ts';

const EPOCH = Date.UTC(2025, 0, 6, 9, 30, 0);
const PROFILES: MqttProfile[] = [tasmotaPlug, shellyGen1Plug, shellyGen2Switch, zigbee2mqttPlug, genericMqttJson];
const cleanup: Array<() => Promise<unknown>> = [];
let seq = 0;

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A topic no other test used (retained messages outlive a test on the shared broker). */
function uniqueTopic(name: string): string {
  return `${name}-${process.pid}-${++seq}`;
}

function transport(brokerUrl: string, topic: string): MqttTransport {
  const parsed = parseTransportUrl(`${brokerUrl}/${encodeURIComponent(topic)}`);
  if (!parsed.ok || parsed.transport.kind !== 'mqtt') throw new Error(`bad test URL ${brokerUrl}/${topic}`);
  return parsed.transport;
}

interface DriverSetup {
  clock: Clock;
  logger?: Logger;
  shared?: SharedResources;
  options?: Partial<MqttDriverOptions>;
}

function driverFor(brokerUrl: string, profile: MqttProfile, topic: string, setup: DriverSetup): MqttDriver {
  const ctx = { clock: setup.clock, logger: setup.logger ?? silentLogger(), ...(setup.shared ? { shared: setup.shared } : {}) };
  const d = new MqttDriver({ profile, transport: transport(brokerUrl, topic), reconnectPeriodMs: 100, ...setup.options }, ctx);
  cleanup.push(() => d.close());
  return d;
}

async function simulate(brokerUrl: string, devices: SimulatedMqttDevice[], clock: Clock): Promise<MqttSimulator> {
  const sim = await startMqttSimulator({ brokerUrl, devices, clock, intervalMs: 0 });
  cleanup.push(() => sim.close());
  return sim;
}

function device(profile: MqttProfile, topic: string, seed = 7): SimulatedMqttDevice {
  return { profile, topic, trace: createTrace(DEMO_TRACES['flow-cytometer'], { seed, epochMs: EPOCH }) };
}

async function publisher(brokerUrl: string): Promise<MqttClient> {
  const client = await connectAsync(brokerUrl, { reconnectPeriod: 0 });
  cleanup.push(() => client.endAsync());
  return client;
}

/** Waits until read() succeeds and `accept` holds for the result. */
async function readUntil(driver: MqttDriver, what: string, accept: (r: Awaited<ReturnType<MqttDriver['read']>>) => boolean, timeoutMs = 5000) {
  return until(
    what,
    async () => {
      const r = await driver.read({ raw: true });
      return accept(r) ? r : undefined;
    },
    timeoutMs,
    20,
  );
}

/** Waits until read() rejects with `code` (and a message matching `message`, when given). */
async function errorUntil(driver: MqttDriver, code: string, timeoutMs = 5000, message?: RegExp): Promise<JishiError> {
  return until(
    `read() to fail with ${code}${message ? ` ${message}` : ''}`,
    async () => {
      const err = await driver.read().then(
        () => undefined,
        (e: unknown) => e,
      );
      return err instanceof JishiError && err.code === code && (!message || message.test(err.message)) ? err : undefined;
    },
    timeoutMs,
    20,
  );
}

/** The fields of `profile` that a trace reading has, and their expected values. */
function expectedValues(profile: MqttProfile, reading: TraceReading): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { field } of profileFields(profile)) {
    const v = (reading as unknown as Record<string, unknown>)[field];
    if (typeof v === 'number') out[field] = v;
  }
  return out;
}

function expectClose(got: Record<string, number>, want: Record<string, number>): void {
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  for (const [k, w] of Object.entries(want)) expect(Math.abs(got[k]! - w), `${k}: ${got[k]} vs ${w}`).toBeLessThanOrEqual(Math.abs(w) * 1e-12);
}

describe.skipIf(requireOrSkip('mosquitto', mosquittoAvailable()))('MqttDriver against mosquitto', () => {
  let broker: RunningMosquitto;

  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it.each(PROFILES.map((p) => ({ id: p.id, p })))('$id: reads the simulated device, values equal to the trace', async ({ p }) => {
    const clock = new ManualClock(EPOCH + 3_600_000);
    const topic = uniqueTopic(p.id);
    const sim = await simulate(broker.url, [device(p, topic)], clock);
    sim.setState(topic, 'active');
    const driver = driverFor(broker.url, p, topic, { clock });
    await driver.open();
    expect(driver.stats()).toEqual({ connected: true, reconnects: 0 });
    await sim.publishNow();
    const want = expectedValues(p, sim.reading(topic));
    expect(want.power_w).toBeGreaterThan(0);
    // Devices that publish fields on topics of their own (Shelly Gen1: power, energy) deliver them one by one.
    const complete = (r: { readings: Record<string, number> }, w: Record<string, number>): boolean => Object.keys(w).every((k) => k in r.readings);
    const active = await readUntil(driver, 'the active readings', (r) => r.readings.power_w === want.power_w && complete(r, want));
    expectClose(active.readings, want);
    // Relay ON is not a state (`ON`, `on`, `true`); the generic profile sends the state word itself.
    const source = p.messages.find((m) => m.status)!.status!;
    expect(active.status).toBe(mapStatus(source, String(statusRawFor(source, 'active'))));
    expect(active.status).toBe({ 'tasmota-plug': 'ON', 'shelly-gen1-plug': 'on', 'shelly-gen2-switch': 'true', 'zigbee2mqtt-plug': 'ON' }[p.id] ?? 'active: active');

    clock.advance(45_000);
    sim.setState(topic, 'off');
    await sim.publishNow();
    const wantOff = expectedValues(p, sim.reading(topic));
    const off = await readUntil(driver, 'the off readings', (r) => r.status?.startsWith('off: ') === true && r.readings.power_w === 0 && complete(r, wantOff));
    expectClose(off.readings, wantOff);
  });

  it('Tasmota: raw frames are the last payload of each topic; the relay word is the status', async () => {
    const clock = new ManualClock(EPOCH);
    const topic = uniqueTopic('tasmota');
    const sim = await simulate(broker.url, [device(tasmotaPlug, topic)], clock);
    sim.setState(topic, 'standby');
    const driver = driverFor(broker.url, tasmotaPlug, topic, { clock });
    await driver.open();
    await sim.publishNow();
    const r = await readUntil(driver, 'all four topics', (x) => (x.raw?.length ?? 0) === 4 && x.status !== undefined);
    expect(r.status).toBe('ON');
    expect(r.raw!.map((f) => f.request)).toEqual([`tele/${topic}/SENSOR`, `tele/${topic}/STATE`, `stat/${topic}/POWER`, `tele/${topic}/LWT`]);
    expect(r.raw![3]!.data).toBe('Online');
    expect(JSON.parse(r.raw![0]!.data as string)).toMatchObject({ ENERGY: { Power: r.readings.power_w } });
    expect((await driver.read()).raw).toBeUndefined();
  });

  it('Shelly Gen2: NotifyStatus deltas overlay the full status; other RPC notifications are ignored', async () => {
    const clock = new ManualClock(EPOCH + 600_000);
    const topic = uniqueTopic('shellyplusplugs');
    const sim = await simulate(broker.url, [device(shellyGen2Switch, topic)], clock);
    sim.setState(topic, 'active');
    const driver = driverFor(broker.url, shellyGen2Switch, topic, { clock });
    await driver.open();
    await sim.publishNow();
    const before = await readUntil(driver, 'the full status', (r) => r.readings.power_w === sim.reading(topic).power_w);

    const pub = await publisher(broker.url);
    const delta = { src: topic, dst: `${topic}/events`, method: 'NotifyStatus', params: { ts: 1744214281.03, 'switch:0': { id: 0, apower: 777.5 } } };
    await pub.publishAsync(`${topic}/events/rpc`, JSON.stringify(delta));
    const after = await readUntil(driver, 'the delta', (r) => r.readings.power_w === 777.5);
    expect(after.readings).toEqual({ ...before.readings, power_w: 777.5 });
    expect(after.status).toBe(before.status);

    const event = { src: topic, method: 'NotifyEvent', params: { ts: 1744214290.1, events: [{ component: 'switch:0', id: 0, event: 'overpower', apower: 5 }] } };
    await pub.publishAsync(`${topic}/events/rpc`, JSON.stringify(event));
    const off = { src: topic, method: 'NotifyStatus', params: { ts: 1744214291, 'switch:0': { id: 0, output: false, apower: 0 } } };
    await pub.publishAsync(`${topic}/events/rpc`, JSON.stringify(off));
    const last = await readUntil(driver, 'the output=false delta', (r) => r.status === 'off: false');
    expect(last.readings).toEqual({ ...before.readings, power_w: 0 });
    expect(driver.malformedPayloads()).toBe(0);
  });

  it('Tasmota: LWT Offline (retained, seen at subscribe time) fails reads as unreachable; Online reads again', async () => {
    const clock = new ManualClock(EPOCH);
    const topic = uniqueTopic('tasmota');
    const sim = await simulate(broker.url, [device(tasmotaPlug, topic)], clock);
    await sim.setOffline(topic);
    const driver = driverFor(broker.url, tasmotaPlug, topic, { clock });
    await driver.open();
    const err = await errorUntil(driver, 'JISHI_ERR_DEVICE_UNREACHABLE');
    expect(err.message).toContain(`tele/${topic}/LWT`);
    expect(err.message).toContain('"Offline"');

    await sim.setOffline(topic, false);
    await sim.publishNow();
    await readUntil(driver, 'reads once the plug is back online', (r) => r.readings.power_w !== undefined);

    // A plug that loses its connection without saying goodbye: the broker publishes its will.
    await sim.kill();
    const willErr = await errorUntil(driver, 'JISHI_ERR_DEVICE_UNREACHABLE');
    expect(willErr.message).toContain('"Offline"');
  });

  it('Zigbee2MQTT: JSON availability offline fails reads; the legacy plain-text payload counts too', async () => {
    const clock = new ManualClock(EPOCH);
    const topic = uniqueTopic('lab-plug');
    const sim = await simulate(broker.url, [device(zigbee2mqttPlug, topic)], clock);
    const driver = driverFor(broker.url, zigbee2mqttPlug, topic, { clock });
    await driver.open();
    await sim.publishNow();
    await readUntil(driver, 'the plug', (r) => r.readings.energy_kwh !== undefined);

    await sim.setOffline(topic);
    const err = await errorUntil(driver, 'JISHI_ERR_DEVICE_UNREACHABLE');
    expect(err.message).toContain(`zigbee2mqtt/${topic}/availability`);
    expect(err.message).toContain('offline');

    const pub = await publisher(broker.url);
    await pub.publishAsync(`zigbee2mqtt/${topic}/availability`, 'online', { retain: true });
    await readUntil(driver, 'reads after a legacy "online"', () => true);
    await pub.publishAsync(`zigbee2mqtt/${topic}/availability`, 'offline', { retain: true });
    await errorUntil(driver, 'JISHI_ERR_DEVICE_UNREACHABLE');
  });

  it('fails with a timeout before any message, and when the held values are stale', async () => {
    const clock = new ManualClock(EPOCH);
    const topic = uniqueTopic('plug');
    const quiet = driverFor(broker.url, tasmotaPlug, uniqueTopic('nobody'), { clock });
    const none = await deviceError(quiet.read()); // read() opens lazily
    expect(none.code).toBe('JISHI_ERR_DEVICE_TIMEOUT');
    expect(none.message).toMatch(/^no message from tele\/nobody-.*\/SENSOR, .* yet$/);

    const sim = await simulate(broker.url, [device(tasmotaPlug, topic)], clock);
    const driver = driverFor(broker.url, tasmotaPlug, topic, { clock });
    await driver.open();
    await sim.publishNow();
    await readUntil(driver, 'the plug', (r) => r.readings.power_w !== undefined);
    clock.advance(900_000); // exactly staleAfterS: still fresh
    await driver.read();
    clock.advance(1000);
    const stale = await deviceError(driver.read());
    expect(stale.code).toBe('JISHI_ERR_DEVICE_TIMEOUT');
    expect(stale.message).toContain('stale after 900 s');
    await sim.publishNow();
    const fresh = await readUntil(driver, 'fresh values', () => true);
    expectClose(fresh.readings, expectedValues(tasmotaPlug, sim.reading(topic)));
  });

  it('counts and logs an energy counter reset, and reports the raw counter', async () => {
    const clock = new ManualClock(EPOCH + 7_200_000);
    const topic = uniqueTopic('shellyplug-s');
    const { logger, lines } = capture();
    const sim = await simulate(broker.url, [device(shellyGen1Plug, topic)], clock);
    sim.setState(topic, 'active');
    const driver = driverFor(broker.url, shellyGen1Plug, topic, { clock, logger });
    await driver.open();
    await sim.publishNow();
    const before = await readUntil(driver, 'the counter', (r) => (r.readings.energy_kwh ?? 0) > 1);
    expect(driver.counterResets()).toBe(0);

    clock.advance(60_000);
    sim.resetEnergy(topic); // the plug rebooted: its watt-minute counter starts from 0
    clock.advance(60_000);
    await sim.publishNow();
    const after = await readUntil(driver, 'the counter after the reset', (r) => (r.readings.energy_kwh ?? Infinity) < 1);
    const want = sim.reading(topic).energy_kwh;
    expect(want).toBeGreaterThan(0);
    expect(Math.abs(after.readings.energy_kwh! - want)).toBeLessThanOrEqual(want * 1e-12);
    expect(driver.counterResets()).toBe(1);
    const line = lines.find((l) => l.msg === 'energy counter reset');
    expect(line).toMatchObject({ level: 30, field: 'energy_kwh', topic: `shellies/${topic}/relay/0/energy` });
    expect(line!.old).toBe(before.readings.energy_kwh);
    expect(line!.new).toBe(after.readings.energy_kwh);

    // Counting up again from there is no reset.
    clock.advance(60_000);
    await sim.publishNow();
    await readUntil(driver, 'the counter counting up', (r) => r.readings.energy_kwh! > after.readings.energy_kwh!);
    expect(driver.counterResets()).toBe(1);
  });

  it('logs a malformed payload once per streak, counts each, keeps the held values', async () => {
    const clock = new ManualClock(EPOCH);
    const topic = uniqueTopic('tasmota');
    const { logger, lines } = capture();
    const sim = await simulate(broker.url, [device(tasmotaPlug, topic)], clock);
    const driver = driverFor(broker.url, tasmotaPlug, topic, { clock, logger });
    await driver.open();
    await sim.publishNow();
    const good = await readUntil(driver, 'the plug', (r) => r.readings.power_w !== undefined);

    const pub = await publisher(broker.url);
    await pub.publishAsync(`tele/${topic}/SENSOR`, '{"ENERGY":{"Power":');
    await pub.publishAsync(`tele/${topic}/SENSOR`, '{"ENERGY":{"Power":"n/a"}}');
    await until('both bad payloads', () => driver.malformedPayloads() === 2);
    expect((await driver.read()).readings).toEqual(good.readings);
    const warnings = lines.filter((l) => l.level === 40 && String(l.msg).startsWith('mqtt payload could not be decoded'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ topic: `tele/${topic}/SENSOR`, payload: '{"ENERGY":{"Power":' });

    await pub.publishAsync(`tele/${topic}/SENSOR`, '{"ENERGY":{"Power":12.5}}');
    await readUntil(driver, 'the good payload', (r) => r.readings.power_w === 12.5);
    expect(lines.some((l) => l.msg === 'mqtt payloads decode again')).toBe(true);
    await pub.publishAsync(`tele/${topic}/SENSOR`, 'garbage');
    await until('a new streak', () => driver.malformedPayloads() === 3);
    expect(lines.filter((l) => String(l.msg).startsWith('mqtt payload could not be decoded'))).toHaveLength(2);
  });

  it('shares one broker connection between plugs; each still gets its retained availability', async () => {
    const clock = new ManualClock(EPOCH);
    const shared = new SharedResources();
    const a = uniqueTopic('plug-a');
    const b = uniqueTopic('plug-b');
    const sim = await simulate(broker.url, [device(tasmotaPlug, a, 1), device(tasmotaPlug, b, 2)], clock);
    sim.setState(a, 'active');
    sim.setState(b, 'off');
    await sim.setOffline(b); // retained before anyone subscribes
    const da = driverFor(broker.url, tasmotaPlug, a, { clock, shared });
    const db = driverFor(broker.url, tasmotaPlug, b, { clock, shared });
    await Promise.all([da.open(), db.open()]);
    expect(shared.keys()).toEqual([brokerKey(transport(broker.url, a))]);
    expect(shared.keys()).toEqual([`mqtt:mqtt://127.0.0.1:${broker.port}`]);
    await sim.publishNow();
    const ra = await readUntil(da, 'plug a', (r) => r.readings.power_w !== undefined);
    expectClose(ra.readings, expectedValues(tasmotaPlug, sim.reading(a)));
    expect((await errorUntil(db, 'JISHI_ERR_DEVICE_UNREACHABLE')).message).toContain(`tele/${b}/LWT`);
    // The same device again, once the shared client holds its topics (two instruments on one plug): the second
    // subscription must still be sent, so that the broker delivers the retained LWT to it too.
    const db2 = driverFor(broker.url, tasmotaPlug, b, { clock, shared });
    await db2.open();
    expect((await errorUntil(db2, 'JISHI_ERR_DEVICE_UNREACHABLE')).message).toContain(`tele/${b}/LWT`);

    await db2.close();
    await sim.setOffline(b, false);
    clock.advance(10_000);
    await sim.publishNow();
    const rb = await readUntil(db, 'plug b once online', (r) => r.status === 'off: OFF');
    expectClose(rb.readings, expectedValues(tasmotaPlug, sim.reading(b)));
    await db.close();
    // Closing b leaves a's subscriptions alone.
    clock.advance(10_000);
    await sim.publishNow();
    await readUntil(da, 'plug a after b closed', (r) => r.readings.power_w === sim.reading(a).power_w);
    expect(shared.keys()).toHaveLength(1);
    await da.close();
    expect(shared.keys()).toEqual([]);
    expect(da.stats().connected).toBe(false);
  });

  it('open() fails fast when the broker cannot be reached, and the driver connects later by itself', async () => {
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    // The open timeout runs on the driver's clock.
    const clock = new ManualClock(EPOCH);
    const timed = driverFor(url, genericMqttJson, uniqueTopic('late'), { clock, options: { openTimeoutMs: 300 } });
    const opening = deviceError(timed.open());
    clock.advance(300);
    const err = await opening;
    expect(err.code).toBe('JISHI_ERR_DEVICE_UNREACHABLE');
    expect(err.message).toContain(`cannot reach MQTT broker mqtt://127.0.0.1:${port}`);

    const systemTimed = new MqttDriver(
      { profile: genericMqttJson, transport: transport(url, 'x'), openTimeoutMs: 200, reconnectPeriodMs: 100 },
      { clock: systemClock, logger: silentLogger() },
    );
    cleanup.push(() => systemTimed.close());
    const started = Date.now();
    expect((await deviceError(systemTimed.read())).code).toBe('JISHI_ERR_DEVICE_UNREACHABLE');
    expect(Date.now() - started).toBeLessThan(2000);
    // Later reads answer at once while the connection retries in the background.
    const again = Date.now();
    const down = await deviceError(systemTimed.read());
    expect(down.message).toMatch(/not connected: .*ECONNREFUSED/);
    expect(Date.now() - again).toBeLessThan(100);

    const embedded = await startEmbeddedBroker({ port });
    cleanup.push(() => embedded.close());
    const err2 = await errorUntil(systemTimed, 'JISHI_ERR_DEVICE_TIMEOUT');
    expect(err2.message).toContain('no message from x yet');
    expect(systemTimed.stats().connected).toBe(true);
  });

  it('simulator: publishes every intervalMs on its clock, and says offline when closed', async () => {
    const clock = new ManualClock(EPOCH);
    const topic = uniqueTopic('shellyplug-s');
    const sim = await startMqttSimulator({ brokerUrl: broker.url, devices: [device(shellyGen1Plug, topic)], clock, intervalMs: 10_000 });
    cleanup.push(() => sim.close());
    const driver = driverFor(broker.url, shellyGen1Plug, topic, { clock });
    await driver.open();
    expect((await deviceError(driver.read())).code).toBe('JISHI_ERR_DEVICE_TIMEOUT'); // the first round went out before
    for (let i = 1; i <= 2; i++) {
      clock.advance(10_000);
      const want = sim.reading(topic);
      await readUntil(driver, `round ${i}`, (r) => r.readings.power_w === want.power_w && r.readings.energy_kwh! > 0);
    }
    await sim.close();
    expect((await errorUntil(driver, 'JISHI_ERR_DEVICE_UNREACHABLE')).message).toContain(`shellies/${topic}/online says "false"`);
  });

  it('closes without rejecting, whatever state it is in', async () => {
    const never = new MqttDriver({ profile: tasmotaPlug, transport: transport(broker.url, 'x') }, { clock: new ManualClock(EPOCH), logger: silentLogger() });
    await expect(never.close()).resolves.toBeUndefined();
    await expect(never.close()).resolves.toBeUndefined();
    expect((await deviceError(never.read())).message).toContain('closed');
    const opened = driverFor(broker.url, tasmotaPlug, uniqueTopic('x'), { clock: new ManualClock(EPOCH) });
    await opened.open();
    await expect(opened.close()).resolves.toBeUndefined();
    expect(opened.stats()).toEqual({ connected: false, reconnects: 0 });
  });
});

describe.skipIf(requireOrSkip('mosquitto', mosquittoAvailable()))('MqttDriver through a broker outage', () => {
  it('fails reads while the broker is down, then reconnects, resubscribes and reads fresh values', async () => {
    const broker = await startMosquitto();
    cleanup.push(() => broker.stop());
    const clock = new ManualClock(EPOCH + 1_800_000);
    const { logger, lines } = capture();
    const shared = new SharedResources();
    const topic = uniqueTopic('tasmota');
    const other = uniqueTopic('zigbee');
    const sim = await simulate(broker.url, [device(tasmotaPlug, topic), device(zigbee2mqttPlug, other, 3)], clock);
    sim.setState(topic, 'active');
    const driver = driverFor(broker.url, tasmotaPlug, topic, { clock, logger, shared });
    const z2m = driverFor(broker.url, zigbee2mqttPlug, other, { clock, logger, shared });
    await Promise.all([driver.open(), z2m.open()]);
    await sim.publishNow();
    const first = await readUntil(driver, 'the plug', (r) => r.readings.power_w !== undefined);
    await readUntil(z2m, 'the zigbee plug', (r) => r.readings.power_w !== undefined);

    await broker.halt(); // mosquitto publishes the simulated plugs' wills (Offline) as it shuts down
    const down = await errorUntil(driver, 'JISHI_ERR_DEVICE_UNREACHABLE', 5000, /not connected/);
    expect(down.message).toContain(`MQTT broker mqtt://127.0.0.1:${broker.port} is not connected`);
    expect(driver.stats()).toEqual({ connected: false, reconnects: 0 });
    expect(lines.some((l) => l.msg === 'mqtt broker connection lost' && l.level === 40)).toBe(true);

    await broker.restart(); // same port, no persistence: every subscription and retained message is gone
    await until('the driver to reconnect', () => driver.stats().connected, 10_000);
    expect(driver.stats().reconnects).toBe(1);
    expect(z2m.stats().reconnects).toBe(1);
    expect(lines.some((l) => l.msg === 'mqtt broker reconnected')).toBe(true);

    clock.advance(90_000); // new values, different from the held ones
    const want = expectedValues(tasmotaPlug, sim.reading(topic));
    expect(want.power_w).not.toBe(first.readings.power_w);
    // Publish until the simulated plugs are back on the broker too; only a resubscribed driver sees these.
    const fresh = await until(
      'fresh values after the restart',
      async () => {
        await sim.publishNow();
        const r = await driver.read().catch(() => undefined);
        return r?.readings.power_w === want.power_w ? r : undefined;
      },
      10_000,
      100,
    );
    expectClose(fresh.readings, want);
    const z = await readUntil(z2m, 'fresh zigbee values', (r) => r.readings.power_w === sim.reading(other).power_w);
    expect(z.readings.energy_kwh).toBe(sim.reading(other).energy_kwh);
  });
});

describe('MqttDriver on the embedded aedes broker (the demo path)', () => {
  it('reads two simulated plugs over one shared connection', async () => {
    const broker = await startEmbeddedBroker({ port: 0 });
    cleanup.push(() => broker.close());
    const clock = new ManualClock(EPOCH + 300_000);
    const shared = new SharedResources();
    const t1 = uniqueTopic('shellyplus');
    const t2 = uniqueTopic('tasmota');
    const sim = await simulate(broker.url, [device(shellyGen2Switch, t1, 5), device(tasmotaPlug, t2, 6)], clock);
    sim.setState(t1, 'active');
    sim.setState(t2, 'standby');
    expect(broker.connectedClients()).toBe(2);
    const d1 = driverFor(broker.url, shellyGen2Switch, t1, { clock, shared });
    const d2 = driverFor(broker.url, tasmotaPlug, t2, { clock, shared });
    await Promise.all([d1.open(), d2.open()]);
    expect(broker.connectedClients()).toBe(3);
    await sim.publishNow();
    const r1 = await readUntil(d1, 'the Shelly', (r) => r.readings.power_w === sim.reading(t1).power_w);
    const r2 = await readUntil(d2, 'the Tasmota', (r) => r.readings.power_w === sim.reading(t2).power_w);
    expectClose(r1.readings, expectedValues(shellyGen2Switch, sim.reading(t1)));
    expectClose(r2.readings, expectedValues(tasmotaPlug, sim.reading(t2)));
    expect(r2.status).toBe('ON');

    await sim.close(); // says offline (retained) before it disconnects
    expect((await errorUntil(d1, 'JISHI_ERR_DEVICE_UNREACHABLE')).message).toContain(`${t1}/online says "false"`);
    await d1.close();
    await d2.close();
    await until('the shared connection to close', () => broker.connectedClients() === 0);
  });
});
