/**
 * One instrument in detail, for the web console's instrument page:
 *
 *   GET /api/v1/instruments/:id/readings?from=MS&to=MS&points=N
 *       power over a time range, downsampled to at most N buckets (min / mean / max per bucket, empty buckets
 *       left out so gaps stay gaps), the live-state intervals of the range and the thresholds in force.
 *       Default: the last 24 h, 600 points; at most 31 days.
 *   GET /api/v1/instruments/:id/calibration?from=YYYY-MM-DD&to=YYYY-MM-DD&bins=N
 *       the thresholds in force and what `jishi calibrate` proposes from the same readings (the histogram on the
 *       log scale, the power levels found and the reason). Default: the last 30 local days, 30 bins.
 *
 * Read-only and open like the rest of the read API.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Clock } from '../../common/clock.ts';
import { JishiError } from '../../common/errors.ts';
import { INSTRUMENTS_PATH } from '../../common/wire.ts';
import type { CollectorApp } from '../app.ts';
import { DAY_PATTERN } from '../config-schema.ts';
import type { EngineRunner } from '../engine-runner.ts';
import { isValidDay } from '../engine/calendar.ts';
import { calibrate } from '../engine/calibrate.ts';
import { addDays, dayStart, localDay } from '../engine/time-zone.ts';
import type { EngineParams, StateInterval } from '../engine/types.ts';

export const READINGS_PATH = `${INSTRUMENTS_PATH}/:id/readings`;
export const CALIBRATION_PATH = `${INSTRUMENTS_PATH}/:id/calibration`;

/** Longest range of GET .../readings (31 days: a month of 1 Hz readings is read in a few seconds). */
export const MAX_READINGS_RANGE_MS = 31 * 86_400_000;
export const DEFAULT_READINGS_RANGE_MS = 86_400_000;
export const DEFAULT_READINGS_POINTS = 600;
export const MAX_READINGS_POINTS = 5000;
/** Days GET .../calibration accepts (the readings' plausible span; beyond it day arithmetic is meaningless). */
const MIN_DAY = '1970-01-01';
const MAX_DAY = '2999-12-31';
/** Longest range of GET .../calibration, in days. */
export const MAX_CALIBRATION_DAYS = 366;

const Ms = Type.String({ pattern: '^\\d{1,15}$', description: 'ms since the Unix epoch' });
const ReadingsQuery = Type.Object(
  {
    from: Type.Optional({ ...Ms, description: 'Range start, ms since the epoch (default: `to` - 24 h)' }),
    to: Type.Optional({ ...Ms, description: 'Range end, ms since the epoch, exclusive (default: now)' }),
    points: Type.Optional(Type.String({ pattern: '^\\d{1,5}$', description: `Buckets, 1..${MAX_READINGS_POINTS} (default ${DEFAULT_READINGS_POINTS})` })),
  },
  { additionalProperties: false },
);
const Day = Type.String({ pattern: DAY_PATTERN, description: 'Local date, YYYY-MM-DD' });
const CalibrationQuery = Type.Object(
  {
    from: Type.Optional({ ...Day, description: 'First local day (default: 29 days before `to`)' }),
    to: Type.Optional({ ...Day, description: 'Last local day, inclusive (default: today)' }),
    bins: Type.Optional(Type.String({ pattern: '^\\d{1,3}$', description: 'Histogram bins, 1..200 (default 30)' })),
  },
  { additionalProperties: false },
);
const Params = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/** The thresholds the console shows (the engine parameters that decide the state from power). */
export type ThresholdView = Pick<
  EngineParams,
  'off_w' | 'active_w' | 'hysteresis' | 'min_dwell_s' | 'max_gap_s' | 'merge_gap_s' | 'warmup_max_s' | 'post_max_s'
> & {
  /** `config`: the collector config's instruments entry; `engine`: the parameters its engine last ran with. */
  source: 'config' | 'engine';
};

export interface PowerPoint {
  /** Bucket start (ms). */
  t: number;
  min: number;
  avg: number;
  max: number;
  /** Readings in the bucket. */
  n: number;
}

export interface InstrumentDetailRouteOptions {
  clock: Clock;
  engine: EngineRunner;
  /** The configured instruments; entries of the collector config carry their resolved engine `params`. */
  instruments: ReadonlyArray<{ id: string; name?: string; params?: EngineParams }>;
}

function isParams(p: unknown): p is EngineParams {
  if (typeof p !== 'object' || p === null) return false;
  const o = p as Record<string, unknown>;
  return typeof o.off_w === 'number' && typeof o.active_w === 'number';
}

function thresholdView(p: EngineParams, source: ThresholdView['source']): ThresholdView {
  return {
    off_w: p.off_w,
    active_w: p.active_w,
    hysteresis: p.hysteresis,
    min_dwell_s: p.min_dwell_s,
    max_gap_s: p.max_gap_s,
    merge_gap_s: p.merge_gap_s,
    warmup_max_s: p.warmup_max_s,
    post_max_s: p.post_max_s,
    source,
  };
}

export function registerInstrumentDetailRoutes(app: CollectorApp, o: InstrumentDetailRouteOptions): void {
  const tz = o.engine.timeZone;
  const configured = new Map(o.instruments.map((i) => [i.id, i]));

  function requireKnown(id: string): void {
    if (configured.has(id)) return;
    if (app.store.instrumentAgent(id) !== undefined) return;
    throw new JishiError('JISHI_ERR_NOT_FOUND', `unknown instrument ${JSON.stringify(id)}`);
  }

  /** The configured parameters, else those of the engine's saved state, else null (never seen, not configured). */
  function thresholds(id: string): ThresholdView | null {
    const entry = configured.get(id);
    if (entry !== undefined && isParams(entry.params)) return thresholdView(entry.params, 'config');
    const saved = app.store.engine.loadState(id)?.checkpoint as { params?: unknown } | undefined;
    if (saved !== undefined && isParams(saved.params)) return thresholdView(saved.params, 'engine');
    return null;
  }

  app.get<{ Params: Static<typeof Params>; Querystring: Static<typeof ReadingsQuery> }>(
    READINGS_PATH,
    { schema: { summary: 'Power of one instrument over a range (downsampled), its states and thresholds', tags: ['live'], params: Params, querystring: ReadingsQuery } },
    async (request) => {
      const { id } = request.params;
      requireKnown(id);
      const q = request.query;
      const now = o.clock.now();
      const to = q.to === undefined ? now : Number(q.to);
      const from = q.from === undefined ? to - DEFAULT_READINGS_RANGE_MS : Number(q.from);
      const points = q.points === undefined ? DEFAULT_READINGS_POINTS : Number(q.points);
      if (!(to > from)) throw new JishiError('JISHI_ERR_VALIDATION', `querystring/to (${to}) is not after querystring/from (${from})`);
      if (to - from > MAX_READINGS_RANGE_MS) {
        throw new JishiError('JISHI_ERR_VALIDATION', `the range is longer than ${MAX_READINGS_RANGE_MS / 86_400_000} days`);
      }
      if (points < 1 || points > MAX_READINGS_POINTS) {
        throw new JishiError('JISHI_ERR_VALIDATION', `querystring/points must be between 1 and ${MAX_READINGS_POINTS}`);
      }
      const bucketMs = Math.max(1000, Math.ceil((to - from) / points));
      const power: PowerPoint[] = [];
      let current: PowerPoint | undefined;
      let sum = 0;
      let samples = 0;
      let errors = 0;
      for (const s of app.store.engine.samples(id, from - 1)) {
        if (s.ts >= to) break;
        samples++;
        if (s.error !== undefined) {
          errors++;
          continue;
        }
        const w = s.power_w;
        if (w === undefined || !Number.isFinite(w)) continue;
        const t = from + Math.floor((s.ts - from) / bucketMs) * bucketMs;
        if (current === undefined || current.t !== t) {
          if (current !== undefined) current.avg = sum / current.n;
          current = { t, min: w, avg: w, max: w, n: 0 };
          sum = 0;
          power.push(current);
        }
        current.n++;
        sum += w;
        if (w < current.min) current.min = w;
        if (w > current.max) current.max = w;
      }
      if (current !== undefined) current.avg = sum / current.n;
      const states = o.engine
        .timeline(id, from, Math.min(to, now))
        .intervals.map((i: StateInterval) => ({ start: Math.max(i.start, from), end: Math.min(i.end, to), state: i.state }))
        .filter((i) => i.end > i.start)
        .sort((a, b) => a.start - b.start);
      return { instrument_id: id, time_zone: tz, from, to, bucket_ms: bucketMs, samples, errors, thresholds: thresholds(id), power, states };
    },
  );

  app.get<{ Params: Static<typeof Params>; Querystring: Static<typeof CalibrationQuery> }>(
    CALIBRATION_PATH,
    { schema: { summary: 'Thresholds in force and the calibration histogram and proposal (as jishi calibrate)', tags: ['utilization'], params: Params, querystring: CalibrationQuery } },
    async (request) => {
      const { id } = request.params;
      requireKnown(id);
      const q = request.query;
      const check = (name: string, day: string): void => {
        if (!isValidDay(day)) throw new JishiError('JISHI_ERR_VALIDATION', `querystring/${name} ${JSON.stringify(day)} is not a calendar date`);
        if (day < MIN_DAY || day > MAX_DAY) throw new JishiError('JISHI_ERR_VALIDATION', `querystring/${name} ${day} is not between ${MIN_DAY} and ${MAX_DAY}`);
      };
      const toDay = q.to ?? localDay(o.clock.now(), tz);
      check('to', toDay);
      const fromDay = q.from ?? addDays(toDay, -29);
      check('from', fromDay);
      if (toDay < fromDay) throw new JishiError('JISHI_ERR_VALIDATION', `querystring/to (${toDay}) is before querystring/from (${fromDay})`);
      const from = dayStart(fromDay, tz);
      const to = dayStart(addDays(toDay, 1), tz);
      if (to - from > MAX_CALIBRATION_DAYS * 86_400_000 + 3_600_000) {
        throw new JishiError('JISHI_ERR_VALIDATION', `the range ${fromDay}..${toDay} is longer than ${MAX_CALIBRATION_DAYS} days`);
      }
      const bins = q.bins === undefined ? undefined : Number(q.bins);
      if (bins !== undefined && (bins < 1 || bins > 200)) throw new JishiError('JISHI_ERR_VALIDATION', 'querystring/bins must be between 1 and 200');
      // The same readings as `jishi calibrate`: power of every sample without a device error.
      const powers: number[] = [];
      for (const s of app.store.engine.samples(id, from - 1)) {
        if (s.ts >= to) break;
        if (s.power_w !== undefined && s.error === undefined) powers.push(s.power_w);
      }
      const result = calibrate(powers, bins !== undefined ? { bins } : {});
      return { instrument_id: id, time_zone: tz, from: fromDay, to: toDay, thresholds: thresholds(id), ...result };
    },
  );
}
