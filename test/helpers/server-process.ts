/**
 * The lifecycle of a real server process for integration tests (mosquitto, influxd): a fresh temp dir for its
 * config and data, spawn, wait until it is ready, halt (an outage) and restart on the same ports, stop for good.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How to run one server, as `prepare` returns it once its temp dir, ports and config are there. */
export interface ServerCommand {
  /** For messages: `mosquitto`, `influxd`. */
  name: string;
  command: string;
  args: readonly string[];
  /** One readiness probe (resolves false while not ready). */
  ready(): Promise<boolean>;
  /** What did not happen in time, for the message: `did not answer GET /ping`. */
  notReady: string;
  /** Pause between readiness probes. */
  pollMs: number;
}

export interface ServerControl {
  /** Stops it for good and removes its temp dir. */
  stop(): Promise<void>;
  /** Stops the process only (an outage): its temp dir stays for restart(). */
  halt(): Promise<void>;
  /** Starts it again with the same command (same ports and data), after halt(). */
  restart(): Promise<void>;
  /** The running process's pid (undefined while halted): the bench reads its CPU time. */
  pid(): number | undefined;
}

/** Resolves true once the process has exited (at once if it had), false when `ms` passed first. */
export function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function startOnce<T extends object>(
  tempPrefix: string,
  deadlineMs: number,
  prepare: (dir: string) => Promise<{ server: ServerCommand; info: T }>,
): Promise<T & ServerControl> {
  const dir = await mkdtemp(join(tmpdir(), tempPrefix));
  let prepared: { server: ServerCommand; info: T };
  try {
    prepared = await prepare(dir);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const { server, info } = prepared;

  let child: ChildProcess | undefined;
  /** Stops the process (SIGTERM, then SIGKILL), keeping the temp dir. */
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
  /** Starts the process and waits until it is ready; halts it and throws (with its stderr) when it is not. */
  const launch = async (): Promise<void> => {
    const c = spawn(server.command, server.args, { stdio: ['ignore', 'ignore', 'pipe'] });
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
        throw new Error(`${server.name} exited before it was ready: ${spawnError?.message ?? `code ${c.exitCode}`}\n${stderr}`);
      }
      if (await server.ready()) return;
      if (Date.now() > deadline) {
        await halt();
        throw new Error(`${server.name} ${server.notReady} within ${deadlineMs} ms\n${stderr}`);
      }
      await new Promise((r) => setTimeout(r, server.pollMs));
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
  return { ...info, stop, halt, restart: launch, pid: () => child?.pid };
}

/**
 * Makes a temp dir (`tempPrefix` + random), lets `prepare` pick ports and write the config into it, starts the
 * server and waits until `ready()` holds. Retries twice from scratch (new dir, new ports) if a start fails, e.g.
 * because a port was taken in between. Resolves to `info` plus the lifecycle controls.
 */
export async function startServerProcess<T extends object>(
  tempPrefix: string,
  deadlineMs: number,
  prepare: (dir: string) => Promise<{ server: ServerCommand; info: T }>,
): Promise<T & ServerControl> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(tempPrefix, deadlineMs, prepare);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}
