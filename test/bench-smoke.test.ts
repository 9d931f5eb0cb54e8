/**
 * The benchmark's pure helpers (bench/lib/report.ts): percentiles, ratios, verdicts, formatting, the results
 * table and the command line. Nothing is timed here: `npm run bench` measures, the tests never do.
 */
import { describe, expect, it } from 'vitest';
import {
  BENCH_NAMES,
  displayWidth,
  figureFromRuns,
  formatNumber,
  formatRatio,
  formatValue,
  median,
  parseArgs,
  percentile,
  ratioOf,
  renderMarkdownTable,
  renderTable,
  verdict,
  YEAR_READINGS,
  type Figure,
} from '../bench/lib/report.ts';

describe('percentile', () => {
  it('interpolates between the nearest ranks, whatever the input order', () => {
    const v = [5, 1, 4, 2, 3];
    expect(percentile(v, 0)).toBe(1);
    expect(percentile(v, 50)).toBe(3);
    expect(percentile(v, 100)).toBe(5);
    expect(percentile(v, 25)).toBe(2);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([10, 20], 99)).toBeCloseTo(19.9, 10);
    expect(median([7])).toBe(7);
    expect(v).toEqual([5, 1, 4, 2, 3]); // not sorted in place
  });

  it('is NaN without values and refuses a percentile outside 0..100', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], -1)).toThrow(RangeError);
  });
});

describe('figures', () => {
  it('takes the median value, baseline and per-run ratio', () => {
    const f = figureFromRuns(
      { bench: 'ingest', id: 'x', label: 'x', unit: 'readings/s', baselineLabel: 'ceiling', target: { on: 'ratio', op: '>=', limit: 0.7, text: '>= 70 %' } },
      [
        { value: 80, baseline: 100 },
        { value: 60, baseline: 100 },
        { value: 90, baseline: 120 },
      ],
    );
    expect(f.value).toBe(80);
    expect(f.baseline).toBe(100);
    expect(f.ratio).toBe(0.75); // median of 0.8, 0.6, 0.75
    expect(f.runs).toHaveLength(3);
    expect(verdict(f)).toBe('pass');
    expect(verdict({ ...f, ratio: 0.5 })).toBe('FAIL');
  });

  it('has no ratio without a baseline, and says so in the verdict', () => {
    expect(ratioOf(1, 0)).toBeNull();
    expect(ratioOf(null, 2)).toBeNull();
    expect(ratioOf(3, 2)).toBe(1.5);
    const noRatio = { value: 1, ratio: null, target: { on: 'ratio' as const, op: '<=' as const, limit: 2, text: '' } };
    expect(verdict(noRatio)).toBe('n/a');
    expect(verdict({ value: 1.5, ratio: null, target: { on: 'value', op: '<=', limit: 2, text: '' } })).toBe('pass');
    expect(verdict({ value: 1, ratio: 1 })).toBe('info');
  });
});

describe('formatting', () => {
  it('prints numbers, values and ratios for people', () => {
    expect(formatNumber(123456.7)).toBe('123,457');
    expect(formatNumber(42.123)).toBe('42.1');
    expect(formatNumber(1.234)).toBe('1.23');
    expect(formatNumber(0.01234)).toBe('0.012');
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(null)).toBe('—');
    expect(formatValue(1.5, '%')).toBe('1.50 %');
    expect(formatValue(2048, 'MB')).toBe('2,048 MB');
    expect(formatValue(null, 'MB')).toBe('—');
    expect(formatRatio(0.734)).toBe('0.73x');
    expect(formatRatio(12.34)).toBe('12.3x');
    expect(formatRatio(1234)).toBe('1,234x');
    expect(formatRatio(null)).toBe('—');
  });

  const figures: Figure[] = [
    {
      bench: 'agent',
      id: 'agent.rss',
      label: 'agent RSS',
      unit: 'MB',
      value: 80,
      baselineLabel: 'idle node',
      baseline: 40,
      ratio: 2,
      target: { on: 'ratio', op: '<=', limit: 2, text: '< 2x | idle' },
    },
    { bench: 'export', id: 'export.total', label: '导出 export', unit: 's', value: 12.5, baselineLabel: 'exceljs', baseline: 5, ratio: 2.5 },
  ];

  it('renders an aligned table with value, baseline, ratio, target and result', () => {
    const lines = renderTable(figures).split('\n');
    expect(lines[0]).toMatch(/^figure\s+value\s+baseline\s+ratio\s+target\s+result$/);
    expect(lines[1]).toMatch(/^-+( +-+){5}$/);
    expect(lines[2]).toContain('80.0 MB');
    expect(lines[2]).toContain('40.0 MB (idle node)');
    expect(lines[2]).toContain('2.00x');
    expect(lines[2]).toMatch(/pass$/);
    expect(lines[3]).toMatch(/info$/);
    // Columns line up (the CJK label counts double).
    expect(lines[2]!.indexOf('80.0 MB')).toBe(lines[0]!.indexOf('value'));
    expect(displayWidth(lines[3]!.slice(0, lines[3]!.indexOf('12.5 s')))).toBe(lines[0]!.indexOf('value'));
  });

  it('renders a Markdown table, escaping pipes', () => {
    const md = renderMarkdownTable(figures).split('\n');
    expect(md[0]).toBe('| figure | value | baseline | ratio | target | result |');
    expect(md[1]).toBe('| --- | --- | --- | --- | --- | --- |');
    expect(md[2]).toContain('< 2x \\| idle');
    expect(md).toHaveLength(4);
  });
});

describe('command line', () => {
  it('defaults to every benchmark, 3 runs, 3 M engine readings', () => {
    const o = parseArgs([]);
    expect(o.only).toEqual([...BENCH_NAMES]);
    expect(o.runs).toBe(3);
    expect(o.quick).toBe(false);
    expect(o.engineReadings).toBe(3_000_000);
  });

  it('reads --only, --runs, --quick, --full and --engine-readings', () => {
    expect(parseArgs(['--only', 'export,ingest']).only).toEqual(['ingest', 'export']);
    expect(parseArgs(['--only=agent']).only).toEqual(['agent']);
    expect(parseArgs(['--quick'])).toMatchObject({ quick: true, runs: 1, engineReadings: 300_000 });
    expect(parseArgs(['--quick', '--runs', '2']).runs).toBe(2);
    expect(parseArgs(['--full']).engineReadings).toBe(YEAR_READINGS);
    expect(YEAR_READINGS).toBe(31_536_000);
    expect(parseArgs(['--engine-readings', '1_000_000']).engineReadings).toBe(1_000_000);
  });

  it('refuses what it does not know', () => {
    expect(() => parseArgs(['--only', 'ingest,nope'])).toThrow(/unknown benchmark nope/);
    expect(() => parseArgs(['--runs', '0'])).toThrow(/--runs/);
    expect(() => parseArgs(['--runs'])).toThrow(/needs a value/);
    expect(() => parseArgs(['--fast'])).toThrow(/unknown option --fast/);
    expect(() => parseArgs(['--full', '--engine-readings', '5000'])).toThrow(/do not go together/);
  });
});
