/**
 * `jishi demo`: a simulated lab, an agent reading it and a collector on the embedded store, all in this process
 * and over real sockets: energy meters on a Modbus TCP gateway and behind an RTU-over-TCP serial server, smart
 * plugs on an embedded MQTT broker and, when socat is installed, a Modbus RTU meter and a status-line instrument
 * on serial lines (socat pty pairs). Prints where to look, which instrument is on which transport, and a live table.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { Value } from '@sinclair/typebox/value';
import { join, resolve } from 'node:path';
import { systemClock } from '../common/clock.ts';
import { createLogger, type LogLevel } from '../common/log.ts';
import { INSTRUMENTS_PATH, InstrumentList as InstrumentListSchema, type InstrumentList } from '../common/wire.ts';
import { sha256Hex } from '../collector/auth.ts';
import { DEFAULT_TIME_ZONE, localDay } from '../collector/engine/time-zone.ts';
import { collectorConfigFromObject, STORE_FILE } from '../collector/config.ts';
import { startCollector, type RunningCollector } from '../collector/server.ts';
import type { StateChange } from '../collector/engine-runner.ts';
import { agentConfigFromObject } from '../agent/config.ts';
import { startAgent, type RunningAgent } from '../agent/agent.ts';
import { newToken } from './token.ts';
import { renderTable } from './live-table.ts';
import { LINK_LABELS, startDemoDevices, type DemoDevices, type RunningDemoInstrument } from './demo-devices.ts';
import { DEMO_ENGINE, DEMO_FLEET } from './demo-fleet.ts';
import { untilSignal } from './signals.ts';

export interface DemoOptions {
  port: number;
  host: string;
  data: string;
  modbusPort: number;
  poll: number;
  /** False leaves out the instruments on serial lines (socat pty pairs); default true. */
  serial?: boolean;
  duration?: number;
  table: boolean;
  logLevel: string;
}

const AGENT_ID = 'demo-agent';

function clockTime(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 8);
}

export function formatChange(c: StateChange): string {
  const name = DEMO_FLEET.find((i) => i.id === c.instrument_id)?.name ?? '';
  return `${clockTime(c.at)}  ${c.instrument_id} ${name}: ${c.from} -> ${c.to}`;
}

/** Effective hours today per instrument, from the utilization API (the same figures a manager sees). */
async function fetchEffectiveToday(baseUrl: string): Promise<Map<string, number>> {
  const today = localDay(Date.now(), DEFAULT_TIME_ZONE); // the demo collector runs in the default zone
  const res = await fetch(`${baseUrl}/api/v1/utilization?group=total&from=${today}&to=${today}`);
  if (!res.ok) throw new Error(`GET /api/v1/utilization answered ${res.status}`);
  const body = (await res.json()) as { instruments: Array<{ id: string; periods: Array<{ effective_h: number }> }> };
  return new Map(body.instruments.map((i) => [i.id, i.periods[0]?.effective_h ?? 0]));
}

async function fetchInstruments(baseUrl: string): Promise<InstrumentList> {
  const res = await fetch(`${baseUrl}${INSTRUMENTS_PATH}`);
  if (!res.ok) throw new Error(`GET ${INSTRUMENTS_PATH} answered ${res.status}`);
  const body: unknown = await res.json();
  if (!Value.Check(InstrumentListSchema, body)) throw new Error(`GET ${INSTRUMENTS_PATH} answered an unexpected body`);
  return body;
}

/** The banner's first lines: how many instruments, then one line per instrument: id, transport, device, URL. */
export function banner(instruments: readonly RunningDemoInstrument[]): string[] {
  const links = new Set(instruments.map((i) => i.instrument.link));
  const idWidth = Math.max(...instruments.map((i) => i.instrument.id.length)) + 2;
  const linkWidth = Math.max(...instruments.map((i) => LINK_LABELS[i.instrument.link].length)) + 2;
  const deviceWidth = Math.max(...instruments.map((i) => i.instrument.device.length)) + 2;
  return [
    `jishi demo: ${instruments.length} simulated instruments on ${links.size} transports, read by an agent, with a collector on the embedded store`,
    ...instruments.map(
      ({ instrument: i, transport }) =>
        `  ${i.id.padEnd(idWidth)}${LINK_LABELS[i.link].padEnd(linkWidth)}${i.device.padEnd(deviceWidth)}${transport}`,
    ),
  ];
}

export async function runDemo(opts: DemoOptions): Promise<void> {
  const clock = systemClock;
  const dataDir = resolve(opts.data);
  mkdirSync(dataDir, { recursive: true });
  const logPath = join(dataDir, 'demo.log');
  const logFd = openSync(logPath, 'a');
  const logger = createLogger({ level: opts.logLevel as LogLevel, name: 'demo', destination: logFd });
  const out = process.stdout;
  // A reader that goes away (`jishi demo | head`) must not crash the demo with its devices and socat running.
  const onOutError = (err: NodeJS.ErrnoException): void => {
    if (err.code !== 'EPIPE') throw err;
  };
  out.on('error', onOutError);
  const color = out.isTTY === true && process.env.NO_COLOR === undefined;
  const live = opts.table && out.isTTY === true;

  let devices: DemoDevices | undefined;
  let collector: RunningCollector | undefined;
  let agent: RunningAgent | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  const recentChanges: string[] = [];

  const stopAll = async (): Promise<void> => {
    if (timer) clearInterval(timer);
    await agent?.stop();
    await collector?.close();
    await devices?.stop();
  };

  try {
    devices = await startDemoDevices({
      fleet: DEMO_FLEET,
      dataDir,
      clock,
      logger: logger.child({ component: 'devices' }),
      modbusPort: opts.modbusPort,
      serial: opts.serial !== false,
    });
    const fleet = devices.instruments;

    const token = newToken();
    const collectorConfig = collectorConfigFromObject(
      {
        listen: { host: opts.host, port: opts.port },
        data_dir: dataDir,
        agents: [{ id: AGENT_ID, token_sha256: sha256Hex(token) }],
        instruments: fleet.map(({ instrument: i }) => ({ id: i.id, name: i.name, off_w: i.off_w, active_w: i.active_w, ...DEMO_ENGINE })),
        max_gap_s: Math.max(10, opts.poll * 10),
      },
      'demo',
    );
    collector = await startCollector(collectorConfig, {
      clock,
      logger: logger.child({ component: 'collector' }),
      onIngest: (event) => {
        for (const change of event.changes) {
          const line = formatChange(change);
          recentChanges.push(line);
          if (recentChanges.length > 6) recentChanges.shift();
          if (!live) out.write(`${line}\n`);
        }
      },
    });

    const agentConfig = agentConfigFromObject(
      {
        agent: { id: AGENT_ID },
        collector: { url: collector.url, token },
        poll_interval_s: opts.poll,
        batch_interval_s: 1,
        state_dir: join(dataDir, 'agent-state'),
        instruments: fleet.map(({ instrument: i, transport }) => ({ id: i.id, name: i.name, profile: i.profile, transport })),
      },
      'demo',
      { env: {} },
    );
    agent = await startAgent(agentConfig, { clock, logger: logger.child({ component: 'agent' }) });
  } catch (err) {
    await stopAll();
    closeSync(logFd);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new Error(`port ${opts.port} on ${opts.host} is in use: choose another with --port N (or --port 0 for any free port)`);
    }
    throw err;
  }

  const base = collector.url;
  out.write(
    [
      ...banner(devices.instruments),
      ...devices.notes.map((note) => `  note: ${note}`),
      `  console      ${base}/   <- open this in a browser (live board, instrument pages, the year's figures)`,
      `  instruments  ${base}${INSTRUMENTS_PATH}   (the same as JSON)`,
      `  health       ${base}/healthz`,
      `  store        ${join(dataDir, STORE_FILE)}`,
      `  logs         ${logPath}`,
      `Polling every ${opts.poll} s. ${opts.duration ? `Stops after ${opts.duration} s; ` : ''}Ctrl-C stops everything.`,
      '',
    ].join('\n'),
  );

  let drawnLines = 0;
  const running = agent;
  const draw = async (): Promise<void> => {
    let list: InstrumentList;
    let effectiveToday: Map<string, number>;
    try {
      [list, effectiveToday] = await Promise.all([fetchInstruments(base), fetchEffectiveToday(base)]);
    } catch (err) {
      logger.warn({ err }, 'live table: cannot read the instruments');
      return;
    }
    const s = running.status();
    const errors = s.instruments.reduce((n, i) => n + i.errors, 0);
    const footer = `agent ${s.agentId}: ${s.uplink.sentSamples} samples delivered, ${s.uplink.queueDepth} queued, ${errors} read errors`;
    if (live) {
      const text = [renderTable(list.instruments, { color, now: list.server_time, effectiveToday }), '', footer, '', 'state changes:', ...recentChanges].join('\n');
      if (drawnLines > 0) out.write(`\x1b[${drawnLines}F\x1b[J`);
      out.write(`${text}\n`);
      drawnLines = text.split('\n').length;
    } else if (opts.table) {
      out.write(`${renderTable(list.instruments, { color: false, now: list.server_time, effectiveToday })}\n${footer}\n\n`);
    }
  };
  // Without a terminal the table is printed every 10 s; with one it is redrawn every second.
  const periodMs = live ? 1000 : 10_000;
  await draw();
  timer = setInterval(() => void draw(), periodMs);

  const reason = await Promise.race([
    untilSignal(),
    ...(opts.duration ? [new Promise<string>((r) => setTimeout(() => r('duration'), (opts.duration ?? 0) * 1000).unref())] : []),
  ]);
  out.write(`\nstopping (${reason})...\n`);
  await stopAll();
  const final = running.status();
  out.write(`stopped: ${final.uplink.sentSamples} samples delivered; data kept in ${dataDir}\n`);
  closeSync(logFd);
}
