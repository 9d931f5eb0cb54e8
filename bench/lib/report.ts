/**
 * The benchmark's pure helpers: percentiles and medians, figures with their baseline and target, number and
 * ratio formatting, and the results table. No I/O, no clock: test/bench-smoke.test.ts runs them.
 */

/** The five benchmarks, in the order they run. */
export const BENCH_NAMES = ['ingest', 'agent', 'engine', 'e2e', 'export'] as const;
export type BenchName = (typeof BENCH_NAMES)[number];

/**
 * A target on a figure: its value or its ratio to the baseline against a limit, e.g. ratio >= 0.7 (70 % of the
 * ceiling) or value <= 2 (% of one core).
 */
export interface Target {
  on: 'value' | 'ratio';
  op: '>=' | '<=';
  limit: number;
  /** As printed, e.g. `>= 70 % of ceiling`. */
  text: string;
}

/** One measured figure: median over the runs of its value, its baseline (measured in the same run) and their ratio. */
export interface Figure {
  bench: BenchName;
  /** Stable key, e.g. `ingest.throughput`. */
  id: string;
  /** What it is, as printed. */
  label: string;
  unit: string;
  value: number | null;
  /** What the baseline is, as printed. */
  baselineLabel: string;
  baseline: number | null;
  baselineUnit?: string;
  /** value / baseline, the median of the per-run ratios (not the ratio of the medians). */
  ratio: number | null;
  target?: Target;
  /** Per-run values, baselines and ratios, for the JSON. */
  runs?: Array<{ value: number | null; baseline: number | null; ratio: number | null }>;
  /** Anything the reader must know (sizes, counts, missing data). */
  note?: string;
}

export type Verdict = 'pass' | 'FAIL' | 'info' | 'n/a';

/**
 * The p-th percentile (0..100) of the values, nearest-rank on the sorted values with linear interpolation
 * between the two nearest ranks (the same definition as numpy's default). NaN for no values.
 */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} is not within 0..100`);
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (rank - lo);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** value / baseline; null when either is missing or the baseline is 0 (or not finite). */
export function ratioOf(value: number | null, baseline: number | null): number | null {
  if (value === null || baseline === null || !Number.isFinite(value) || !Number.isFinite(baseline) || baseline === 0) return null;
  return value / baseline;
}

/** The median of the non-null numbers, null when there are none. */
export function medianOrNull(values: ReadonlyArray<number | null>): number | null {
  const present = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return present.length === 0 ? null : median(present);
}

/**
 * A figure from several runs: the median value, the median baseline and the median of the per-run ratios
 * (each run's value over the baseline measured in that same run). `ratio: false` leaves the ratio out.
 */
export function figureFromRuns(
  base: Omit<Figure, 'value' | 'baseline' | 'ratio' | 'runs'>,
  runs: ReadonlyArray<{ value: number | null; baseline: number | null }>,
  options: { ratio?: boolean } = {},
): Figure {
  // No ratio where it means nothing (CPU % against an idle process that used next to none).
  const withRatio = runs.map((r) => ({ value: r.value, baseline: r.baseline, ratio: options.ratio === false ? null : ratioOf(r.value, r.baseline) }));
  return {
    ...base,
    value: medianOrNull(withRatio.map((r) => r.value)),
    baseline: medianOrNull(withRatio.map((r) => r.baseline)),
    ratio: medianOrNull(withRatio.map((r) => r.ratio)),
    runs: withRatio,
  };
}

/** pass / FAIL against the target; info when the figure has none; n/a when what it needs was not measured. */
export function verdict(f: Pick<Figure, 'value' | 'ratio' | 'target'>): Verdict {
  if (f.target === undefined) return 'info';
  const x = f.target.on === 'value' ? f.value : f.ratio;
  if (x === null || !Number.isFinite(x)) return 'n/a';
  const ok = f.target.op === '>=' ? x >= f.target.limit : x <= f.target.limit;
  return ok ? 'pass' : 'FAIL';
}

/** A number for people: thousands separated, 3 significant digits below 100, none above. */
export function formatNumber(v: number | null): string {
  if (v === null || Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞';
  const a = Math.abs(v);
  if (a >= 100) return Math.round(v).toLocaleString('en-US');
  if (a === 0) return '0';
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

/** A value with its unit: `12,345 readings/s`, `41.2 MB`, `1.3 %`. */
export function formatValue(v: number | null, unit: string): string {
  const n = formatNumber(v);
  if (n === '—' || unit === '') return n;
  return unit === '%' ? `${n} %` : `${n} ${unit}`;
}

/** A ratio as `0.73x`, `12x`; `—` when there is none. */
export function formatRatio(r: number | null): string {
  if (r === null || !Number.isFinite(r)) return '—';
  if (r >= 100) return `${Math.round(r).toLocaleString('en-US')}x`;
  if (r >= 10) return `${r.toFixed(1)}x`;
  return `${r.toFixed(2)}x`;
}

/** Display width: CJK and full-width characters count 2 (table alignment). */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u.test(ch) ? 2 : 1;
  return w;
}

function pad(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - displayWidth(s)));
}

export const TABLE_HEADERS = ['figure', 'value', 'baseline', 'ratio', 'target', 'result'] as const;

/** The cells of one figure's row, as printed. */
export function figureCells(f: Figure): string[] {
  const baseline = f.baseline === null && f.baselineLabel === '' ? '—' : `${formatValue(f.baseline, f.baselineUnit ?? f.unit)} (${f.baselineLabel})`;
  return [f.label, formatValue(f.value, f.unit), baseline, formatRatio(f.ratio), f.target?.text ?? '—', verdict(f)];
}

/** The results as an aligned plain-text table (for the terminal). */
export function renderTable(figures: readonly Figure[]): string {
  const rows = [TABLE_HEADERS.slice(), ...figures.map(figureCells)];
  const widths = TABLE_HEADERS.map((_, i) => Math.max(...rows.map((r) => displayWidth(r[i]!))));
  const line = (cells: readonly string[]): string => cells.map((c, i) => pad(c, widths[i]!)).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(rows[0]!), rule, ...rows.slice(1).map(line)].join('\n');
}

/** The results as a Markdown table (for docs/benchmarks.md); `|` in cells is escaped. */
export function renderMarkdownTable(figures: readonly Figure[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const row = (cells: readonly string[]): string => `| ${cells.map(esc).join(' | ')} |`;
  return [row(TABLE_HEADERS), row(TABLE_HEADERS.map(() => '---')), ...figures.map((f) => row(figureCells(f)))].join('\n');
}

/** Options of `npm run bench` (see parseArgs). */
export interface BenchOptions {
  only: BenchName[];
  runs: number;
  quick: boolean;
  /** Readings of the engine benchmark's instrument (default 3 M; --full: one year at 1 Hz). */
  engineReadings: number;
  /** Where the JSON goes. */
  out: string;
  help: boolean;
}

/** One instrument-year at 1 Hz. */
export const YEAR_READINGS = 365 * 86_400;

export const DEFAULT_OUT = 'bench/results/latest.json';

export const USAGE = `usage: npm run bench -- [options]
  --only LIST           benchmarks to run, comma-separated: ${BENCH_NAMES.join(',')} (default: all)
  --runs N              repeat each measurement N times and report medians (default 3; --quick: 1)
  --quick               short windows and small sizes, for a smoke run (about 2 minutes)
  --engine-readings N   readings of the engine benchmark's instrument (default 3,000,000; --quick 300,000)
  --full                the engine benchmark over one instrument-year at 1 Hz (${YEAR_READINGS.toLocaleString('en-US')} readings, ~3 GB of disk)
  --out FILE            where the JSON results go (default ${DEFAULT_OUT})
  --help                this text`;

/** Parses the command line (without node and the script). @throws Error naming a bad option. */
export function parseArgs(argv: readonly string[]): BenchOptions {
  let only: BenchName[] = [...BENCH_NAMES];
  let runs: number | undefined;
  let quick = false;
  let full = false;
  let engineReadings: number | undefined;
  let out = DEFAULT_OUT;
  let help = false;
  const args = [...argv];
  const valueOf = (name: string, inline: string | undefined): string => {
    const v = inline ?? args.shift();
    if (v === undefined || v === '') throw new Error(`${name} needs a value`);
    return v;
  };
  const intOf = (name: string, text: string, min: number): number => {
    const n = Number(text.replace(/[_,]/g, ''));
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min} (got ${JSON.stringify(text)})`);
    return n;
  };
  while (args.length > 0) {
    const arg = args.shift()!;
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    switch (name) {
      case '--only': {
        const list = valueOf(name, inline).split(',').map((s) => s.trim()).filter((s) => s !== '');
        const bad = list.filter((s) => !(BENCH_NAMES as readonly string[]).includes(s));
        if (bad.length > 0 || list.length === 0) throw new Error(`--only: unknown benchmark ${bad.join(', ') || '(none given)'} (known: ${BENCH_NAMES.join(', ')})`);
        only = BENCH_NAMES.filter((b) => list.includes(b));
        break;
      }
      case '--runs':
        runs = intOf(name, valueOf(name, inline), 1);
        break;
      case '--quick':
        quick = true;
        break;
      case '--full':
        full = true;
        break;
      case '--engine-readings':
        engineReadings = intOf(name, valueOf(name, inline), 1000);
        break;
      case '--out':
        out = valueOf(name, inline);
        break;
      case '--help':
      case '-h':
        help = true;
        break;
      default:
        throw new Error(`unknown option ${arg}\n${USAGE}`);
    }
  }
  if (full && engineReadings !== undefined) throw new Error('--full and --engine-readings do not go together');
  return {
    only,
    runs: runs ?? (quick ? 1 : 3),
    quick,
    engineReadings: full ? YEAR_READINGS : (engineReadings ?? (quick ? 300_000 : 3_000_000)),
    out,
    help,
  };
}
