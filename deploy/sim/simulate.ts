/**
 * The simulated lab of the production stack (docker-compose.yml, services `simulator` and `agent-sim`, compose
 * profile `sim`): the network instruments of `jishi demo`, served the way real devices are reached, so that a
 * fresh stack shows live data in Grafana before the first real agent is installed.
 *
 * - energy meters on a Modbus TCP gateway (port 1502: the unprivileged stand-in for 502);
 * - an energy meter behind a serial device server passing RTU frames over TCP (port 1503, `framing=rtu`);
 * - smart plugs (Shelly, Tasmota) publishing to the stack's Mosquitto, with the credentials of `.env`.
 *
 * The agent (`jishi agent --config deploy/sim/agent.yaml`) reads them over the network exactly like real devices;
 * nothing here talks to the collector. The serial instruments of the demo (socat pty pairs) are left out.
 * Instrument ids get the prefix `SIM-` and topics `sim-`, so simulated data never mixes with a real asset number.
 *
 * Run: node --import tsx deploy/sim/simulate.ts   (environment: MQTT_USERNAME, MQTT_PASSWORD; optional MQTT_HOST,
 * MQTT_PORT, SIM_LISTEN_HOST, SIM_PUBLISH_INTERVAL_S, SIM_LOG_LEVEL). SIGTERM or Ctrl-C stops it.
 */
import { pathToFileURL } from 'node:url';
import { systemClock, type Clock } from '../../common/clock.ts';
import { createLogger, LOG_LEVELS, silentLogger, type Logger, type LogLevel } from '../../common/log.ts';
import { getProfile } from '../../devices/catalog.ts';
import type { DeviceProfile } from '../../devices/profile.ts';
import { createTrace, DEMO_TRACES, type Trace } from '../../devices/traces.ts';
import { startModbusRtuOverTcpSimulator } from '../../devices/simulators/modbus-rtu.ts';
import { startModbusTcpSimulator } from '../../devices/simulators/modbus-tcp.ts';
import { startMqttSimulator } from '../../devices/simulators/mqtt.ts';
import { DEMO_ENGINE, DEMO_FLEET, needsSerialLine, type DemoInstrument } from '../../cli/demo-fleet.ts';
import { untilSignal } from '../../cli/signals.ts';

/** Port of the simulated Modbus TCP gateway (the `modbus-tcp` instruments). */
export const SIM_MODBUS_TCP_PORT = 1502;
/** Port of the simulated serial device server (the `rtu-over-tcp` instruments). */
export const SIM_RTU_OVER_TCP_PORT = 1503;
/** Host names of the simulator and of the broker on the compose network (the agent config uses them). */
export const SIM_HOST = 'simulator';
export const MQTT_SERVICE_HOST = 'mosquitto';
/** Prefix of the simulated instruments' ids. */
export const SIM_ID_PREFIX = 'SIM-';
/** Engine timings of the simulated instruments in the collector config: the demo's, scaled to its short cycles. */
export const SIM_ENGINE = DEMO_ENGINE;
/**
 * The traces are a pure function of wall-clock time from this instant, so a restarted simulator carries on where
 * it was (energy counters keep counting up) instead of starting its cycles and counters again.
 */
export const SIM_EPOCH_MS = Date.UTC(2025, 0, 1);

/** The demo's instruments that need no serial line, with ids and topics of their own. */
export const SIM_FLEET: readonly DemoInstrument[] = DEMO_FLEET.filter((i) => !needsSerialLine(i)).map(
  (i): DemoInstrument => ({
    ...i,
    id: `${SIM_ID_PREFIX}${i.id}`,
    name: `${i.name} (simulated)`,
    ...(i.link === 'mqtt' ? { topic: `sim-${i.topic}` } : {}),
  }),
);

/**
 * The transport URL the agent of the stack reads an instrument on, as written in deploy/sim/agent.yaml (the MQTT
 * credentials as `${VAR}` references, which the agent replaces from its environment).
 */
export function simTransport(i: DemoInstrument): string {
  switch (i.link) {
    case 'modbus-tcp':
      return `modbus-tcp://${SIM_HOST}:${SIM_MODBUS_TCP_PORT}?unit=${i.unit}`;
    case 'rtu-over-tcp':
      return `modbus-tcp://${SIM_HOST}:${SIM_RTU_OVER_TCP_PORT}?unit=${i.unit}&framing=rtu`;
    case 'mqtt':
      return `mqtt://\${MQTT_USERNAME}:\${MQTT_PASSWORD}@${MQTT_SERVICE_HOST}:1883/${i.topic}`;
    default:
      throw new Error(`instrument ${i.id}: the simulated lab has no ${i.link} link`);
  }
}

export interface SimulatedLabOptions {
  /** Address the Modbus servers listen on (default 0.0.0.0: the agent is in another container). */
  listenHost?: string;
  /** 0 picks a free port (tests); default SIM_MODBUS_TCP_PORT. */
  modbusTcpPort?: number;
  /** 0 picks a free port (tests); default SIM_RTU_OVER_TCP_PORT. */
  rtuOverTcpPort?: number;
  /** Broker URL for the smart plugs, credentials included: `mqtt://user:password@mosquitto:1883`. */
  mqttUrl: string;
  /** How often the plugs publish, ms (default 5000). */
  publishIntervalMs?: number;
  clock?: Clock;
  logger?: Logger;
  fleet?: readonly DemoInstrument[];
}

export interface SimulatedLab {
  readonly modbusTcpPort: number;
  readonly rtuOverTcpPort: number;
  /** Stops every simulator (plugs publish `offline` first). Never rejects. */
  close(): Promise<void>;
}

function profileOf<K extends DeviceProfile['kind']>(i: DemoInstrument, kind: K): Extract<DeviceProfile, { kind: K }> {
  const profile = getProfile(i.profile);
  if (!profile || profile.kind !== kind) throw new Error(`instrument ${i.id}: ${i.profile} is not a ${kind} profile of the catalog`);
  return profile as Extract<DeviceProfile, { kind: K }>;
}

/** Starts the simulated devices; on an error, stops what was started and rejects. */
export async function startSimulatedLab(options: SimulatedLabOptions): Promise<SimulatedLab> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger();
  const fleet = options.fleet ?? SIM_FLEET;
  const host = options.listenHost ?? '0.0.0.0';
  const traces = new Map<string, Trace>(
    fleet.map((i) => [i.id, createTrace(DEMO_TRACES[i.trace], { seed: i.seed, epochMs: SIM_EPOCH_MS, phaseS: i.phaseS })]),
  );
  const trace = (i: DemoInstrument): Trace => traces.get(i.id)!;
  const units = (link: 'modbus-tcp' | 'rtu-over-tcp') =>
    fleet.flatMap((i) => (i.link === link ? [{ unit: i.unit, profile: profileOf(i, 'modbus'), trace: trace(i) }] : []));
  const plugs = fleet.flatMap((i) => (i.link === 'mqtt' ? [{ topic: i.topic, profile: profileOf(i, 'mqtt'), trace: trace(i) }] : []));
  const closers: Array<() => Promise<void>> = [];
  const close = async (): Promise<void> => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const gateway = await startModbusTcpSimulator({ host, port: options.modbusTcpPort ?? SIM_MODBUS_TCP_PORT, clock, devices: units('modbus-tcp') });
    closers.push(() => gateway.close());
    logger.info({ port: gateway.port, units: units('modbus-tcp').map((u) => u.unit) }, 'simulated Modbus TCP gateway listening');
    const server = await startModbusRtuOverTcpSimulator({ host, port: options.rtuOverTcpPort ?? SIM_RTU_OVER_TCP_PORT, clock, devices: units('rtu-over-tcp') });
    closers.push(() => server.close());
    logger.info({ port: server.port, units: units('rtu-over-tcp').map((u) => u.unit) }, 'simulated serial device server (RTU over TCP) listening');
    if (plugs.length > 0) {
      const mqtt = await startMqttSimulator({ brokerUrl: options.mqttUrl, clock, intervalMs: options.publishIntervalMs ?? 5000, devices: plugs });
      closers.push(() => mqtt.close());
      logger.info({ topics: plugs.map((p) => p.topic) }, 'simulated smart plugs publishing');
    }
    return { modbusTcpPort: gateway.port, rtuOverTcpPort: server.port, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Characters that need no percent-encoding in a URL's user and password (and in mosquitto's password file). */
const URL_SAFE = /^[A-Za-z0-9._~-]+$/;

/** The broker URL from the environment of the compose service; throws naming what is missing or unusable. */
export function mqttUrlFromEnv(env: NodeJS.ProcessEnv): string {
  const user = env.MQTT_USERNAME ?? '';
  const password = env.MQTT_PASSWORD ?? '';
  for (const [name, value] of [['MQTT_USERNAME', user], ['MQTT_PASSWORD', password]] as const) {
    if (value === '') throw new Error(`${name} is not set: set it in .env (see deploy/env.example)`);
    if (!URL_SAFE.test(value)) throw new Error(`${name} may contain only letters, digits and . _ ~ - (it is written into transport URLs)`);
  }
  return `mqtt://${user}:${password}@${env.MQTT_HOST ?? MQTT_SERVICE_HOST}:${env.MQTT_PORT ?? '1883'}`;
}

async function main(): Promise<void> {
  const level = (process.env.SIM_LOG_LEVEL ?? 'info') as LogLevel;
  const logger = createLogger({ level: LOG_LEVELS.includes(level) ? level : 'info', name: 'simulator', destination: 1 });
  let mqttUrl: string;
  try {
    mqttUrl = mqttUrlFromEnv(process.env);
  } catch (err) {
    process.stderr.write(`simulator: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const intervalS = Number(process.env.SIM_PUBLISH_INTERVAL_S ?? '5');
  const lab = await startSimulatedLab({
    listenHost: process.env.SIM_LISTEN_HOST ?? '0.0.0.0',
    mqttUrl,
    publishIntervalMs: Number.isFinite(intervalS) && intervalS > 0 ? intervalS * 1000 : 5000,
    logger,
  });
  logger.info({ instruments: SIM_FLEET.map((i) => `${i.id} ${simTransport(i)}`) }, 'simulated lab running');
  const signal = await untilSignal();
  logger.info({ signal }, 'stopping');
  await lab.close();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`simulator: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
