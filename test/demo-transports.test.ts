/**
 * `jishi demo` runs its instruments over every transport (Modbus TCP, RTU over TCP, MQTT through the embedded
 * broker and, with socat, Modbus RTU and a status-line instrument on serial lines): one real demo process, asked
 * through the collector's API and read back from its store. Without socat the serial instruments are left out
 * with a note, which the in-process checks at the end cover whatever is installed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { banner, formatChange } from '../cli/demo.ts';
import { findSocat, startDemoDevices } from '../cli/demo-devices.ts';
import { DEMO_FLEET, needsSerialLine, type DemoInstrument, type DemoLink } from '../cli/demo-fleet.ts';
import { systemClock } from '../common/clock.ts';
import { silentLogger } from '../common/log.ts';
import { parseTransportUrl } from '../common/transport-url.ts';
import type { InstrumentList, InstrumentView } from '../common/wire.ts';
import { getProfile } from '../devices/catalog.ts';
import { DEMO_TRACES, type TraceSegment } from '../devices/traces.ts';
import { requireOrSkip } from './helpers/require-tool.ts';
import { socatAvailable } from './helpers/socat.ts';
import { until } from './helpers/wait.ts';

const BIN = fileURLToPath(new URL('../bin/jishi.mjs', import.meta.url));
/** The transport scheme each demo link must use. */
const SCHEME: Record<DemoLink, string> = {
  'modbus-tcp': 'modbus-tcp',
  'rtu-over-tcp': 'modbus-tcp',
  mqtt: 'mqtt',
  'modbus-rtu': 'modbus-rtu',
  serial: 'serial',
};
/** What the demo itself runs: the serial instruments only when it finds socat. */
const EXPECTED: readonly DemoInstrument[] = DEMO_FLEET.filter((i) => findSocat() !== undefined || !needsSerialLine(i));
const SERIAL_IDS = DEMO_FLEET.filter(needsSerialLine).map((i) => i.id);

/** An instrument has delivered: a power reading (and, for a status-line instrument, its status) and a live state. */
function delivered(view: InstrumentView | undefined, instrument: DemoInstrument): boolean {
  const last = view?.last_reading;
  if (!view || !last || view.state === 'unknown') return false;
  if (instrument.link === 'serial' && typeof last.status !== 'string') return false;
  return typeof last.readings.power_w === 'number';
}

describe('the demo fleet', () => {
  it('has every transport, catalog profiles that support it, and thresholds between standby and active power', () => {
    const links = new Set(DEMO_FLEET.map((i) => i.link));
    expect([...links].sort()).toEqual(['modbus-rtu', 'modbus-tcp', 'mqtt', 'rtu-over-tcp', 'serial']);
    expect(new Set(DEMO_FLEET.map((i) => i.id)).size).toBe(DEMO_FLEET.length);
    expect(DEMO_FLEET.filter((i) => i.link === 'mqtt').map((i) => i.profile).sort()).toEqual(['shelly-gen2-switch', 'tasmota-plug']);
    for (const i of DEMO_FLEET) {
      const profile = getProfile(i.profile);
      expect(profile, i.id).toBeDefined();
      const transport = SCHEME[i.link];
      expect(profile!.transports, i.id).toContain(transport);
      const segments: readonly TraceSegment[] = DEMO_TRACES[i.trace].segments;
      const high = (s: TraceSegment): number => s.powerW + (s.noiseW ?? 0);
      const low = (s: TraceSegment): number => s.powerW - (s.noiseW ?? 0);
      const idle = segments.filter((s) => s.state === 'standby');
      const running = segments.filter((s) => s.state === 'active');
      expect(i.off_w, i.id).toBeLessThan(Math.min(...idle.map(low)));
      expect(i.active_w, i.id).toBeGreaterThan(Math.max(...idle.map(high)));
      expect(i.active_w, i.id).toBeLessThan(Math.min(...running.map(low)));
    }
    // A trace shared by two instruments plays with another seed.
    const seeds = DEMO_FLEET.map((i) => `${i.trace}/${i.seed}`);
    expect(new Set(seeds).size).toBe(seeds.length);
  });
});

describe('jishi demo over every transport (a real process)', () => {
  let tmp: string;
  let data: string;
  let child: ChildProcess;
  let stdout = '';
  let stderr = '';
  let exited: Promise<number | null>;
  let url: string;
  let list: InstrumentList;

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'jishi-demo-transports-'));
    data = join(tmp, 'demo');
    child = spawn(process.execPath, [BIN, 'demo', '--port', '0', '--data', data, '--poll', '0.5', '--no-table'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    url = await until('the demo to print its URL', () => /(http:\/\/127\.0\.0\.1:\d+)\/api\/v1\/instruments/.exec(stdout)?.[1], 10_000);
    try {
      list = await until(
        'every instrument of every transport to deliver readings',
        async () => {
          const body = (await (await fetch(`${url}/api/v1/instruments`)).json()) as InstrumentList;
          const byId = new Map(body.instruments.map((v) => [v.id, v]));
          return EXPECTED.every((i) => delivered(byId.get(i.id), i)) ? body : undefined;
        },
        12_000,
        200,
      );
    } finally {
      child.kill('SIGINT');
    }
  }, 30_000);

  afterAll(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(tmp, { recursive: true, force: true });
  });

  it('prints which instrument is on which transport', () => {
    for (const i of EXPECTED) {
      const line = stdout.split('\n').find((l) => l.startsWith(`  ${i.id} `));
      expect(line, i.id).toBeDefined();
      const [, link, transport] = /^ {2}\S+\s+(\S+)\s+.*\s(\S+:\/\/\S+)$/.exec(line!) ?? [];
      expect(link, line).toBe(i.link);
      expect(line).toContain(i.device);
      expect(transport!.startsWith(`${SCHEME[i.link]}://`), line).toBe(true);
      const parsed = parseTransportUrl(transport!);
      expect(parsed.ok, line).toBe(true);
      if (i.link === 'rtu-over-tcp') expect(transport).toContain('framing=rtu');
    }
    expect(stdout).toMatch(new RegExp(`jishi demo: ${EXPECTED.length} simulated instruments on ${new Set(EXPECTED.map((i) => i.link)).size} transports`));
  });

  it('every instrument of every transport delivered readings to the collector', () => {
    expect(list.instruments.map((i) => i.id).sort()).toEqual(EXPECTED.map((i) => i.id).sort());
    for (const i of EXPECTED) {
      const view = list.instruments.find((v) => v.id === i.id)!;
      expect(view.name).toBe(i.name);
      expect(view.agent_id).toBe('demo-agent');
      expect(['off', 'standby', 'active'], `${i.id} ${view.state}`).toContain(view.state);
      expect(view.last_reading?.error, i.id).toBeUndefined();
      expect(typeof view.last_reading?.readings.power_w, i.id).toBe('number');
    }
  });

  it('stops cleanly: exit code 0, readings stored, no errors logged, the serial lines gone', async () => {
    expect(await exited, stderr).toBe(0);
    expect(stdout).toMatch(/stopping \(SIGINT\)/);
    expect(stdout).toMatch(/stopped: \d+ samples delivered/);
    const db = new Database(join(data, 'jishi.sqlite'), { readonly: true });
    try {
      const rows = db.prepare('SELECT instrument_id, COUNT(*) AS n FROM readings GROUP BY instrument_id').all() as { instrument_id: string; n: number }[];
      expect(rows.map((r) => r.instrument_id).sort()).toEqual(EXPECTED.map((i) => i.id).sort());
      for (const r of rows) expect(r.n, r.instrument_id).toBeGreaterThan(0);
    } finally {
      db.close();
    }
    const log = readFileSync(join(data, 'demo.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(log.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
    expect(log.some((l) => l.msg === 'agent stopped; every sample was sent')).toBe(true);
    expect(readdirSync(data).filter((f) => f.startsWith('pty-'))).toEqual([]);
  });

  describe.skipIf(requireOrSkip('socat', socatAvailable()))('with socat', () => {
    it('runs a status-line instrument and a Modbus RTU meter on serial lines of their own', () => {
      for (const id of SERIAL_IDS) expect(EXPECTED.map((i) => i.id)).toContain(id);
      const status = DEMO_FLEET.find((i) => i.link === 'serial')!;
      const rtu = DEMO_FLEET.find((i) => i.link === 'modbus-rtu')!;
      const statusView = list.instruments.find((v) => v.id === status.id);
      const rtuView = list.instruments.find((v) => v.id === rtu.id);
      // The status line's word (STATUS RUN / READY / OFF), as the profile mapped it.
      expect(statusView?.last_reading?.status).toMatch(/^(active|standby|off): (RUN|READY|IDLE|OFF)$/);
      expect(typeof rtuView?.last_reading?.readings.energy_kwh).toBe('number');
      const serialLine = /serial:\/\/(\/\S+?)\?/.exec(stdout)?.[1];
      const rtuLine = /modbus-rtu:\/\/(\/\S+?)\?/.exec(stdout)?.[1];
      expect(serialLine).toBeDefined();
      expect(rtuLine).toBeDefined();
      expect(serialLine).not.toBe(rtuLine);
      // The pty links live under the demo's data dir and are removed at stop.
      expect(decodeURIComponent(serialLine!).startsWith(join(data, 'pty-'))).toBe(true);
      expect(stdout).not.toMatch(/left out/);
    });
  });
});

describe('the serial instruments without socat (in process)', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'jishi-demo-nosocat-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it.each([
    { what: 'socat is not installed', options: { socat: null }, note: /socat.*apt-get install socat/ },
    { what: '--no-serial', options: { serial: false }, note: /--no-serial/ },
  ])('leaves them out with one note when $what, and runs the others', async ({ options, note }) => {
    const devices = await startDemoDevices({ fleet: DEMO_FLEET, dataDir: tmp, clock: systemClock, logger: silentLogger(), ...options });
    try {
      expect(devices.instruments.map((r) => r.instrument.id)).toEqual(DEMO_FLEET.filter((i) => !needsSerialLine(i)).map((i) => i.id));
      expect(devices.notes).toHaveLength(1);
      expect(devices.notes[0]).toMatch(note);
      for (const id of SERIAL_IDS) expect(devices.notes[0]).toContain(id);
      const lines = banner(devices.instruments);
      expect(lines[0]).toMatch(/^jishi demo: 5 simulated instruments on 3 transports/);
      expect(lines.slice(1).map((l) => l.trim().split(/\s+/)[1])).toEqual(['modbus-tcp', 'modbus-tcp', 'rtu-over-tcp', 'mqtt', 'mqtt']);
    } finally {
      await devices.stop();
    }
    expect(existsSync(tmp) && readdirSync(tmp).filter((f) => f.startsWith('pty-'))).toEqual([]);
  });

  it('names the instrument in state-change lines', () => {
    expect(formatChange({ instrument_id: 'PCR-2022-005', at: Date.now(), from: 'unknown', to: 'active' })).toMatch(
      /PCR-2022-005 实时荧光定量PCR仪 QuantStudio 5: unknown -> active$/,
    );
  });
});
