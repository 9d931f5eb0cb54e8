/** The `jishi` command: help for every option, config checks, token, and the demo run as a real process. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../cli/main.ts';
import { sha256Hex } from '../collector/auth.ts';
import type { InstrumentList } from '../common/wire.ts';
import { findSocat } from '../cli/demo-devices.ts';
import { DEMO_FLEET, needsSerialLine } from '../cli/demo-fleet.ts';
import { until } from './helpers/wait.ts';

const BIN = fileURLToPath(new URL('../bin/jishi.mjs', import.meta.url));

function jishi(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'jishi-cli-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('help', () => {
  const program = buildProgram();
  const commands = program.commands as Command[];

  it('has the demo, agent, collector and token subcommands', () => {
    expect(commands.map((c) => c.name())).toEqual(expect.arrayContaining(['demo', 'agent', 'collector', 'token']));
  });

  it.each(['demo', 'agent', 'collector', 'token'])('`jishi %s --help` explains every option', (name) => {
    const cmd = commands.find((c) => c.name() === name)!;
    const help = cmd.helpInformation();
    expect(cmd.description().length).toBeGreaterThan(20);
    for (const option of cmd.options) {
      expect(help).toContain(option.flags);
      expect(option.description.length, option.flags).toBeGreaterThan(8);
    }
  });

  it('the installed binary prints help and the version', () => {
    const help = jishi(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/jishi demo/);
    const demoHelp = jishi(['demo', '--help']);
    expect(demoHelp.stdout).toMatch(/--duration <seconds>/);
    expect(jishi(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('rejects a bad option value with a message naming it', () => {
    const r = jishi(['demo', '--port', 'eighty']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--port must be an integer, got "eighty"/);
  });
});

describe('config checks', () => {
  it('`jishi agent --check` reports every error of a bad config at once, with file, instrument and value', async () => {
    const file = join(tmp, 'bad-agent.yaml');
    await writeFile(
      file,
      [
        'agent:',
        '  id: lab-pc-1',
        'collector:',
        '  url: http://127.0.0.1:8080',
        '  token: abc',
        'instruments:',
        '  - id: FCM-1',
        '    profile: eastron-sdm999',
        '    transport: modbus-tcp://192.0.2.10:502?unit=1',
        '  - id: SEQ-2',
        '    profile: eastron-sdm120',
        '    transport: modbus-tcp://192.0.2.11:502?unit=900',
        '    poll_interval_s: -3',
      ].join('\n'),
    );
    const r = jishi(['agent', '--config', file, '--check']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toMatch(/3 configuration errors/);
    expect(r.stderr).toMatch(/instrument "FCM-1".*eastron-sdm999/);
    expect(r.stderr).toMatch(/instrument "SEQ-2".*unit must be between 0 and 255, got 900/);
    expect(r.stderr).toMatch(/instrument "SEQ-2".*poll_interval_s.*-3/);
  });

  it('`jishi agent --check` summarises a valid config', async () => {
    const file = join(tmp, 'agent.yaml');
    await writeFile(
      file,
      'agent: {id: lab-pc-1}\ncollector: {url: "http://127.0.0.1:8080", token: "${T}"}\ninstruments:\n  - {id: FCM-1, profile: eastron-sdm120, transport: "modbus-tcp://192.0.2.10:502?unit=3"}\n',
    );
    const r = jishi(['agent', '--config', file, '--check'], { T: 'secret-token' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/FCM-1: eastron-sdm120 at modbus-tcp:\/\/192\.0\.2\.10:502\?unit=3/);
    expect(r.stdout).not.toContain('secret-token');
  });

  it('`jishi collector --check` applies command-line overrides', () => {
    const r = jishi(['collector', '--check', '--port', '9999', '--data', join(tmp, 'd'), '--influx-url', 'http://127.0.0.1:8086']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/listen: http:\/\/127\.0\.0\.1:9999/);
    expect(r.stdout).toContain(join(tmp, 'd', 'jishi.sqlite'));
    expect(r.stdout).toMatch(/influx: http:\/\/127\.0\.0\.1:8086 database jishi/);
    const bad = jishi(['collector', '--check', '--influx-url', 'localhost:8086']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/command-line overrides/);
    expect(bad.stderr).toMatch(/\/influx\/url: must be an http: or https: URL.*localhost:8086/);
  });
});

describe('token', () => {
  it('prints a new token and the sha256 the collector stores', () => {
    const r = jishi(['token', 'lab-pc-1']);
    expect(r.code).toBe(0);
    const token = /token: (jishi_\S+)/.exec(r.stdout)?.[1];
    const hash = /token_sha256: ([0-9a-f]{64})/.exec(r.stdout)?.[1];
    expect(token).toBeDefined();
    expect(hash).toBe(sha256Hex(token!));
    expect(jishi(['token', 'lab-pc-1']).stdout).not.toContain(token!);
  });
});

describe('jishi demo (a real process)', () => {
  // The instruments on serial lines run only when the demo finds socat (test/demo-transports.test.ts covers them).
  const fleet = DEMO_FLEET.filter((i) => findSocat() !== undefined || !needsSerialLine(i));

  it('serves live instruments, stores readings, and stops cleanly on Ctrl-C', async () => {
    const data = join(tmp, 'demo');
    const child = spawn(process.execPath, [BIN, 'demo', '--port', '0', '--data', data, '--poll', '0.5', '--no-table'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const url = await until('the demo to print its URL', () => /(http:\/\/127\.0\.0\.1:\d+)\/api\/v1\/instruments/.exec(stdout)?.[1], 20_000);
      const list = await until(
        'every demo instrument to report',
        async () => {
          const body = (await (await fetch(`${url}/api/v1/instruments`)).json()) as InstrumentList;
          return body.instruments.every((i) => i.last_reading !== null && i.state !== 'unknown') ? body : undefined;
        },
        20_000,
      );
      expect(list.instruments.map((i) => i.id).sort()).toEqual(fleet.map((i) => i.id).sort());
      // --no-table prints state changes as they happen: first sight of each instrument at least.
      expect(stdout).toMatch(/FCM-2019-001 .*: unknown -> (off|standby|active)/);
      // The banner says which instrument is on which transport.
      expect(stdout).toMatch(/^ {2}FCM-2019-001\s+modbus-tcp\s+Eastron SDM120\s+modbus-tcp:\/\/127\.0\.0\.1:\d+\?unit=1$/m);
      expect(stdout).toMatch(/^ {2}PCR-2022-005\s+mqtt\s+Tasmota plug\s+mqtt:\/\/127\.0\.0\.1:\d+\/tasmota_5C3A91$/m);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited, stderr).toBe(0);
    expect(stdout).toMatch(/stopped: \d+ samples delivered/);
    const db = new Database(join(data, 'jishi.sqlite'), { readonly: true });
    try {
      const rows = db.prepare('SELECT instrument_id, COUNT(*) AS n FROM readings GROUP BY instrument_id').all() as { instrument_id: string; n: number }[];
      expect(rows).toHaveLength(fleet.length);
      for (const r of rows) expect(r.n).toBeGreaterThan(0);
    } finally {
      db.close();
    }
  }, 60_000);
});
