/**
 * GET /api/v1/utilization and GET /api/v1/sessions: effective hours, states, rated hours and utilization
 * rates per instrument and period, and the sessions behind them (the evidence for every hour).
 * Days are local days in the collector's time zone; `from` and `to` are inclusive.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Clock } from '../../common/clock.ts';
import { JishiError } from '../../common/errors.ts';
import { API_PREFIX, IdPattern } from '../../common/wire.ts';
import type { CollectorApp } from '../app.ts';
import { DAY_PATTERN } from '../config-schema.ts';
import type { EngineRunner } from '../engine-runner.ts';
import { createCalendar, isValidDay, type WorkCalendar } from '../engine/calendar.ts';
import { addDays, dayStart, localDay } from '../engine/time-zone.ts';
import { GROUPS, periodRows, type Group, type InstrumentService } from '../utilization.ts';

export const UTILIZATION_PATH = `${API_PREFIX}/utilization`;
export const SESSIONS_PATH = `${API_PREFIX}/sessions`;

/** Longest range one query may cover, in days (ten years). */
export const MAX_QUERY_DAYS = 3660;

const Day = Type.String({ pattern: DAY_PATTERN, description: 'Local date, YYYY-MM-DD' });
const Range = {
  from: Type.Optional({ ...Day, description: 'First local day (default: 1 January of the current year)' }),
  to: Type.Optional({ ...Day, description: 'Last local day, inclusive (default: today)' }),
  instrument: Type.Optional(
    Type.String({ pattern: `^${IdPattern.slice(1, -1)}(,${IdPattern.slice(1, -1)})*$`, maxLength: 4096, description: 'Instrument ids, comma-separated (default: all)' }),
  ),
};

export const UtilizationQuery = Type.Object(
  {
    ...Range,
    // An enum (not a union of literals) so a bad value is answered with the list of allowed ones.
    group: Type.Optional(Type.Unsafe<Group>({ type: 'string', enum: [...GROUPS], description: 'Period size (default month)' })),
  },
  { additionalProperties: false },
);
export const SessionsQuery = Type.Object(Range, { additionalProperties: false });

const Hours = Type.Number();
export const PeriodRowSchema = Type.Object({
  period: Type.String(),
  from: Type.String(),
  to: Type.String(),
  period_h: Hours,
  off_h: Hours,
  standby_h: Hours,
  active_h: Hours,
  fault_h: Hours,
  unknown_h: Hours,
  powered_on_h: Hours,
  effective_h: Hours,
  sessions: Type.Integer(),
  energy_kwh: Type.Number(),
  coverage: Type.Number(),
  rated_h: Hours,
  days_in_service: Type.Integer(),
  utilization_rate: Type.Union([Type.Number(), Type.Null()]),
  working_days: Type.Integer(),
  opening_h: Hours,
  opening_utilization_rate: Type.Union([Type.Number(), Type.Null()]),
});

export const UtilizationResponse = Type.Object({
  time_zone: Type.String(),
  from: Type.String(),
  to: Type.String(),
  group: Type.String(),
  instruments: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.Union([Type.String(), Type.Null()]),
      rated_hours_per_year: Type.Number(),
      commissioned: Type.Union([Type.String(), Type.Null()]),
      retired: Type.Union([Type.String(), Type.Null()]),
      periods: Type.Array(PeriodRowSchema),
    }),
  ),
});
export type UtilizationResponse = Static<typeof UtilizationResponse>;

export const SessionsResponse = Type.Object({
  time_zone: Type.String(),
  from: Type.String(),
  to: Type.String(),
  sessions: Type.Array(
    Type.Object({
      instrument_id: Type.String(),
      start: Type.Integer(),
      end: Type.Integer(),
      duration_s: Type.Number(),
      active_s: Type.Number(),
      warmup_s: Type.Number(),
      post_s: Type.Number(),
      energy_kwh: Type.Number(),
    }),
  ),
});

export interface UtilizationRouteOptions {
  clock: Clock;
  engine: EngineRunner;
  /** Registry: names, rated hours and service periods of configured instruments; `defaultRatedHours` for the rest. */
  instruments: ReadonlyArray<{ id: string; name?: string; rated_hours?: number; commissioned?: string; retired?: string }>;
  defaultRatedHours: number;
  /** Working days and opening hours (default: Chinese public holidays, 7 h a day). */
  calendar?: WorkCalendar;
}

export function registerUtilizationRoutes(app: CollectorApp, options: UtilizationRouteOptions): void {
  const { engine, clock } = options;
  const tz = engine.timeZone;
  const configured = new Map(options.instruments.map((i) => [i.id, i]));
  const calendar = options.calendar ?? createCalendar();

  function resolveRange(q: { from?: string; to?: string; instrument?: string }) {
    const now = clock.now();
    const today = localDay(now, tz);
    const fromDay = q.from ?? `${today.slice(0, 4)}-01-01`;
    const toDay = q.to ?? today;
    for (const [name, day] of [['from', fromDay], ['to', toDay]] as const) {
      if (!isValidDay(day)) throw new JishiError('JISHI_ERR_VALIDATION', `querystring/${name} ${JSON.stringify(day)} is not a calendar date`);
    }
    if (toDay < fromDay) throw new JishiError('JISHI_ERR_VALIDATION', `querystring/to (${toDay}) is before querystring/from (${fromDay})`);
    if (dayStart(toDay, tz) - dayStart(fromDay, tz) > MAX_QUERY_DAYS * 86_400_000) {
      throw new JishiError('JISHI_ERR_VALIDATION', `the range ${fromDay}..${toDay} is longer than ${MAX_QUERY_DAYS} days`);
    }
    const known = new Set([...app.store.instrumentIds(), ...configured.keys()]);
    const ids = q.instrument === undefined ? [...known].sort() : q.instrument.split(',');
    const unknown = ids.filter((id) => !known.has(id));
    if (unknown.length > 0) throw new JishiError('JISHI_ERR_NOT_FOUND', `unknown instrument ${unknown.map((u) => JSON.stringify(u)).join(', ')}`);
    return { now, today, fromDay, toDay, ids };
  }

  app.get(UTILIZATION_PATH, { schema: { querystring: UtilizationQuery, response: { 200: UtilizationResponse } } }, async (request) => {
    const { now, today, fromDay, toDay, ids } = resolveRange(request.query);
    const group = request.query.group ?? 'month';
    const names = new Map(app.store.listInstruments().map((i) => [i.id, i.name]));
    return {
      time_zone: tz,
      from: fromDay,
      to: toDay,
      group,
      instruments: ids.map((id) => {
        const entry = configured.get(id);
        const service: InstrumentService = {
          ratedHoursPerYear: entry?.rated_hours ?? options.defaultRatedHours,
          ...(entry?.commissioned !== undefined ? { commissioned: entry.commissioned } : {}),
          ...(entry?.retired !== undefined ? { retired: entry.retired } : {}),
        };
        const rollups = engine.rollups(id, fromDay, toDay, now);
        return {
          id,
          name: entry?.name ?? names.get(id) ?? null,
          rated_hours_per_year: service.ratedHoursPerYear,
          commissioned: service.commissioned ?? null,
          retired: service.retired ?? null,
          periods: periodRows(rollups, { group, fromDay, toDay, today, service, calendar }),
        };
      }),
    };
  });

  app.get(SESSIONS_PATH, { schema: { querystring: SessionsQuery, response: { 200: SessionsResponse } } }, async (request) => {
    const { now, fromDay, toDay, ids } = resolveRange(request.query);
    const from = dayStart(fromDay, tz);
    // Open sessions end at their last evidence, never after now.
    const to = Math.min(dayStart(addDays(toDay, 1), tz), now);
    return {
      time_zone: tz,
      from: fromDay,
      to: toDay,
      sessions: engine.sessions(ids, from, to).map((s) => ({ ...s, duration_s: (s.end - s.start) / 1000 })),
    };
  });
}
