/**
 * Threshold calibration from observed power (DOMAIN "Instrument states": thresholds are per instrument; there
 * is no standard number). Used by `jishi calibrate`.
 *
 * Method:
 *   1. Histogram the readings on a log scale, x = log10(1 + W): it spreads 0 W .. kW evenly enough and keeps
 *      0 W finite. 1,024 fine bins for the analysis; `bins` coarser ones for display.
 *   2. Natural breaks (Jenks; optimal 1-D k-means on the fine histogram, exact by dynamic programming) for
 *      k = 1..6. Neighbouring levels both centred below `off_level_w` are merged back into one off level.
 *      The partition with the most levels that are all distinct is kept, distinct meaning: each level holds at
 *      least 0.2 % of the readings (and 5) within ±12 % of its median, so a scatter of ramp readings between
 *      states is not a level; neighbours are at least 15 % apart and clearly separated (Ashman's D >= 4 with
 *      robust spreads, 1.4826 x MAD; a single hump split in two gives about 2.7).
 *   3. More than 3 levels: the lowest is off, the next standby, all the higher ones active.
 *   4. Each threshold sits in the middle (log scale) of the empty stretch between two neighbouring levels (the
 *      bins whose lightly smoothed count is within 2 % of the smaller level's peak above the minimum), i.e. the
 *      geometric mean of the levels' facing edges when the gap is clean; rounded to 2 significant digits when
 *      the rounding stays inside the gap.
 * With 2 levels the lower one is `off` when its centre is below `off_level_w` (default 5 W): an instrument
 * that is either off or working, with no standby level; else the instrument was never off (always on) and the
 * levels are standby and active. `reason` says which case applied and what could not be proposed.
 *
 * Shares are shares of readings, which equal shares of time when readings are evenly spaced.
 */

export interface CalibrateOptions {
  /** Display histogram bins (default 30). */
  bins?: number;
  /** A lowest level centred below this is taken as `off` (W, default 5). */
  off_level_w?: number;
}

export type ClusterLabel = 'off' | 'standby' | 'active' | 'on';

export interface PowerCluster {
  /** What the level is taken for; `on` for a single level that is not off (cannot tell standby from active). */
  label: ClusterLabel;
  /** Centre: the mean on the log scale, in W. */
  center_w: number;
  /** Share of the readings, 0..1. */
  share: number;
  count: number;
  min_w: number;
  max_w: number;
}

export interface HistogramBin {
  from_w: number;
  to_w: number;
  count: number;
}

export interface ThresholdProposal {
  off_w: number;
  active_w: number;
}

export interface CalibrationResult {
  proposal: ThresholdProposal | null;
  /** Levels found, lowest first (at most 3). */
  clusters: PowerCluster[];
  /** Display histogram on the log scale, lowest first; [] without readings. */
  histogram: HistogramBin[];
  /** Readings used. */
  samples: number;
  /** Readings ignored because they were not finite numbers. */
  ignored: number;
  /** What was found, and why the proposal is what it is (or null). */
  reason: string;
}

export const DEFAULT_HISTOGRAM_BINS = 30;
export const DEFAULT_OFF_LEVEL_W = 5;

const FINE_BINS = 1024;
/** Natural breaks are tried for k = 1..MAX_LEVELS. */
const MAX_LEVELS = 6;
/** Ashman's D between neighbouring levels: a unimodal hump split in two gives about 2.7, a uniform one 3.5. */
const MIN_SEPARATION_D = 4;
/** Neighbouring level centres at least this far apart on the log scale: (1 + upper W) / (1 + lower W) >= 1.15. */
const MIN_CENTER_GAP_X = Math.log10(1.15);
const MIN_SHARE = 0.002;
const MIN_COUNT = 5;
/** Spreads are floored at this many fine bins, so quantized readings (whole watts) do not split a level. */
const SD_FLOOR_BINS = 2;
const VALLEY_TOLERANCE = 0.02;
/** A level holds at least MIN_CORE_SHARE of its readings (and at least the minimum count) within ±12 % of its median. */
const CORE_HALF_WIDTH_X = 0.05;
const MIN_CORE_SHARE = 0.25;

const lg = (w: number): number => Math.log10(1 + w);
const unlg = (x: number): number => 10 ** x - 1;
const at = (a: ArrayLike<number>, i: number): number => a[i] ?? 0;

/** A level as a run of fine bins [first, last]. */
interface Segment {
  first: number;
  last: number;
}

/**
 * Natural breaks: the partitions of the non-empty fine bins into 1..maxK runs with the least within-run sum of
 * squares (optimal 1-D k-means, weighted by counts, exact by dynamic programming). Returns one partition per k.
 */
function naturalBreaks(fine: Float64Array, binWidth: number, maxK: number): Segment[][] {
  const idx: number[] = [];
  for (let i = 0; i < fine.length; i++) if (at(fine, i) > 0) idx.push(i);
  const m = idx.length;
  const p0 = new Float64Array(m + 1);
  const p1 = new Float64Array(m + 1);
  const p2 = new Float64Array(m + 1);
  for (let i = 0; i < m; i++) {
    const w = at(fine, at(idx, i));
    const c = (at(idx, i) + 0.5) * binWidth;
    p0[i + 1] = at(p0, i) + w;
    p1[i + 1] = at(p1, i) + w * c;
    p2[i + 1] = at(p2, i) + w * c * c;
  }
  const cost = (i: number, j: number): number => {
    const w = at(p0, j + 1) - at(p0, i);
    const s = at(p1, j + 1) - at(p1, i);
    return at(p2, j + 1) - at(p2, i) - (s * s) / w;
  };
  const kMax = Math.min(maxK, m);
  const best: Float64Array[] = [];
  const from: Int32Array[] = [];
  for (let q = 0; q < kMax; q++) {
    const row = new Float64Array(m).fill(Infinity);
    const back = new Int32Array(m);
    const prev = best[q - 1];
    for (let j = q; j < m; j++) {
      if (q === 0 || prev === undefined) {
        row[j] = cost(0, j);
        continue;
      }
      for (let i = q; i <= j; i++) {
        const v = at(prev, i - 1) + cost(i, j);
        if (v < at(row, j)) {
          row[j] = v;
          back[j] = i;
        }
      }
    }
    best.push(row);
    from.push(back);
  }
  const partitions: Segment[][] = [];
  for (let k = 1; k <= kMax; k++) {
    const segments: Segment[] = [];
    let j = m - 1;
    for (let q = k - 1; q >= 0; q--) {
      const i = q === 0 ? 0 : at(from[q] ?? [], j);
      segments.unshift({ first: at(idx, i), last: at(idx, j) });
      j = i - 1;
    }
    partitions.push(segments);
  }
  return partitions;
}

interface Level extends Segment {
  count: number;
  /** Readings within CORE_HALF_WIDTH_X of the median. */
  core: number;
  /** Weighted median on the log scale, and its bin. */
  median_x: number;
  median_bin: number;
  /** Robust spread on the log scale: 1.4826 x the median absolute deviation, floored. */
  spread_x: number;
}

function describeSegment(fine: Float64Array, binWidth: number, seg: Segment): Level {
  let count = 0;
  for (let b = seg.first; b <= seg.last; b++) count += at(fine, b);
  let acc = 0;
  let medianBin = seg.first;
  for (let b = seg.first; b <= seg.last; b++) {
    acc += at(fine, b);
    if (acc >= count / 2) {
      medianBin = b;
      break;
    }
  }
  const median = (medianBin + 0.5) * binWidth;
  const dev: Array<[number, number]> = [];
  for (let b = seg.first; b <= seg.last; b++) if (at(fine, b) > 0) dev.push([Math.abs((b + 0.5) * binWidth - median), at(fine, b)]);
  dev.sort((a, b) => a[0] - b[0]);
  let mad = 0;
  acc = 0;
  for (const [d, w] of dev) {
    acc += w;
    if (acc >= count / 2) {
      mad = d;
      break;
    }
  }
  let core = 0;
  for (let b = seg.first; b <= seg.last; b++) if (Math.abs((b + 0.5) * binWidth - median) <= CORE_HALF_WIDTH_X) core += at(fine, b);
  return {
    ...seg,
    count,
    core,
    median_x: median,
    median_bin: medianBin,
    spread_x: Math.max(1.4826 * mad, SD_FLOOR_BINS * binWidth),
  };
}

/**
 * Whether every level is a level (enough readings close to its median: not a scatter of stray readings) and
 * every pair of neighbours clearly apart.
 */
function levelsAreDistinct(levels: readonly Level[], minCount: number): boolean {
  for (let i = 0; i < levels.length; i++) {
    const a = levels[i];
    if (a === undefined || a.core < minCount || a.core < MIN_CORE_SHARE * a.count) return false;
    const b = levels[i + 1];
    if (b === undefined) continue;
    const gap = b.median_x - a.median_x;
    const d = (Math.SQRT2 * gap) / Math.hypot(a.spread_x, b.spread_x);
    if (d < MIN_SEPARATION_D || gap < MIN_CENTER_GAP_X) return false;
  }
  return true;
}

/** Gaussian smoothing with zero padding. */
function smooth(h: Float64Array, sigma: number): Float64Array {
  const r = Math.ceil(3 * sigma);
  const kernel: number[] = [];
  for (let k = -r; k <= r; k++) kernel.push(Math.exp(-(k * k) / (2 * sigma * sigma)));
  const sum = kernel.reduce((a, b) => a + b, 0);
  const out = new Float64Array(h.length);
  for (let i = 0; i < h.length; i++) {
    let v = 0;
    for (let k = -r; k <= r; k++) {
      const j = i + k;
      if (j >= 0 && j < h.length) v += at(h, j) * at(kernel, k + r);
    }
    out[i] = v / sum;
  }
  return out;
}

function peakIn(s: Float64Array, first: number, last: number): number {
  let v = 0;
  for (let i = first; i <= last; i++) v = Math.max(v, at(s, i));
  return v;
}

/**
 * The empty stretch between bins a < b of the smoothed histogram, as [x_lo, x_hi] on the log scale: from the
 * first to the last bin within VALLEY_TOLERANCE x `height` of the minimum (stray readings inside it, such as
 * ramps between states, do not split it).
 */
function gapBetween(s: Float64Array, a: number, b: number, height: number, binWidth: number): [number, number] {
  let min = Infinity;
  for (let i = a; i <= b; i++) min = Math.min(min, at(s, i));
  const limit = min + VALLEY_TOLERANCE * height;
  let lo = b;
  let hi = a;
  for (let i = a; i <= b; i++) {
    if (at(s, i) <= limit) {
      lo = Math.min(lo, i);
      hi = Math.max(hi, i);
    }
  }
  return [lo * binWidth, (hi + 1) * binWidth];
}

/** Rounds to 2 (else 3) significant digits when that stays strictly inside (lo, hi). */
function nice(w: number, lo: number, hi: number): number {
  for (const digits of [2, 3]) {
    const r = Number(w.toPrecision(digits));
    if (r > lo && r < hi) return r;
  }
  return w;
}

/** Watts for messages and the histogram: one decimal below 10 W, whole watts above. */
export function formatWatts(w: number): string {
  return w < 10 ? w.toFixed(1) : String(Math.round(w));
}

const pct = (share: number): string => `${(share * 100).toFixed(1)} %`;

/** Proposes off_w and active_w from observed power readings (W); see the module comment for the method. */
export function calibrate(powers: Float64Array | readonly number[], options: CalibrateOptions = {}): CalibrationResult {
  const bins = options.bins ?? DEFAULT_HISTOGRAM_BINS;
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be an integer >= 1 (got ${JSON.stringify(options.bins)})`);
  const offLevel = options.off_level_w ?? DEFAULT_OFF_LEVEL_W;
  if (!Number.isFinite(offLevel) || offLevel < 0) {
    throw new RangeError(`off_level_w must be a finite number >= 0 (got ${JSON.stringify(options.off_level_w)})`);
  }

  let n = 0;
  let ignored = 0;
  let negatives = 0;
  let maxW = 0;
  let minW = Infinity;
  for (const p of powers) {
    if (typeof p !== 'number' || !Number.isFinite(p)) {
      ignored++;
      continue;
    }
    n++;
    if (p < 0) negatives++;
    if (p > maxW) maxW = p;
    if (Math.max(0, p) < minW) minW = Math.max(0, p);
  }
  const notes: string[] = [];
  if (ignored > 0) notes.push(`${ignored} non-finite readings were ignored.`);
  if (negatives > 0) notes.push(`${negatives} negative readings were counted as 0 W.`);
  const withNotes = (text: string): string => [text, ...notes].join(' ');
  if (n === 0) {
    return {
      proposal: null,
      clusters: [],
      histogram: [],
      samples: 0,
      ignored,
      reason: withNotes('No usable power readings: nothing to calibrate.'),
    };
  }

  // 1. Histograms on x = log10(1 + W). The analysis one spans 0 W to the largest reading (at least 1 W); the
  //    display one the lowest to the largest reading (at least 1 W wide), so always-on levels are not squeezed.
  const xmax = Math.max(lg(maxW), lg(1));
  const binOf = (x: number, nb: number): number => Math.min(nb - 1, Math.floor((x / xmax) * nb));
  const fine = new Float64Array(FINE_BINS);
  const dLo = lg(minW);
  const dHi = Math.max(lg(maxW), lg(minW + 1));
  const histogram: HistogramBin[] = [];
  for (let i = 0; i < bins; i++) {
    histogram.push({ from_w: unlg(dLo + (i * (dHi - dLo)) / bins), to_w: unlg(dLo + ((i + 1) * (dHi - dLo)) / bins), count: 0 });
  }
  for (const p of powers) {
    if (typeof p !== 'number' || !Number.isFinite(p)) continue;
    const x = lg(Math.max(0, p));
    const f = binOf(x, FINE_BINS);
    fine[f] = at(fine, f) + 1;
    const bin = histogram[Math.max(0, Math.min(bins - 1, Math.floor(((x - dLo) / (dHi - dLo)) * bins)))];
    if (bin !== undefined) bin.count++;
  }

  // 2. Levels: natural breaks for k = 1..6; the partition with the most levels that are all distinct.
  const binWidth = xmax / FINE_BINS;
  const minCount = Math.max(MIN_COUNT, MIN_SHARE * n);
  const offX = lg(offLevel);
  let levels: Level[] = [];
  for (const partition of naturalBreaks(fine, binWidth, MAX_LEVELS)) {
    // Neighbouring levels both centred below the off level are one level, off: a spread-out off level (meter
    // noise around 0 W) costs the most squares and is the first a larger k splits.
    const merged: Segment[] = [];
    for (const seg of partition) {
      const prev = merged[merged.length - 1];
      if (prev !== undefined && describeSegment(fine, binWidth, seg).median_x < offX) prev.last = seg.last;
      else merged.push({ ...seg });
    }
    const candidate = merged.map((seg) => describeSegment(fine, binWidth, seg));
    if (levels.length === 0 || (candidate.length > levels.length && levelsAreDistinct(candidate, minCount))) levels = candidate;
  }

  // 3. More than 3 levels: the lowest is off, the next standby, all the higher ones active (several working
  //    levels, e.g. programs, are more common than several idle ones). The standby-active gap is searched
  //    between standby and the lowest of the active levels.
  const found = levels.length;
  const groups: Level[][] = levels.length > 3 ? [levels.slice(0, 1), levels.slice(1, 2), levels.slice(2)] : levels.map((l) => [l]);

  // 4. Thresholds in the emptiest stretch between neighbouring levels; level statistics from the raw readings.
  const s = smooth(fine, 1);
  const gaps: Array<[number, number]> = [];
  for (let i = 0; i + 1 < groups.length; i++) {
    const lower = groups[i] ?? [];
    const upper = groups[i + 1] ?? [];
    const a = lower[lower.length - 1];
    const b = upper[0];
    if (a === undefined || b === undefined) continue;
    const height = Math.min(peakIn(s, a.first, a.last), peakIn(s, b.first, b.last));
    gaps.push(gapBetween(s, a.median_bin, b.median_bin, height, binWidth));
  }
  const cuts = gaps.map(([lo, hi]) => (lo + hi) / 2);
  const stats = groups.map(() => ({ count: 0, sumX: 0, min: Infinity, max: -Infinity }));
  for (const p of powers) {
    if (typeof p !== 'number' || !Number.isFinite(p)) continue;
    const w = Math.max(0, p);
    const x = lg(w);
    let k = 0;
    while (k < cuts.length && x >= at(cuts, k)) k++;
    const st = stats[k];
    if (st === undefined) continue;
    st.count++;
    st.sumX += x;
    if (w < st.min) st.min = w;
    if (w > st.max) st.max = w;
  }
  const clusters: PowerCluster[] = stats.map((st) => ({
    label: 'on',
    center_w: unlg(st.sumX / st.count),
    share: st.count / n,
    count: st.count,
    min_w: st.min,
    max_w: st.max,
  }));
  const grouped =
    found > 3 ? ` (${found} levels were found: the ${found - 2} highest are taken together as active; check the histogram.)` : '';
  const describe = (): string =>
    clusters.map((c) => `${c.label} ~${formatWatts(c.center_w)} W (${pct(c.share)})`).join(', ');
  const threshold = (x: number, k: number): number =>
    nice(unlg(x), clusters[k]?.max_w ?? 0, clusters[k + 1]?.min_w ?? Infinity);

  const [c0, c1, c2] = clusters;
  const [g0, g1] = gaps;
  if (c0 !== undefined && c1 !== undefined && c2 !== undefined && g0 !== undefined && g1 !== undefined) {
    c0.label = 'off';
    c1.label = 'standby';
    c2.label = 'active';
    const proposal = { off_w: threshold((g0[0] + g0[1]) / 2, 0), active_w: threshold((g1[0] + g1[1]) / 2, 1) };
    let text =
      `3 power levels: ${describe()}.${grouped} off_w = ${formatWatts(proposal.off_w)} W and active_w = ` +
      `${formatWatts(proposal.active_w)} W, each in the middle (log scale) of the empty stretch between neighbouring levels.`;
    if (c0.center_w >= offLevel) {
      text +=
        ` The lowest level (~${formatWatts(c0.center_w)} W) is not below ${formatWatts(offLevel)} W: it may be a standby ` +
        'level of an instrument never switched off in these data, with two working levels above it; check before use.';
    }
    return { proposal, clusters, histogram, samples: n, ignored, reason: withNotes(text) };
  }
  if (c0 !== undefined && c1 !== undefined && g0 !== undefined) {
    if (c0.center_w < offLevel) {
      // Off and on, no standby level: both thresholds inside the gap, a third of the way from each side.
      c0.label = 'off';
      c1.label = 'active';
      const third = (g0[1] - g0[0]) / 3;
      let proposal = { off_w: threshold(g0[0] + third, 0), active_w: threshold(g0[1] - third, 0) };
      if (!(proposal.off_w < proposal.active_w)) proposal = { off_w: unlg(g0[0] + third), active_w: unlg(g0[1] - third) };
      const text =
        `2 power levels: ${describe()}; no standby level was seen (the instrument is either off or on). ` +
        `off_w = ${formatWatts(proposal.off_w)} W and active_w = ${formatWatts(proposal.active_w)} W both lie in the ` +
        'gap between them, so all powered time counts as active. If the instrument can sit idle at the same ' +
        'power, power alone cannot tell idle from working: use a device status or bookings.';
      return { proposal, clusters, histogram, samples: n, ignored, reason: withNotes(text) };
    }
    // Never off: standby and active; off_w halfway (log scale) between 0 W and the lowest readings.
    c0.label = 'standby';
    c1.label = 'active';
    // The 1st percentile of the lowest level, from the fine histogram.
    let low = c0.min_w;
    let acc = 0;
    for (let b = 0; b < FINE_BINS; b++) {
      acc += at(fine, b);
      if (acc >= 0.01 * c0.count) {
        low = Math.max(c0.min_w, unlg(b * binWidth));
        break;
      }
    }
    const active_w = threshold((g0[0] + g0[1]) / 2, 0);
    const off_w = nice(unlg(lg(low) / 2), 0, Math.min(low, active_w));
    const text =
      `2 power levels: ${describe()}; the instrument was never off in these data (always on?). active_w = ` +
      `${formatWatts(active_w)} W lies in the gap between the levels; with no off level to calibrate, off_w = ` +
      `${formatWatts(off_w)} W is halfway (log scale) between 0 W and the lowest readings (~${formatWatts(low)} W), so ` +
      `a real power-off still reads off. If both levels are working time (e.g. two programs), lower active_w below ` +
      `~${formatWatts(c0.min_w)} W.`;
    return { proposal: { off_w, active_w }, clusters, histogram, samples: n, ignored, reason: withNotes(text) };
  }
  const only = levels[0];
  if (c0 !== undefined && only !== undefined && only.core < MIN_CORE_SHARE * only.count) {
    c0.label = c0.center_w < offLevel ? 'off' : 'on';
    const text =
      `The ${n} readings do not form distinct power levels (spread from ${formatWatts(c0.min_w)} to ` +
      `${formatWatts(c0.max_w)} W): no thresholds can be derived. Check the wiring and the unit, or calibrate on a ` +
      'period with known use.';
    return { proposal: null, clusters, histogram, samples: n, ignored, reason: withNotes(text) };
  }
  if (c0 !== undefined) {
    const off = c0.center_w < offLevel;
    c0.label = off ? 'off' : 'on';
    const text = off
      ? `Only one power level, ~${formatWatts(c0.center_w)} W (off), in ${n} readings: the instrument was never on; nothing to calibrate.`
      : `Only one power level, ~${formatWatts(c0.center_w)} W, in ${n} readings: always on at one level (always-on ` +
        'equipment such as a freezer or incubator, or never idle). Power alone cannot tell use here, so no thresholds ' +
        'are proposed.';
    return { proposal: null, clusters, histogram, samples: n, ignored, reason: withNotes(text) };
  }
  return { proposal: null, clusters, histogram, samples: n, ignored, reason: withNotes('No power level found: nothing to calibrate.') };
}

export interface RenderHistogramOptions {
  /** Longest bar, in characters (default 40). */
  width?: number;
}

/**
 * The display histogram as text, one line per bin: the power range, a bar of █, the count, and
 * `<- off_w` / `<- active_w` on the lines whose range holds the proposed thresholds (on the first line, marked
 * "below", for a threshold under the lowest reading, as the off_w of an always-on instrument).
 */
export function renderHistogram(result: CalibrationResult, options: RenderHistogramOptions = {}): string {
  const width = options.width ?? 40;
  const bins = result.histogram;
  if (bins.length === 0) return '(no readings)';
  const maxCount = Math.max(1, ...bins.map((b) => b.count));
  const ranges = bins.map((b) => `${formatWatts(b.from_w)}-${formatWatts(b.to_w)} W`);
  const rangeWidth = Math.max(...ranges.map((r) => r.length));
  const countWidth = Math.max(...bins.map((b) => String(b.count).length));
  const holds = (i: number, w: number): boolean => {
    const b = bins[i];
    if (b === undefined) return false;
    return (w >= b.from_w || i === 0) && (w < b.to_w || i === bins.length - 1);
  };
  const mark = (name: string, w: number): string =>
    `<- ${name} ${formatWatts(w)} W${w < (bins[0]?.from_w ?? 0) ? ' (below the lowest reading)' : ''}`;
  return bins
    .map((b, i) => {
      const len = b.count === 0 ? 0 : Math.max(1, Math.round((b.count / maxCount) * width));
      const marks: string[] = [];
      const p = result.proposal;
      if (p !== null && holds(i, p.off_w)) marks.push(mark('off_w', p.off_w));
      if (p !== null && holds(i, p.active_w)) marks.push(mark('active_w', p.active_w));
      const line = `${(ranges[i] ?? '').padStart(rangeWidth)} | ${'█'.repeat(len).padEnd(width)} ${String(b.count).padStart(countWidth)}`;
      return marks.length > 0 ? `${line}  ${marks.join('  ')}` : line;
    })
    .join('\n');
}
