/**
 * One writer per data directory: the collector holds `<data_dir>/jishi.lock` (its pid) while it runs, and the
 * offline commands that rewrite derived tables (`jishi recompute`) refuse to run while a live process holds it.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'jishi.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid holding the data directory's lock, when that process is alive. */
export function lockHolder(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, LOCK_FILE), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the lock for this process; a stale lock (dead pid) is replaced. Returns the release function.
 * @throws Error naming the holder when another live process has it.
 */
export function acquireLock(dataDir: string, what: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  const holder = lockHolder(dataDir);
  if (holder !== undefined && holder !== process.pid) {
    throw new Error(`${dataDir} is in use by process ${holder} (${LOCK_FILE}); stop it before running ${what}`);
  }
  rmSync(path, { force: true });
  const fd = openSync(path, 'wx');
  writeSync(fd, `${process.pid}\n`);
  closeSync(fd);
  return () => {
    if (lockHolder(dataDir) === process.pid) rmSync(path, { force: true });
  };
}
