/**
 * A real serial line for tests: `socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B` joins two pseudo-terminals,
 * so a driver opens one end with serialport and a simulated instrument the other. Baud rates are not enforced.
 *
 * pull() kills socat (the cable is pulled: both ends vanish, reads fail) and plug() starts it again with the
 * same link names (the cable is back), as a USB-serial adapter that is unplugged and plugged in again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { executable } from './require-tool.ts';

/** The socat binary: $JISHI_SOCAT or /usr/bin/socat. */
export const SOCAT_PATH = process.env.JISHI_SOCAT ?? '/usr/bin/socat';

export function socatAvailable(): boolean {
  return executable(SOCAT_PATH);
}

export interface PtyPair {
  /** Path of one end (a symlink to /dev/pts/N), e.g. for the driver. */
  readonly a: string;
  /** Path of the other end, e.g. for the simulated instrument. */
  readonly b: string;
  /** Kills socat: both ends disappear (cable pulled). */
  pull(): Promise<void>;
  /** Starts socat again with the same paths (cable plugged back). */
  plug(): Promise<void>;
  /** Stops socat and removes the temp dir. */
  close(): Promise<void>;
}

/** Starts a pty pair in a fresh temp dir; resolves when both link paths exist. */
export async function startPtyPair(names: { a?: string; b?: string } = {}): Promise<PtyPair> {
  const dir = await mkdtemp(join(tmpdir(), 'jishi-pty-'));
  const a = join(dir, names.a ?? 'host');
  const b = join(dir, names.b ?? 'device');
  let proc: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const child = spawn(SOCAT_PATH, [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    proc = child;
    const deadline = Date.now() + 5000;
    while (!(existsSync(a) && existsSync(b))) {
      if (child.exitCode !== null) throw new Error(`socat exited with ${child.exitCode}: ${stderr.trim()}`);
      if (Date.now() > deadline) throw new Error(`socat did not create ${a} and ${b} within 5 s: ${stderr.trim()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  const stop = async (): Promise<void> => {
    const child = proc;
    proc = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
    // socat removes its links on exit; wait until they are gone so plug() sees fresh ones.
    const deadline = Date.now() + 2000;
    while ((existsSync(a) || existsSync(b)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  };

  await start();
  return {
    a,
    b,
    pull: stop,
    plug: start,
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
