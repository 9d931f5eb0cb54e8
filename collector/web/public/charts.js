// @ts-check
/**
 * Hand-drawn SVG charts: power and state over time, daily effective hours against the rated pace, and the
 * calibration histogram. No chart library: scales, ticks and paths are computed here.
 */
import { fill, h, s } from './dom.js';
import { fmtDateTime, fmtHours, fmtNumber, fmtPower, fmtShortDate, fmtTime, wallParts, zoneOffset } from './format.js';
import { t } from './i18n.js';

/**
 * @typedef {{ t: number, min: number, avg: number, max: number, n: number }} PowerPoint
 * @typedef {{ start: number, end: number, state: string }} StateSpan
 * @typedef {{ off_w: number, active_w: number, max_gap_s: number }} Thresholds
 */

/**
 * Round tick values covering [0, max]: about `count` of them at 1, 2 or 5 times a power of ten.
 * @param {number} max
 * @param {number} count
 */
export function niceTicks(max, count = 5) {
  if (!(max > 0)) return { step: 1, top: 1, ticks: [0, 1] };
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((v) => v >= raw) ?? 10 * mag;
  const top = Math.ceil(max / step - 1e-9) * step;
  const ticks = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  return { step, top, ticks };
}

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const TIME_STEPS = [MIN, 2 * MIN, 5 * MIN, 10 * MIN, 15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY];

/**
 * Time ticks on round wall-clock times of the zone.
 * @param {number} from
 * @param {number} to
 * @param {number} maxTicks
 * @param {string} tz
 */
export function timeTicks(from, to, maxTicks, tz) {
  const step = TIME_STEPS.find((st) => (to - from) / st <= maxTicks) ?? Math.ceil((to - from) / maxTicks / DAY) * DAY;
  const offset = zoneOffset(from, tz);
  const ticks = [];
  for (let wall = Math.ceil((from + offset) / step) * step; wall - offset <= to; wall += step) ticks.push(wall - offset);
  return { step, ticks };
}

/**
 * @param {number} tick
 * @param {number} step
 * @param {string} tz
 */
function timeLabel(tick, step, tz) {
  const p = wallParts(tick, tz);
  if (step >= DAY || (p.hour === 0 && p.minute === 0)) return fmtShortDate(tick, tz);
  return fmtTime(tick, tz);
}

/**
 * Power (mean line over a min–max band, thresholds dashed) above a strip of live states, with a time axis in the
 * collector's zone and a hover read-out. Returns a container element (the SVG and its tooltip).
 * @param {{ width: number, height: number, from: number, to: number, tz: string, bucketMs: number,
 *   power: PowerPoint[], states: StateSpan[], thresholds: Thresholds | null }} o
 */
export function powerChart(o) {
  const { width, height, from, to, tz } = o;
  const m = { left: 58, right: 16, top: 10, bottom: 46 };
  const stripH = 14;
  const plotW = Math.max(10, width - m.left - m.right);
  const plotH = Math.max(10, height - m.top - m.bottom - stripH - 6);
  const plotBottom = m.top + plotH;
  const stripY = plotBottom + 6;
  const x = (/** @type {number} */ ts) => m.left + ((ts - from) / (to - from)) * plotW;
  let maxW = 0;
  for (const p of o.power) maxW = Math.max(maxW, p.max);
  if (o.thresholds) maxW = Math.max(maxW, o.thresholds.active_w * 1.15);
  const yt = niceTicks(Math.max(maxW, 10), 5);
  const y = (/** @type {number} */ w) => plotBottom - (Math.max(0, w) / yt.top) * plotH;

  const svg = s('svg', {
    class: 'chart power-chart',
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'img',
    'aria-label': t('inst.chart'),
  });

  // Grid and y axis.
  const grid = yGrid(yt.ticks, y, m.left, plotW, 6, (v) => (v < 10 && yt.step < 1 ? 1 : 0));
  grid.append(s('text', { x: 12, y: m.top + plotH / 2, class: 'axis-title', transform: `rotate(-90 12 ${m.top + plotH / 2})`, 'text-anchor': 'middle' }, t('inst.power')));
  svg.append(grid);

  // Time axis.
  const tt = timeTicks(from, to, Math.max(2, Math.floor(plotW / 90)), tz);
  const axis = s('g', { class: 'axis' });
  for (const tick of tt.ticks) {
    axis.append(s('line', { x1: x(tick), x2: x(tick), y1: m.top, y2: stripY + stripH, class: 'vgrid' }));
    axis.append(s('text', { x: x(tick), y: stripY + stripH + 16, 'text-anchor': 'middle', class: 'tick' }, timeLabel(tick, tt.step, tz)));
  }
  svg.append(axis);

  // State strip.
  const strip = s('g', { class: 'state-strip' });
  for (const st of o.states) {
    const x0 = x(Math.max(st.start, from));
    const x1 = x(Math.min(st.end, to));
    if (x1 - x0 <= 0) continue;
    strip.append(
      s('rect', { x: x0, y: stripY, width: Math.max(0.5, x1 - x0), height: stripH, class: `st-${st.state}`, 'data-state': st.state },
        s('title', {}, `${t(/** @type {any} */ (`state.${st.state}`))}: ${fmtDateTime(st.start, tz)} – ${fmtDateTime(st.end, tz)}`)),
    );
  }
  svg.append(strip);

  // Power: band and mean line, broken where readings stop for longer than max_gap (or 3 buckets).
  const gapMs = Math.max(3 * o.bucketMs, (o.thresholds?.max_gap_s ?? 0) * 1000);
  /** @type {PowerPoint[][]} */
  const runs = [];
  let run = /** @type {PowerPoint[]} */ ([]);
  for (const p of o.power) {
    const prev = run[run.length - 1];
    if (prev && p.t - prev.t > gapMs) {
      runs.push(run);
      run = [];
    }
    run.push(p);
  }
  if (run.length > 0) runs.push(run);
  const mid = (/** @type {PowerPoint} */ p) => p.t + o.bucketMs / 2;
  let band = '';
  let line = '';
  for (const r of runs) {
    const first = r[0];
    if (!first) continue;
    if (r.length === 1) {
      // A lone bucket: a short horizontal tick so it shows.
      line += `M${(x(first.t)).toFixed(1)},${y(first.avg).toFixed(1)}H${(x(first.t + o.bucketMs)).toFixed(1)}`;
      continue;
    }
    band += `M${r.map((p) => `${x(mid(p)).toFixed(1)},${y(p.max).toFixed(1)}`).join('L')}`;
    band += `L${[...r].reverse().map((p) => `${x(mid(p)).toFixed(1)},${y(p.min).toFixed(1)}`).join('L')}Z`;
    line += `M${r.map((p) => `${x(mid(p)).toFixed(1)},${y(p.avg).toFixed(1)}`).join('L')}`;
  }
  const plot = s('g', { class: 'plot' });
  plot.append(s('path', { d: band || 'M0,0', class: 'power-band' }));
  plot.append(s('path', { d: line || 'M0,0', class: 'power-line', 'data-points': o.power.length }));
  svg.append(plot);

  // Thresholds.
  if (o.thresholds) {
    const th = s('g', { class: 'thresholds' });
    for (const [name, w, cls] of /** @type {const} */ ([['off_w', o.thresholds.off_w, 'th-off'], ['active_w', o.thresholds.active_w, 'th-active']])) {
      if (w > yt.top) continue;
      th.append(s('line', { x1: m.left, x2: m.left + plotW, y1: y(w), y2: y(w), class: `threshold ${cls}` }));
      th.append(s('text', { x: m.left + plotW - 4, y: y(w) - 4, 'text-anchor': 'end', class: `th-label ${cls}` }, `${name} ${fmtPower(w)}`));
    }
    svg.append(th);
  }

  if (o.power.length === 0) {
    svg.append(s('text', { x: m.left + plotW / 2, y: m.top + plotH / 2, 'text-anchor': 'middle', class: 'no-data' }, t('inst.chart.noData')));
  }

  // Hover read-out.
  const cursor = s('line', { x1: 0, x2: 0, y1: m.top, y2: stripY + stripH, class: 'cursor', visibility: 'hidden' });
  svg.append(cursor);
  const overlay = s('rect', { x: m.left, y: m.top, width: plotW, height: stripY + stripH - m.top, class: 'overlay' });
  svg.append(overlay);
  const tip = h('div', { class: 'tooltip', hidden: true });
  const wrap = h('div', { class: 'chart-wrap' }, svg, tip);
  const points = o.power;
  overlay.addEventListener('mousemove', (ev) => {
    const e = /** @type {MouseEvent} */ (ev);
    const box = svg.getBoundingClientRect();
    const px = ((e.clientX - box.left) / box.width) * width;
    const ts = from + ((px - m.left) / plotW) * (to - from);
    let best = /** @type {PowerPoint | undefined} */ (undefined);
    let lo = 0;
    let hi = points.length - 1;
    while (lo <= hi) {
      const k = (lo + hi) >> 1;
      const p = points[k];
      if (!p) break;
      if (mid(p) < ts) lo = k + 1;
      else hi = k - 1;
    }
    for (const k of [lo - 1, lo]) {
      const p = points[k];
      if (p && (!best || Math.abs(mid(p) - ts) < Math.abs(mid(best) - ts))) best = p;
    }
    const state = o.states.find((st) => st.start <= ts && ts < st.end);
    cursor.setAttribute('x1', String(px));
    cursor.setAttribute('x2', String(px));
    cursor.setAttribute('visibility', 'visible');
    fill(tip,
      h('div', { class: 'tip-time' }, fmtDateTime(ts, tz, { seconds: (to - from) < 2 * HOUR })),
      state ? h('div', {}, h('span', { class: `swatch st-${state.state}` }), t(/** @type {any} */ (`state.${state.state}`))) : null,
      best && Math.abs(mid(best) - ts) <= Math.max(o.bucketMs, gapMs / 3)
        ? [h('div', {}, `${t('inst.chart.avg')} ${fmtPower(best.avg)}`), h('div', {}, `${t('inst.chart.minmax')} ${fmtPower(best.min)} – ${fmtPower(best.max)}`)]
        : null,
    );
    tip.hidden = false;
    const left = (px / width) * box.width;
    tip.style.left = `${Math.min(box.width - 170, left + 12)}px`;
    tip.style.top = `${m.top}px`;
  });
  overlay.addEventListener('mouseleave', () => {
    cursor.setAttribute('visibility', 'hidden');
    tip.hidden = true;
  });
  return wrap;
}

/**
 * Effective hours per day as bars, the rated pace (rated hours of each day) as a dashed line.
 * @param {{ width: number, height: number, tz: string, days: Array<{ day: string, effective_h: number, rated_h: number }> }} o
 */
export function dailyChart(o) {
  const { width, height, days } = o;
  const m = { left: 40, right: 10, top: 10, bottom: 28 };
  const plotW = Math.max(10, width - m.left - m.right);
  const plotH = Math.max(10, height - m.top - m.bottom);
  let max = 1;
  for (const d of days) max = Math.max(max, d.effective_h, d.rated_h);
  const yt = niceTicks(max, 4);
  const y = (/** @type {number} */ v) => m.top + plotH - (v / yt.top) * plotH;
  const slot = plotW / Math.max(1, days.length);
  const svg = s('svg', { class: 'chart daily-chart', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': t('inst.daily') });
  svg.append(yGrid(yt.ticks, y, m.left, plotW, 5, () => 0));
  const bars = s('g', { class: 'bars' });
  const labelEvery = Math.max(1, Math.ceil(days.length / Math.max(1, Math.floor(plotW / 48))));
  days.forEach((d, i) => {
    const x0 = m.left + i * slot + slot * 0.15;
    bars.append(
      s('rect', { x: x0, y: y(d.effective_h), width: Math.max(1, slot * 0.7), height: Math.max(0, y(0) - y(d.effective_h)), class: 'bar', 'data-day': d.day },
        s('title', {}, `${d.day}: ${fmtHours(d.effective_h)} h / ${fmtHours(d.rated_h)} h`)),
    );
    if (i % labelEvery === 0) {
      const [yy, mm, dd] = d.day.split('-').map(Number);
      const label = fmtShortDate(Date.UTC(yy ?? 1970, (mm ?? 1) - 1, dd ?? 1, 12), 'UTC');
      bars.append(s('text', { x: m.left + i * slot + slot / 2, y: m.top + plotH + 16, 'text-anchor': 'middle', class: 'tick' }, label));
    }
  });
  svg.append(bars);
  if (days.length > 0) {
    const pace = days.map((d, i) => `${i === 0 ? 'M' : 'L'}${(m.left + i * slot).toFixed(1)},${y(d.rated_h).toFixed(1)}H${(m.left + (i + 1) * slot).toFixed(1)}`).join('');
    svg.append(s('path', { d: pace, class: 'pace-line' }));
  }
  return svg;
}

/**
 * Horizontal grid lines at the y ticks, each labelled left of the plot.
 * @param {number[]} ticks
 * @param {(v: number) => number} y
 * @param {number} left  the plot's left edge
 * @param {number} plotW
 * @param {number} labelDx  how far left of the edge the labels end
 * @param {(v: number) => number} decimals  of each label
 */
function yGrid(ticks, y, left, plotW, labelDx, decimals) {
  const grid = s('g', { class: 'grid' });
  for (const v of ticks) {
    grid.append(s('line', { x1: left, x2: left + plotW, y1: y(v), y2: y(v) }));
    grid.append(s('text', { x: left - labelDx, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, fmtNumber(v, decimals(v))));
  }
  return grid;
}

const lg = (/** @type {number} */ w) => Math.log10(1 + Math.max(0, w));

/**
 * The calibration histogram: readings per power bin on the log scale (as `jishi calibrate` prints it), with the
 * thresholds in force (solid) and the proposed ones (dashed).
 * @param {{ width: number, height: number, bins: Array<{ from_w: number, to_w: number, count: number }>,
 *   current: { off_w: number, active_w: number } | null, proposal: { off_w: number, active_w: number } | null }} o
 */
export function histogramChart(o) {
  const { width, height, bins } = o;
  const m = { left: 52, right: 12, top: 22, bottom: 30 };
  const plotW = Math.max(10, width - m.left - m.right);
  const plotH = Math.max(10, height - m.top - m.bottom);
  const svg = s('svg', { class: 'chart histogram-chart', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': t('inst.thresholds') });
  const first = bins[0];
  const last = bins[bins.length - 1];
  if (!first || !last) return svg;
  const x0 = lg(first.from_w);
  const x1 = Math.max(x0 + 1e-9, lg(last.to_w));
  const x = (/** @type {number} */ w) => m.left + ((lg(w) - x0) / (x1 - x0)) * plotW;
  let max = 1;
  for (const b of bins) max = Math.max(max, b.count);
  const yt = niceTicks(max, 4);
  const y = (/** @type {number} */ v) => m.top + plotH - (v / yt.top) * plotH;
  svg.append(yGrid(yt.ticks, y, m.left, plotW, 5, () => 0));
  const bars = s('g', { class: 'bars' });
  for (const b of bins) {
    const bx = x(b.from_w);
    const bw = Math.max(1, x(b.to_w) - bx - 1);
    bars.append(
      s('rect', { x: bx, y: y(b.count), width: bw, height: Math.max(0, y(0) - y(b.count)), class: 'bar' },
        s('title', {}, `${fmtPower(b.from_w)} – ${fmtPower(b.to_w)}: ${b.count} ${t('calib.count')}`)),
    );
  }
  svg.append(bars);
  // Power labels at about six bin edges.
  const every = Math.max(1, Math.ceil(bins.length / 6));
  const axis = s('g', { class: 'axis' });
  bins.forEach((b, i) => {
    if (i % every === 0) axis.append(s('text', { x: x(b.from_w), y: m.top + plotH + 16, 'text-anchor': 'middle', class: 'tick' }, fmtPower(b.from_w)));
  });
  axis.append(s('text', { x: x(last.to_w), y: m.top + plotH + 16, 'text-anchor': 'end', class: 'tick' }, fmtPower(last.to_w)));
  svg.append(axis);
  /** @type {Array<[string, number, string]>} */
  const marks = [];
  if (o.current) marks.push(['off_w', o.current.off_w, 'th-off current'], ['active_w', o.current.active_w, 'th-active current']);
  if (o.proposal) marks.push(['off_w', o.proposal.off_w, 'th-off proposed'], ['active_w', o.proposal.active_w, 'th-active proposed']);
  const th = s('g', { class: 'thresholds' });
  marks.forEach(([name, w, cls], k) => {
    const raw = x(w);
    const px = Math.min(m.left + plotW, Math.max(m.left, raw));
    // A threshold outside the readings' range sits at the edge, its label pointing beyond it.
    const beyond = raw < m.left ? '◀ ' : '';
    const after = raw > m.left + plotW ? ' ▶' : '';
    const label = `${beyond}${cls.includes('proposed') ? t('calib.proposed') : t('calib.current')} ${name} ${fmtPower(w)}${after}`;
    th.append(s('line', { x1: px, x2: px, y1: m.top - 4, y2: m.top + plotH, class: `threshold ${cls}` }, s('title', {}, label)));
    const right = px > m.left + plotW / 2;
    th.append(s('text', { x: right ? px - 3 : px + 3, y: m.top + 8 + (k % 2) * 11 + (k >= 2 ? 22 : 0), 'text-anchor': right ? 'end' : 'start', class: `th-label ${cls}` }, label));
  });
  svg.append(th);
  return svg;
}
