/**
 * Processes for the benchmarks: spawning the project's own commands as child processes (each one tracked and
 * ended by its pid when the bench ends or is interrupted), and reading their memory and CPU from /proc.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitExit } from '../../test/helpers/server-process.ts';

/** The project root (bench/lib/ is two levels down). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const JISHI_BIN = join(ROOT, 'bin', 'jishi.mjs');

/** Clock ticks per second of /proc/<pid>/stat's utime and stime. */
export const CLK_TCK: number = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

export interface ProcMemory {
  /** Resident set size now, kB (VmRSS). */
  rssKb: number;
  /** Peak resident set size since the process started, kB (VmHWM). */
  hwmKb: number;
}

/** VmRSS and VmHWM of a process from /proc/<pid>/status. */
export function procMemory(pid: number): ProcMemory {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    if (m === null) throw new Error(`/proc/${pid}/status has no ${key}`);
    return Number(m[1]);
  };
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

/** User + system CPU time of a process so far, seconds (fields 14 and 15 of /proc/<pid>/stat). */
export function procCpuSeconds(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): utime is field 14, stime field 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot read the CPU times of ${pid}`);
  return (utime + stime) / CLK_TCK;
}

export interface ProcSample {
  /** ms since the window began. */
  t: number;
  rssKb: number;
  cpuS: number;
}

export interface ProcWindow {
  pid: number;
  samples: ProcSample[];
  /** Median VmRSS over the window, kB. */
  rssMedianKb: number;
  rssMaxKb: number;
  /** CPU time used in the window over its wall time, % of one core. */
  cpuPercent: number;
  seconds: number;
}

/** Reads VmRSS and the CPU time of every pid every `intervalMs` for `durationMs`; the pids must stay alive. */
export async function sampleProcesses(
  pids: readonly number[],
  durationMs: number,
  intervalMs = 1000,
  onTick?: (elapsedMs: number) => void,
): Promise<ProcWindow[]> {
  const start = performance.now();
  const samples = new Map<number, ProcSample[]>(pids.map((p) => [p, []]));
  const take = (): void => {
    const t = performance.now() - start;
    for (const pid of pids) samples.get(pid)!.push({ t, rssKb: procMemory(pid).rssKb, cpuS: procCpuSeconds(pid) });
  };
  take();
  for (let k = 1; k * intervalMs <= durationMs; k++) {
    const wait = start + k * intervalMs - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    take();
    onTick?.(k * intervalMs);
  }
  return pids.map((pid) => {
    const s = samples.get(pid)!;
    const first = s[0]!;
    const last = s[s.length - 1]!;
    const seconds = (last.t - first.t) / 1000;
    const rss = s.map((x) => x.rssKb).sort((a, b) => a - b);
    return {
      pid,
      samples: s,
      rssMedianKb: rss[Math.floor((rss.length - 1) / 2)]!,
      rssMaxKb: rss[rss.length - 1]!,
      cpuPercent: seconds > 0 ? ((last.cpuS - first.cpuS) / seconds) * 100 : 0,
      seconds,
    };
  });
}

// ---- child processes -------------------------------------------------------------------------

const children = new Set<ChildProcess>();

export interface Child {
  proc: ChildProcess;
  pid: number;
  /** The last 8 kB of its stderr, for error messages. */
  stderr(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
  exited(): boolean;
}

/** Spawns a command in the project root with a tracked pid. stdout is piped (readLine reads it). */
export function spawnChild(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Child {
  const proc = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  if (proc.pid === undefined) throw new Error(`could not start ${command} ${args.join(' ')}`);
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  let stderr = '';
  proc.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-8000);
  });
  const pid = proc.pid;
  return {
    proc,
    pid,
    stderr: () => stderr,
    exited: () => proc.exitCode !== null || proc.signalCode !== null,
    async stop(graceMs = 10_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      if (!(await waitExit(proc, graceMs))) {
        proc.kill('SIGKILL');
        await waitExit(proc, 5000);
      }
    },
  };
}

/**
 * `node <args>` (this node binary). With JISHI_BENCH_CPU_PROF=DIR in the environment every such child writes a
 * V8 CPU profile into DIR when it exits (`node --cpu-prof`), to find what limits a figure.
 */
export function spawnNode(args: readonly string[], env: NodeJS.ProcessEnv = {}): Child {
  const profDir = process.env.JISHI_BENCH_CPU_PROF;
  const prof = profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
  return spawnChild(process.execPath, [...prof, ...args], env);
}

/** `node bin/jishi.mjs <args>`: the project's CLI, as users run it. */
export function spawnJishi(args: readonly string[], env: NodeJS.ProcessEnv = {}): Child {
  return spawnNode([JISHI_BIN, ...args], env);
}

/** A TypeScript file of bench/ run with the tsx loader in its own process. */
export function spawnTs(file: string, args: readonly string[] = []): Child {
  return spawnNode(['--import', 'tsx', join(ROOT, file), ...args]);
}

/** The first stdout line of a child that parses as JSON; rejects when it exits first or after `timeoutMs`. */
export function readJsonLine<T>(child: Child, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const cleanup = (): void => {
      clearTimeout(timer);
      child.proc.stdout?.off('data', onData);
      child.proc.off('exit', onExit);
    };
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        try {
          const value = JSON.parse(line) as T;
          cleanup();
          resolve(value);
          return;
        } catch {
          // not ours
        }
      }
    };
    const onExit = (): void => {
      cleanup();
      reject(new Error(`child ${child.pid} exited before it was ready\n${child.stderr()}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`child ${child.pid} did not report within ${timeoutMs} ms\n${child.stderr()}`));
    }, timeoutMs);
    child.proc.stdout?.on('data', onData);
    child.proc.once('exit', onExit);
  });
}

const cleanups = new Set<() => Promise<void>>();

/**
 * Registers something to undo when the bench ends or is interrupted (a server started by another helper, a temp
 * dir); returns the function that runs it once and unregisters it.
 */
export function onCleanup(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const once = (): Promise<void> => {
    cleanups.delete(once);
    return (done ??= fn());
  };
  cleanups.add(once);
  return once;
}

/** Ends every child still running (SIGTERM then SIGKILL), each by its own pid, then runs the registered cleanups. */
export async function stopAllChildren(): Promise<void> {
  await Promise.all(
    [...children].map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      c.kill('SIGTERM');
      if (!(await waitExit(c, 5000))) {
        c.kill('SIGKILL');
        await waitExit(c, 5000);
      }
    }),
  );
  for (const fn of [...cleanups].reverse()) await fn().catch(() => undefined);
}

/** Polls `probe` every `everyMs` until it returns something other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let v: T | undefined | false;
    try {
      v = await probe();
    } catch {
      v = undefined;
    }
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Progress on stderr: `[ingest 12.3s] message`. */
export function progress(bench: string, startedAt: number, message: string): void {
  process.stderr.write(`[${bench} ${((performance.now() - startedAt) / 1000).toFixed(1)}s] ${message}\n`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A fresh temp dir under the OS temp dir, removed by `remove()` or when the bench ends or is interrupted. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const remove = onCleanup(() => rm(dir, { recursive: true, force: true }));
  return { dir, remove };
}
