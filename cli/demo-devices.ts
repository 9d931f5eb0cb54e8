/**
 * The demo's simulated devices, one simulator per transport, all in this process on loopback (and, for the
 * serial ones, on socat pty pairs):
 * - `modbus-tcp`: one Modbus TCP gateway serving every `modbus-tcp` instrument as a unit;
 * - `rtu-over-tcp`: one serial device server passing RTU frames over TCP (`framing=rtu`);
 * - `mqtt`: an embedded MQTT broker (aedes) and one simulated smart plug per instrument, publishing every ~2 s;
 * - `modbus-rtu`: one RS-485 bus on a socat pty pair, every `modbus-rtu` instrument a unit on it;
 * - `serial`: each status-line instrument on its own socat pty pair, printing a line every ~2 s.
 * The serial lines need socat (`/usr/bin/socat` or on PATH). Without it, or when they cannot be set up, the
 * instruments on them are left out with a note: the demo never fails for that.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import { getProfile } from '../devices/catalog.ts';
import type { DeviceProfile } from '../devices/profile.ts';
import { createTrace, DEMO_TRACES, type Trace } from '../devices/traces.ts';
import { startEmbeddedBroker } from '../devices/simulators/mqtt-broker.ts';
import { startModbusRtuOverTcpSimulator, startModbusRtuSimulator } from '../devices/simulators/modbus-rtu.ts';
import { startModbusTcpSimulator } from '../devices/simulators/modbus-tcp.ts';
import { startMqttSimulator } from '../devices/simulators/mqtt.ts';
import { startSerialInstrument } from '../devices/simulators/serial-instrument.ts';
import { needsSerialLine, type DemoInstrument, type DemoLink } from './demo-fleet.ts';

export interface DemoDevicesOptions {
  fleet: readonly DemoInstrument[];
  /** The demo's data directory: the serial lines' pty links go in a temp dir under it. */
  dataDir: string;
  clock: Clock;
  logger: Logger;
  /** TCP port of the Modbus TCP gateway (0: any free port). */
  modbusPort?: number;
  /** False leaves out the instruments on serial lines (default true: included when socat is found). */
  serial?: boolean;
  /** Publishing period of the smart plugs and printing period of the status-line instruments, ms (default 2000). */
  periodMs?: number;
  /** Where to look for socat (default: findSocat()). */
  socat?: string | null;
}

/** An instrument whose simulated device runs, and the transport URL the agent reads it on. */
export interface RunningDemoInstrument {
  instrument: DemoInstrument;
  transport: string;
}

export interface DemoDevices {
  /** The instruments whose devices run, in fleet order. */
  readonly instruments: readonly RunningDemoInstrument[];
  /** One line per group of instruments left out, saying why and how to get them. */
  readonly notes: readonly string[];
  /** Stops every simulator, broker and socat process (devices before the lines they sit on). Never rejects. */
  stop(): Promise<void>;
}

/** Labels of the links in the banner. */
export const LINK_LABELS: Readonly<Record<DemoLink, string>> = {
  'modbus-tcp': 'modbus-tcp',
  'rtu-over-tcp': 'rtu-over-tcp',
  mqtt: 'mqtt',
  'modbus-rtu': 'modbus-rtu',
  serial: 'serial',
};

const DEFAULT_PERIOD_MS = 2000;

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The socat binary: $JISHI_SOCAT, /usr/bin/socat, or the first `socat` on PATH; undefined when there is none. */
export function findSocat(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const onPath = (env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '')
    .map((dir) => join(dir, 'socat'));
  return [env.JISHI_SOCAT, '/usr/bin/socat', ...onPath].find((p): p is string => p !== undefined && p !== '' && isExecutable(p));
}

/** A serial device path as the path of a transport URL (`modbus-rtu://` + this), percent-encoded. */
function urlPath(path: string): string {
  return pathToFileURL(path).pathname;
}

function profileOf<K extends DeviceProfile['kind']>(instrument: DemoInstrument, kind: K): Extract<DeviceProfile, { kind: K }> {
  const profile = getProfile(instrument.profile);
  if (!profile) throw new Error(`demo instrument ${instrument.id}: unknown device profile ${instrument.profile}`);
  if (profile.kind !== kind) throw new Error(`demo instrument ${instrument.id}: profile ${profile.id} is a ${profile.kind} profile, not ${kind}`);
  return profile as Extract<DeviceProfile, { kind: K }>;
}

interface PtyPair {
  /** The end the agent opens. */
  readonly host: string;
  /** The end the simulated device opens. */
  readonly device: string;
  /** Stops socat (both ends vanish). Never rejects. */
  close(): Promise<void>;
}

/** Live socat processes, killed when the process exits without a clean stop (an uncaught error). */
const liveSocats = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackSocat(child: ChildProcess): void {
  liveSocats.add(child);
  child.once('exit', () => liveSocats.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of liveSocats) c.kill('SIGTERM');
    });
  }
}

/**
 * Joins two pseudo-terminals with socat (`pty,raw,echo=0,link=A pty,raw,echo=0,link=B`): a serial line whose ends
 * are `host` and `device`. socat runs in its own process group, so the Ctrl-C that stops the demo reaches the
 * demo only: the lines stay up until the agent and the devices have let go of them.
 */
async function startPtyPair(socat: string, dir: string, name: string): Promise<PtyPair> {
  const host = join(dir, `${name}-host`);
  const device = join(dir, `${name}-device`);
  const child = spawn(socat, [`pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${device}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  trackSocat(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));

  const close = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null || spawnError) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + 5000;
  while (!(existsSync(host) && existsSync(device))) {
    const why = spawnError?.message ?? (child.exitCode !== null ? `socat exited with ${child.exitCode}: ${stderr.trim()}` : undefined);
    if (why !== undefined) throw new Error(why);
    if (Date.now() > deadline) {
      await close();
      throw new Error(`socat did not create ${host} and ${device} within 5 s${stderr ? `: ${stderr.trim()}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return { host, device, close };
}

/** A directory for pty links: under the data dir when socat can take its path as is, else the system temp dir. */
async function ptyDir(dataDir: string): Promise<string> {
  // socat splits its addresses on `,` and `:` (and quotes); keep the link paths plain.
  return /^[\w/.+@~-]+$/.test(dataDir) ? mkdtemp(join(dataDir, 'pty-')) : mkdtemp(join(tmpdir(), 'jishi-demo-pty-'));
}

/** Starts the simulated device of every instrument of the fleet. On an error, stops what was started and rejects. */
export async function startDemoDevices(options: DemoDevicesOptions): Promise<DemoDevices> {
  const { fleet, clock, logger } = options;
  const periodMs = options.periodMs ?? DEFAULT_PERIOD_MS;
  const now = clock.now();
  const traces = new Map<string, Trace>(
    fleet.map((inst) => [inst.id, createTrace(DEMO_TRACES[inst.trace], { seed: inst.seed, epochMs: now, phaseS: inst.phaseS })]),
  );
  const trace = (inst: DemoInstrument): Trace => traces.get(inst.id)!;
  const transports = new Map<string, string>();
  const notes: string[] = [];
  /** Stop functions, run in reverse order: devices stop before the broker or line they use. */
  const stops: Array<{ what: string; stop: () => Promise<void> }> = [];
  const onStop = (what: string, stop: () => Promise<void>): void => {
    stops.push({ what, stop });
  };
  let stopping: Promise<void> | undefined;
  const stopAll = (): Promise<void> =>
    (stopping ??= (async () => {
      for (const { what, stop } of stops.reverse()) {
        try {
          await stop();
        } catch (err) {
          logger.warn({ err }, `stopping the ${what} failed`);
        }
      }
    })());

  const of = <L extends DemoLink>(link: L): Array<DemoInstrument & { link: L }> =>
    fleet.filter((i): i is DemoInstrument & { link: L } => i.link === link);

  try {
    // Modbus TCP gateway.
    const tcpUnits = of('modbus-tcp');
    if (tcpUnits.length > 0) {
      const sim = await startModbusTcpSimulator({
        port: options.modbusPort ?? 0,
        clock,
        devices: tcpUnits.map((i) => ({ unit: i.unit, profile: profileOf(i, 'modbus'), trace: trace(i) })),
      });
      onStop('Modbus TCP gateway', () => sim.close());
      for (const i of tcpUnits) transports.set(i.id, sim.url(i.unit));
      logger.info({ port: sim.port, units: tcpUnits.map((i) => i.unit) }, 'simulated Modbus TCP gateway started');
    }

    // Serial device server: RTU frames over TCP.
    const rtuTcpUnits = of('rtu-over-tcp');
    if (rtuTcpUnits.length > 0) {
      const sim = await startModbusRtuOverTcpSimulator({
        clock,
        devices: rtuTcpUnits.map((i) => ({ unit: i.unit, profile: profileOf(i, 'modbus'), trace: trace(i) })),
      });
      onStop('RTU over TCP server', () => sim.close());
      for (const i of rtuTcpUnits) transports.set(i.id, sim.url(i.unit));
      logger.info({ port: sim.port, units: rtuTcpUnits.map((i) => i.unit) }, 'simulated serial device server (RTU over TCP) started');
    }

    // Smart plugs on the embedded MQTT broker.
    const plugs = of('mqtt');
    if (plugs.length > 0) {
      const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0 });
      onStop('MQTT broker', () => broker.close());
      const sim = await startMqttSimulator({
        brokerUrl: broker.url,
        clock,
        intervalMs: periodMs,
        devices: plugs.map((i) => ({ profile: profileOf(i, 'mqtt'), topic: i.topic, trace: trace(i) })),
      });
      onStop('MQTT smart plugs', () => sim.close());
      for (const i of plugs) transports.set(i.id, `${broker.url}/${i.topic.split('/').map(encodeURIComponent).join('/')}`);
      logger.info({ broker: broker.url, topics: plugs.map((i) => i.topic) }, 'embedded MQTT broker and simulated smart plugs started');
    }

    // Serial lines (socat pty pairs): a Modbus RTU bus, and one line per status-line instrument.
    const onSerial = fleet.filter(needsSerialLine);
    if (onSerial.length > 0) {
      const ids = onSerial.map((i) => i.id).join(', ');
      const socat = options.socat === undefined ? findSocat() : (options.socat ?? undefined);
      if (options.serial === false) {
        notes.push(`serial instruments left out (--no-serial): ${ids}`);
      } else if (socat === undefined) {
        notes.push(`serial instruments left out (${ids}): they need socat for their serial lines; install it (apt-get install socat) to add them`);
        logger.info({ instruments: ids }, 'socat not found: the instruments on serial lines are left out');
      } else {
        const started: Array<{ what: string; stop: () => Promise<void> }> = [];
        try {
          const dir = await ptyDir(options.dataDir);
          started.push({ what: 'serial line directory', stop: () => rm(dir, { recursive: true, force: true }) });
          const bus = of('modbus-rtu');
          if (bus.length > 0) {
            const line = await startPtyPair(socat, dir, 'rs485');
            started.push({ what: 'RS-485 line (socat)', stop: () => line.close() });
            const sim = await startModbusRtuSimulator({
              path: line.device,
              clock,
              devices: bus.map((i) => ({ unit: i.unit, profile: profileOf(i, 'modbus'), trace: trace(i) })),
            });
            started.push({ what: 'Modbus RTU bus', stop: () => sim.close() });
            for (const i of bus) transports.set(i.id, `modbus-rtu://${urlPath(line.host)}?unit=${i.unit}&baud=9600`);
            logger.info({ line: line.host, units: bus.map((i) => i.unit) }, 'simulated Modbus RTU bus started on a socat pty pair');
          }
          for (const [n, i] of of('serial').entries()) {
            const line = await startPtyPair(socat, dir, `serial${n + 1}`);
            started.push({ what: `serial line of ${i.id} (socat)`, stop: () => line.close() });
            const profile = profileOf(i, 'serial');
            const instrument = await startSerialInstrument({ path: line.device, profile, trace: trace(i), clock, intervalMs: periodMs });
            started.push({ what: `serial instrument ${i.id}`, stop: () => instrument.close() });
            // A listen-mode read waits up to the timeout for the first line: longer than the printing period.
            transports.set(i.id, `serial://${urlPath(line.host)}?baud=${profile.defaults.baud}&timeout=${Math.max(1000, periodMs + 1000)}`);
            logger.info({ line: line.host, profile: profile.id }, `simulated serial instrument ${i.id} started on a socat pty pair`);
          }
          stops.push(...started);
        } catch (err) {
          for (const { stop } of started.reverse()) await stop().catch(() => undefined);
          for (const i of onSerial) transports.delete(i.id);
          notes.push(`serial instruments left out (${ids}): their serial lines could not be set up: ${(err as Error).message}`);
          logger.warn({ err }, 'the serial lines (socat) could not be set up: the instruments on them are left out');
        }
      }
    }
  } catch (err) {
    await stopAll();
    throw err;
  }

  return {
    instruments: fleet.flatMap((instrument) => {
      const transport = transports.get(instrument.id);
      return transport === undefined ? [] : [{ instrument, transport }];
    }),
    notes,
    stop: stopAll,
  };
}
