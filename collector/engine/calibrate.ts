/**
 * Threshold calibration from observed power (DOMAIN "Instrument states": thresholds are per instrument; there
 * is no standard number). Used by `jishi calibrate`.
 *
 * Method:
 *   1. Histogram the readings on a log scale, x = log10(1 + W): it spreads 0 W .. kW evenly enough and keeps
 *      0 W finite. 256 fine bins for the analysis; `bins` coarser ones for display.
 *   2. Smooth the fine histogram (Gaussian, wider for fewer readings) and take its local maxima as levels.
 *   3. Merge levels that are not separated by a real valley (the lowest density between two levels is above
 *      half the lower of their two peaks), then levels holding under 0.2 % of the readings (or under 5) into
 *      their least separated neighbour, then the least separated pairs until at most 3 are left: off,
 *      standby, active.
 *   4. Each threshold sits in the middle (log scale) of the emptiest stretch between two neighbouring levels
 *      (the run of bins within 2 % of the smaller peak above the valley minimum), rounded to 2 significant
 *      digits when the rounding stays inside the gap.
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

const FINE_BINS = 256;
const SEPARATION = 0.5;
const MIN_SHARE = 0.002;
const MIN_COUNT = 5;
const VALLEY_TOLERANCE = 0.02;

const lg = (w: number): number => Math.log10(1 + w);
const unlg = (x: number): number => 10 ** x - 1;
const at = (a: ArrayLike<number>, i: number): number => a[i] ?? 0;

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

function findPeaks(s: Float64Array): number[] {
  const peaks: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const v = at(s, i);
    const left = i > 0 ? at(s, i - 1) : -Infinity;
    const right = i < s.length - 1 ? at(s, i + 1) : -Infinity;
    if (v > 0 && v >= left && v > right) peaks.push(i);
  }
  return peaks;
}

/** Index and value of the density minimum between two peaks (inclusive). */
function valley(s: Float64Array, a: number, b: number): { index: number; value: number } {
  let index = a;
  let value = at(s, a);
  for (let i = a + 1; i <= b; i++) {
    if (at(s, i) < value) {
      value = at(s, i);
      index = i;
    }
  }
  return { index, value };
}

/** valley / lower peak for each adjacent pair of peaks: 0 = fully separated, 1 = no valley at all. */
function pairRatios(s: Float64Array, peaks: readonly number[]): number[] {
  const ratios: number[] = [];
  for (let i = 0; i + 1 < peaks.length; i++) {
    const a = at(peaks, i);
    const b = at(peaks, i + 1);
    ratios.push(valley(s, a, b).value / Math.min(at(s, a), at(s, b)));
  }
  return ratios;
}

/** Merges peaks i and i+1 into one, represented by the higher peak, or by the one named. */
function mergePair(s: Float64Array, peaks: number[], i: number, keep: 'higher' | 'left' | 'right' = 'higher'): void {
  const a = at(peaks, i);
  const b = at(peaks, i + 1);
  const kept = keep === 'left' ? a : keep === 'right' ? b : at(s, a) >= at(s, b) ? a : b;
  peaks.splice(i, 2, kept);
}

function leastSeparated(ratios: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < ratios.length; i++) if (at(ratios, i) > at(ratios, best)) best = i;
  return best;
}

/** The emptiest stretch between two peaks, as [x_lo, x_hi] on the log scale. */
function gapBetween(s: Float64Array, a: number, b: number, binWidth: number): [number, number] {
  const v = valley(s, a, b);
  const limit = v.value + VALLEY_TOLERANCE * Math.min(at(s, a), at(s, b));
  let bestLo = v.index;
  let bestHi = v.index;
  let lo = -1;
  for (let i = a + 1; i <= b; i++) {
    const inside = i < b && at(s, i) <= limit;
    if (inside && lo < 0) lo = i;
    if (!inside && lo >= 0) {
      if (i - 1 - lo > bestHi - bestLo) {
        bestLo = lo;
        bestHi = i - 1;
      }
      lo = -1;
    }
  }
  return [bestLo * binWidth, (bestHi + 1) * binWidth];
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

  // 2. Levels: peaks of the smoothed fine histogram.
  const s = smooth(fine, Math.min(8, Math.max(1.5, 40 / Math.cbrt(n))));
  const peaks = findPeaks(s);

  // 3. Merge peaks without a real valley between them, then too small ones, then down to 3.
  for (;;) {
    const ratios = pairRatios(s, peaks);
    if (ratios.length === 0) break;
    const i = leastSeparated(ratios);
    if (at(ratios, i) <= SEPARATION) break;
    mergePair(s, peaks, i);
  }
  const minCount = Math.max(MIN_COUNT, MIN_SHARE * n);
  for (;;) {
    if (peaks.length < 2) break;
    const bounds = [0];
    for (let i = 0; i + 1 < peaks.length; i++) bounds.push(valley(s, at(peaks, i), at(peaks, i + 1)).index);
    bounds.push(FINE_BINS);
    let smallest = -1;
    let smallestMass = Infinity;
    for (let k = 0; k < peaks.length; k++) {
      let mass = 0;
      for (let b = at(bounds, k); b < at(bounds, k + 1); b++) mass += at(fine, b);
      if (mass < smallestMass) {
        smallestMass = mass;
        smallest = k;
      }
    }
    if (smallestMass >= minCount) break;
    const ratios = pairRatios(s, peaks);
    const leftRatio = smallest > 0 ? at(ratios, smallest - 1) : -Infinity;
    const rightRatio = smallest < peaks.length - 1 ? at(ratios, smallest) : -Infinity;
    // Into the less separated neighbour, which keeps its own peak.
    if (leftRatio >= rightRatio) mergePair(s, peaks, smallest - 1, 'left');
    else mergePair(s, peaks, smallest, 'right');
  }
  // More than 3 real levels: the lowest is off, the next standby, all the higher ones active (several working
  // levels, e.g. programs, are more common than several idle ones). The active group is represented by its
  // lowest level, so the standby-active gap is searched between standby and that level only.
  const found = peaks.length;
  while (peaks.length > 3) mergePair(s, peaks, peaks.length - 2, 'left');

  // 4. Gaps between neighbouring levels, cluster statistics from the raw readings.
  const binWidth = xmax / FINE_BINS;
  const gaps: Array<[number, number]> = [];
  for (let i = 0; i + 1 < peaks.length; i++) gaps.push(gapBetween(s, at(peaks, i), at(peaks, i + 1), binWidth));
  const cuts = gaps.map(([lo, hi]) => (lo + hi) / 2);
  const stats = peaks.map(() => ({ count: 0, sumX: 0, min: Infinity, max: -Infinity }));
  const lowest: number[] = [];
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
    if (k === 0) lowest.push(w);
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
      `${formatWatts(proposal.active_w)} W, each in the middle (log scale) of the emptiest stretch between neighbouring levels.`;
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
    lowest.sort((a, b) => a - b);
    const low = at(lowest, Math.floor(0.01 * (lowest.length - 1)));
    const active_w = threshold((g0[0] + g0[1]) / 2, 0);
    const off_w = nice(unlg(lg(low) / 2), 0, Math.min(low, active_w));
    const text =
      `2 power levels: ${describe()}; the instrument was never off in these data (always on?). active_w = ` +
      `${formatWatts(active_w)} W lies in the gap between the levels; with no off level to calibrate, off_w = ` +
      `${formatWatts(off_w)} W is halfway (log scale) between 0 W and the lowest readings (~${formatWatts(low)} W), so ` +
      `a real power-off still reads off. If both levels are work (e.g. two programs), lower active_w below ` +
      `~${formatWatts(c0.min_w)} W.`;
    return { proposal: { off_w, active_w }, clusters, histogram, samples: n, ignored, reason: withNotes(text) };
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
