/**
 * `npm run bench`: the benchmarks of issue #9, each figure printed with its baseline measured in the same run
 * and their ratio (machines are noisy: ratios of medians over several runs, not absolute times).
 * Not part of `npm test`. Results: a table on stdout, JSON in bench/results/latest.json (or --out).
 * See docs/benchmarks.md for what each figure means and how it is measured.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { getHeapStatistics } from 'node:v8';
import { dirname, resolve } from 'node:path';
import { runAgentFootprint } from './agent.ts';
import { runE2e } from './e2e.ts';
import { runEngine } from './engine.ts';
import { runExport } from './export.ts';
import { runIngest } from './ingest.ts';
import { describeMachine, machineInfo } from './lib/machine.ts';
import { ROOT, stopAllChildren } from './lib/proc.ts';
import { parseArgs, renderTable, USAGE, verdict, type BenchName, type BenchOptions, type Figure } from './lib/report.ts';

const BENCHES: Record<BenchName, (o: BenchOptions) => Promise<Figure[]>> = {
  ingest: runIngest,
  agent: runAgentFootprint,
  engine: runEngine,
  e2e: runE2e,
  export: runExport,
};

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const machine = machineInfo();
  const args = process.argv.slice(2);
  const command = args.length === 0 ? 'npm run bench' : `npm run bench -- ${args.join(' ')}`;
  process.stderr.write(`machine: ${describeMachine(machine)}\n`);
  process.stderr.write(`benchmarks: ${options.only.join(', ')}; runs: ${options.runs}${options.quick ? '; quick' : ''}\n`);

  const started = new Date();
  const t0 = performance.now();
  const figures: Figure[] = [];
  const errors: Array<{ bench: BenchName; error: string }> = [];
  const seconds: Partial<Record<BenchName, number>> = {};
  for (const name of options.only) {
    const t = performance.now();
    try {
      figures.push(...(await BENCHES[name](options)));
    } catch (err) {
      const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
      process.stderr.write(`[${name}] FAILED: ${message}\n`);
      errors.push({ bench: name, error: message });
    } finally {
      await stopAllChildren();
    }
    seconds[name] = Math.round((performance.now() - t) / 100) / 10;
  }

  const table = renderTable(figures);
  process.stdout.write(`\n${table}\n`);
  for (const f of figures) if (f.note) process.stdout.write(`  ${f.id}: ${f.note}\n`);
  for (const e of errors) process.stdout.write(`  ${e.bench}: did not complete: ${e.error.split('\n')[0]}\n`);

  const out = resolve(ROOT, options.out);
  await mkdir(dirname(out), { recursive: true });
  const json = {
    started_at: started.toISOString(),
    seconds: Math.round((performance.now() - t0) / 100) / 10,
    seconds_per_bench: seconds,
    command,
    options,
    machine,
    figures: figures.map((f) => ({ ...f, verdict: verdict(f) })),
    errors,
  };
  await writeFile(out, `${JSON.stringify(json, null, 2)}\n`);
  process.stdout.write(`\nresults: ${out} (${json.seconds} s)\n`);
  return errors.length > 0 ? 1 : 0;
}

/**
 * The annual export of 1,000 instruments holds the whole report and workbook in memory: the heap may need more
 * than node's default limit. When it is below 8 GiB, run again as a child with --max-old-space-size (tsx's loader
 * flags are in process.execArgv, so the child runs the same way); the parent only relays signals and the exit code.
 */
const HEAP_MB = 8192;
const relaunch = getHeapStatistics().heap_size_limit < HEAP_MB * 0.9 * 2 ** 20 && process.env.JISHI_BENCH_CHILD === undefined;

if (relaunch) {
  const child = spawn(process.execPath, [...process.execArgv, `--max-old-space-size=${HEAP_MB}`, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, JISHI_BENCH_CHILD: '1' },
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  const exitCode = await new Promise<number>((resolve) => child.once('exit', (c, sig) => resolve(c ?? (sig ? 130 : 1))));
  process.exit(exitCode);
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping the benchmark's processes\n`);
    void stopAllChildren().finally(() => process.exit(130));
  });
}

const code = await main().catch(async (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await stopAllChildren();
  return 1;
});
process.exit(code);
