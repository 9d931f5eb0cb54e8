/**
 * Simulated MQTT devices (smart plugs, energy monitors), for tests and the demo.
 *
 * Each device plays a trace and publishes, every intervalMs on the clock, the payload of every message of its
 * profile, built by the inverse in devices/mqtt-payload.ts: any MqttProfile is simulated from its data alone,
 * with no per-vendor code. Each device has its own broker connection, like a real plug: it publishes its
 * availability `online` (retained) when it connects, `offline` (retained) when set offline or closed, and its
 * MQTT will is the retained `offline`, so a device whose connection dies (kill(), a crashed process) goes offline
 * too.
 */
import { randomBytes } from 'node:crypto';
import { connect, type MqttClient } from 'mqtt';
import { systemClock, type Clock, type TimerHandle } from '../../common/clock.ts';
import { availabilityPayload, buildPayloads, expandTopic, type Publication } from '../mqtt-payload.ts';
import type { MqttProfile } from '../profile.ts';
import type { Trace, TraceReading, TraceState } from '../traces.ts';

export interface SimulatedMqttDevice {
  profile: MqttProfile;
  /** The device's topic (what `{topic}` stands for in the profile), e.g. `plug1`. */
  topic: string;
  trace: Trace;
}

export interface MqttSimulatorOptions {
  /** e.g. `mqtt://127.0.0.1:1883` (credentials in the URL if the broker wants them). */
  brokerUrl: string;
  devices: readonly SimulatedMqttDevice[];
  /** Time source for the traces and the publishing period (default systemClock). */
  clock?: Clock;
  /** Publishing period, ms (default 5000); 0 publishes only at start and on publishNow(). */
  intervalMs?: number;
  /** How long start waits for every device to connect, ms (default 10000). */
  connectTimeoutMs?: number;
}

export interface MqttSimulator {
  /** Publishes every message of every online device now. */
  publishNow(): Promise<void>;
  /** What the device reports at clock.now(): the trace's reading, with its energy counter after any reset. */
  reading(topic: string): TraceReading;
  /** Forces the device's trace into `state` from now on (clock.now()); null resumes its schedule. */
  setState(topic: string, state: TraceState | null): void;
  /**
   * Takes the device offline (default) or back online: publishes its availability (retained) and stops or
   * resumes publishing values.
   */
  setOffline(topic: string, offline?: boolean): Promise<void>;
  /** The device's energy counter restarts from 0 now (Tasmota EnergyReset, a Shelly Gen1 reboot). */
  resetEnergy(topic: string): void;
  /** Drops every device connection without a DISCONNECT (power cut): the broker publishes each device's will. */
  kill(): Promise<void>;
  /** Publishes `offline` for every device, disconnects. Never rejects. */
  close(): Promise<void>;
}

interface Running {
  device: SimulatedMqttDevice;
  client: MqttClient;
  offline: boolean;
  /** Trace energy (kWh) at the last resetEnergy(); the device reports trace energy minus this. */
  energyOffsetKwh: number;
}

function waitConnected(client: MqttClient, ms: number, what: string): Promise<void> {
  if (client.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let lastError: Error | undefined;
    const onError = (err: Error): void => {
      lastError = err;
    };
    const timer = setTimeout(() => {
      client.removeListener('connect', onConnect);
      client.removeListener('error', onError);
      reject(new Error(`MQTT simulator: ${what} could not connect within ${ms} ms${lastError ? `: ${lastError.message}` : ''}`));
    }, ms);
    const onConnect = (): void => {
      clearTimeout(timer);
      client.removeListener('error', onError);
      resolve();
    };
    client.once('connect', onConnect);
    client.on('error', onError);
  });
}

/** Connects every device and publishes its availability and a first round of values. */
export async function startMqttSimulator(options: MqttSimulatorOptions): Promise<MqttSimulator> {
  const clock = options.clock ?? systemClock;
  const intervalMs = options.intervalMs ?? 5000;
  const devices = new Map<string, Running>();
  for (const device of options.devices) {
    if (devices.has(device.topic)) throw new Error(`MQTT simulator: topic "${device.topic}" is configured twice`);
    const av = device.profile.availability;
    const client = connect(options.brokerUrl, {
      clientId: `jishi-sim-${randomBytes(6).toString('hex')}`,
      clean: true,
      reconnectPeriod: 500,
      connectTimeout: 5000,
      ...(av
        ? { will: { topic: expandTopic(av.topic, device.topic), payload: Buffer.from(availabilityPayload(av, false)), qos: 1 as const, retain: true } }
        : {}),
    });
    const running: Running = { device, client, offline: false, energyOffsetKwh: 0 };
    client.on('error', () => undefined); // reconnects by itself
    // Like a real device, announce availability on every (re)connect: a restarted broker may have lost it.
    client.on('connect', () => {
      if (av) client.publish(expandTopic(av.topic, device.topic), availabilityPayload(av, !running.offline), { qos: 1, retain: true }, () => undefined);
    });
    devices.set(device.topic, running);
  }

  let closed = false;
  const endAll = async (force: boolean): Promise<void> => {
    await Promise.all([...devices.values()].map((d) => d.client.endAsync(force).catch(() => undefined)));
  };
  try {
    await Promise.all([...devices.values()].map((d) => waitConnected(d.client, options.connectTimeoutMs ?? 10_000, `device ${d.device.topic}`)));
  } catch (err) {
    await endAll(true);
    throw err;
  }

  function running(topic: string): Running {
    const d = devices.get(topic);
    if (!d) throw new Error(`MQTT simulator: no device with topic "${topic}" (configured: ${[...devices.keys()].join(', ')})`);
    return d;
  }

  function reading(topic: string): TraceReading {
    const d = running(topic);
    const r = d.device.trace.at(clock.now());
    return { ...r, energy_kwh: Math.max(0, r.energy_kwh - d.energyOffsetKwh) };
  }

  async function publish(client: MqttClient, pubs: Publication[], retain = false): Promise<void> {
    // A device that lost its broker does not queue telemetry: it publishes again when it is back.
    if (!client.connected) return;
    await Promise.all(pubs.map((p) => client.publishAsync(p.topic, p.payload, { qos: 0, retain }).catch(() => undefined)));
  }

  async function publishNow(): Promise<void> {
    if (closed) return;
    await Promise.all(
      [...devices.values()]
        .filter((d) => !d.offline)
        .map((d) => publish(d.client, buildPayloads(d.device.profile, d.device.topic, reading(d.device.topic)))),
    );
  }

  async function announce(d: Running): Promise<void> {
    const av = d.device.profile.availability;
    if (!av || !d.client.connected) return;
    await d.client
      .publishAsync(expandTopic(av.topic, d.device.topic), availabilityPayload(av, !d.offline), { qos: 1, retain: true })
      .catch(() => undefined);
  }

  let timer: TimerHandle | undefined;
  const schedule = (): void => {
    if (closed || intervalMs <= 0) return;
    timer = clock.setTimeout(() => {
      timer = undefined;
      publishNow().catch(() => undefined);
      schedule();
    }, intervalMs);
  };

  await Promise.all([...devices.values()].map((d) => announce(d)));
  await publishNow();
  schedule();

  let closing: Promise<void> | undefined;
  const stopTimer = (): void => {
    closed = true;
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
  };
  return {
    publishNow,
    reading,
    setState: (topic, state) => running(topic).device.trace.forceState(state, clock.now()),
    setOffline: async (topic, offline = true) => {
      const d = running(topic);
      d.offline = offline;
      await announce(d);
    },
    resetEnergy: (topic) => {
      const d = running(topic);
      d.energyOffsetKwh = d.device.trace.energyAt(clock.now());
    },
    kill: async () => {
      stopTimer();
      await endAll(true);
    },
    close: () =>
      (closing ??= (async () => {
        stopTimer();
        for (const d of devices.values()) d.offline = true;
        await Promise.all([...devices.values()].map((d) => announce(d)));
        await Promise.all([...devices.values()].map((d) => d.client.endAsync(!d.client.connected).catch(() => undefined)));
      })()),
  };
}
