/**
 * Starts a real InfluxDB 1.x server (`influxd`) for integration tests: a generated config in a temp dir,
 * free loopback ports for the HTTP API and the RPC bind-address, no reporting, quiet logs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../common/net.ts';

/** The influxd binary: $JISHI_INFLUXD or /usr/bin/influxd. */
export const INFLUXD_PATH = process.env.JISHI_INFLUXD ?? '/usr/bin/influxd';

export interface RunningInfluxd {
  /** e.g. `http://127.0.0.1:38123` */
  url: string;
  port: number;
  /** Stops it for good and removes its data. */
  stop(): Promise<void>;
  /** Stops the process only (an outage): its data stays for restart(). */
  halt(): Promise<void>;
  /** Starts it again on the same port with the same data, after halt(). */
  restart(): Promise<void>;
}

/** True when the influxd binary exists and is executable. */
export function influxdAvailable(): boolean {
  try {
    accessSync(INFLUXD_PATH, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export { requireOrSkip } from './require-tool.ts';

function configToml(dir: string, httpPort: number, rpcPort: number): string {
  return `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${join(dir, 'meta')}"
  logging-enabled = false

[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false
  trace-logging-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  auth-enabled = false
  log-enabled = false
  write-tracing = false

[logging]
  level = "error"
  suppress-logo = true

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false
  log-enabled = false

[retention]
  enabled = false
`;
}

async function ping(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
    return res.status === 204;
  } catch {
    return false;
  }
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function startOnce(deadlineMs: number): Promise<RunningInfluxd> {
  const dir = await mkdtemp(join(tmpdir(), 'jishi-influxd-'));
  const httpPort = await freePort();
  let rpcPort = await freePort();
  while (rpcPort === httpPort) rpcPort = await freePort();
  const configPath = join(dir, 'influxdb.conf');
  await writeFile(configPath, configToml(dir, httpPort, rpcPort));
  const url = `http://127.0.0.1:${httpPort}`;

  let child: ChildProcess | undefined;
  /** Stops the process (SIGTERM, then SIGKILL), keeping its data directory. */
  const halt = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    c.kill('SIGTERM');
    if (!(await waitExit(c, 5000))) {
      c.kill('SIGKILL');
      await waitExit(c, 5000);
    }
  };
  /** Starts the process on the same ports and data, and waits for GET /ping. */
  const launch = async (): Promise<void> => {
    const c = spawn(INFLUXD_PATH, ['run', '-config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    let stderr = '';
    c.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
    });
    let spawnError: Error | undefined;
    c.once('error', (err) => {
      spawnError = err;
    });
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      if (spawnError || c.exitCode !== null || c.signalCode !== null) {
        await halt();
        throw new Error(`influxd exited before it was ready: ${spawnError?.message ?? `code ${c.exitCode}`}\n${stderr}`);
      }
      if (await ping(url)) return;
      if (Date.now() > deadline) {
        await halt();
        throw new Error(`influxd did not answer GET /ping within ${deadlineMs} ms\n${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      await halt();
      await rm(dir, { recursive: true, force: true });
    })());
  try {
    await launch();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return { url, port: httpPort, stop, halt, restart: launch };
}

/** Starts influxd and waits until GET /ping answers 204. Retries twice if a port was taken in between. */
export async function startInfluxd(options: { deadlineMs?: number } = {}): Promise<RunningInfluxd> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options.deadlineMs ?? 20_000);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}
