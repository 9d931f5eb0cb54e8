/**
 * Every query of every generated dashboard runs against a real influxd holding known data, interpolated the way
 * Grafana does ($timeFilter, $__interval, ${__from}, multi-value variables as `(a|b)`), and returns the expected
 * columns and values. The expectations are keyed by `<dashboard uid>/<panel title>` (and `<uid>/$<variable>`):
 * a panel without one fails the suite, so a new panel needs its expectation here.
 *
 * Panels with Grafana server-side expressions (reduce, math) get them evaluated here on the InfluxDB results.
 */
import type { IPoint } from 'influx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentReportPoint, infoPoint, livePoint, readingToPoint, resultToPoint } from '../collector/influx/points.ts';
import type { InstrumentState } from '../collector/engine/types.ts';
import type { ResultLogEntry } from '../collector/store/engine-store.ts';
import { allPanels, isInfluxTarget, type Dashboard, type Panel, type Target } from '../dashboards/src/grafana.ts';
import { buildDashboards } from '../dashboards/src/index.ts';
import { dashboardQueries, interpolate, type InterpolationContext, type Selection } from '../dashboards/src/inspect.ts';
import { influxdAvailable, requireOrSkip, startInfluxd, type RunningInfluxd } from './helpers/influxd.ts';

// ---------------------------------------------------------------------------------------------------------------
// Known data, relative to NOW (so that "online within 5 minutes of now()" holds for the agents meant to be online).

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const NOW = Math.floor(Date.now() / MIN) * MIN;
/** Dashboard range: the last 4 days. */
const FROM = NOW - 4 * DAY;
/** Local midnights (Asia/Shanghai, UTC+8 all year) of the three days before today: instrument_daily points. */
const TODAY = Math.floor((NOW + 8 * HOUR) / DAY) * DAY - 8 * HOUR;
const DAYS = [TODAY - 3 * DAY, TODAY - 2 * DAY, TODAY - DAY] as const;

/** Selected in the dashboards: SEQ-2 and agent-c have data everywhere but are not selected, so never shown. */
const SELECTED_INSTRUMENTS = ['FCM-1', 'MS-3'];
const SELECTED_AGENTS = ['agent-a', 'agent-b'];

const REGISTRY = [
  { id: 'FCM-1', lab: 'bio', owner_unit: 'core facility', name: 'Flow cytometer', rated_hours: 1095, original_value_cny: 1_200_000, shared: true },
  { id: 'SEQ-2', lab: 'bio', owner_unit: '-', name: 'Sequencer', rated_hours: 800, original_value_cny: 0, shared: false },
  { id: 'MS-3', lab: 'chem', owner_unit: 'chemistry', name: 'Mass spectrometer', rated_hours: 1460, original_value_cny: 3_000_000, shared: true },
];

/** FCM-1's state intervals: the first starts before the range (within the timeline's 7-day look-back). */
const T = { t1: NOW - 3 * HOUR, t2: NOW - 2 * HOUR, t3: NOW - HOUR, t4: NOW - 50 * MIN };
const FCM_INTERVALS: Array<[number, number, string]> = [
  [FROM - 9 * DAY, FROM - 2 * DAY, 'unknown'], // starts before the look-back: not shown
  [FROM - 2 * DAY, T.t1, 'off'],
  [T.t1, T.t2, 'standby'],
  [T.t2, T.t3, 'active'],
  [T.t3, T.t4, 'standby'],
];
const MS_INTERVALS: Array<[number, number, string]> = [
  [NOW - 5 * HOUR, NOW - 4 * HOUR, 'fault'],
  [NOW - 4 * HOUR, NOW - 3 * HOUR, 'active'],
];

interface Daily {
  effective_s: number;
  coverage: number;
  sessions: number;
  energy_kwh: number;
  fault_s: number;
}
const DAILY: Record<string, Daily[]> = {
  'FCM-1': [
    { effective_s: 7200, coverage: 1, sessions: 2, energy_kwh: 3, fault_s: 0 },
    { effective_s: 3600, coverage: 0.5, sessions: 1, energy_kwh: 1.5, fault_s: 600 },
    { effective_s: 0, coverage: 0.75, sessions: 0, energy_kwh: 0.2, fault_s: 0 },
  ],
  'SEQ-2': [
    { effective_s: 40_000, coverage: 1, sessions: 9, energy_kwh: 50, fault_s: 0 },
    { effective_s: 40_000, coverage: 1, sessions: 9, energy_kwh: 50, fault_s: 0 },
    { effective_s: 40_000, coverage: 1, sessions: 9, energy_kwh: 50, fault_s: 0 },
  ],
  'MS-3': [
    { effective_s: 18_000, coverage: 1, sessions: 3, energy_kwh: 10, fault_s: 0 },
    { effective_s: 14_400, coverage: 1, sessions: 2, energy_kwh: 8, fault_s: 0 },
    { effective_s: 10_800, coverage: 1, sessions: 1, energy_kwh: 6, fault_s: 1800 },
  ],
};
/** Seconds per state of a day: active 80 % of the effective time, standby the rest plus an hour, off what is left. */
function stateSeconds(d: Daily) {
  const unknown_s = 86_400 * (1 - d.coverage);
  const active_s = d.effective_s * 0.8;
  const standby_s = d.effective_s * 0.2 + 3600;
  return { unknown_s, active_s, standby_s, fault_s: d.fault_s, off_s: 86_400 - unknown_s - active_s - standby_s - d.fault_s };
}

/** A line-protocol point: numbers are floats, bigints integers (`2n` -> `2i`). */
interface Point {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, number | bigint | string | boolean>;
  time: number;
}

function fromIPoint(p: IPoint | undefined): Point {
  if (p?.measurement === undefined || p.timestamp === undefined) throw new Error('point without measurement or time');
  return { measurement: p.measurement, tags: { ...(p.tags ?? {}) }, fields: { ...(p.fields as Point['fields']) }, time: Number(p.timestamp) };
}

/** Every point of the known data, in the shapes of docs/metric-schema.md. */
function fixturePoints(): Point[] {
  const points: Point[] = [];
  let id = 0;
  // reading: collector's own point builder.
  const reading = (instrument_id: string, agent_id: string, ts: number, readings: Record<string, number>, error?: string) =>
    points.push(fromIPoint(readingToPoint({ id: ++id, instrument_id, agent_id, ts, readings, received_at: ts + SEC, ...(error ? { error } : {}) }).point));
  for (let k = 0; k < 12; k++) reading('FCM-1', 'agent-a', NOW - 30 * MIN + k * 10 * SEC, { power_w: k < 6 ? 100 : 500, voltage_v: 230 });
  for (let k = 0; k < 6; k++) reading('MS-3', 'agent-c', NOW - 20 * MIN + k * 10 * SEC, { power_w: 2000 });
  reading('MS-3', 'agent-c', NOW - 19 * MIN, {}, 'JISHI_ERR_DEVICE_TIMEOUT');
  for (let k = 0; k < 6; k++) reading('SEQ-2', 'agent-a', NOW - 10 * MIN + k * 10 * SEC, { power_w: 50 });

  // instrument_state, instrument_session, instrument_daily: collector's result point builder.
  const result = (entry: ResultLogEntry) => points.push(fromIPoint(resultToPoint(entry)));
  const interval = (instrument_id: string, [start, end, state]: [number, number, string]) =>
    result({ id: ++id, instrument_id, kind: 'interval', payload: { start, end, state: state as 'off', energy_kwh: 0.1 } });
  for (const i of FCM_INTERVALS) interval('FCM-1', i);
  for (const i of MS_INTERVALS) interval('MS-3', i);
  interval('SEQ-2', [NOW - DAY, NOW - HOUR, 'off']);
  const session = (instrument_id: string, start: number, end: number, active_s: number, warmup_s: number, post_s: number, energy_kwh: number) =>
    result({ id: ++id, instrument_id, kind: 'session', payload: { start, end, active_s, warmup_s, post_s, energy_kwh } });
  session('FCM-1', FROM - HOUR, FROM - 30 * MIN, 1800, 0, 0, 1); // before the range
  session('FCM-1', T.t2 - 10 * MIN, T.t3 + 5 * MIN, 3600, 600, 300, 1.5);
  session('MS-3', NOW - 4 * HOUR, NOW - 3 * HOUR, 3600, 0, 0, 2);
  session('SEQ-2', NOW - 6 * HOUR, NOW - 5 * HOUR, 3600, 0, 0, 2);
  for (const [instrument_id, days] of Object.entries(DAILY)) {
    const dated = [...days.map((d, k) => [DAYS[k]!, d] as const), ...(instrument_id === 'FCM-1' ? [[DAYS[0] - 2 * DAY, { ...days[0]!, effective_s: 36_000 }] as const] : [])];
    for (const [start, d] of dated) {
      result({
        id: ++id,
        instrument_id,
        kind: 'rollup',
        payload: { day: new Date(start + 8 * HOUR).toISOString().slice(0, 10), start, period_s: 86_400, ...stateSeconds(d), effective_s: d.effective_s, sessions: d.sessions, energy_kwh: d.energy_kwh, coverage: d.coverage },
      });
    }
  }

  // instrument_live, instrument_info, agent_health: the collector's point builders (the forwarder writes these).
  const live = (instrument_id: string, time: number, state: InstrumentState, since_s: number) =>
    points.push(fromIPoint(livePoint(instrument_id, state, time - since_s * 1000, time)));
  live('FCM-1', NOW - 10 * MIN, 'standby', 600);
  live('FCM-1', NOW - 2 * MIN, 'active', 60);
  live('MS-3', NOW - 3 * MIN, 'fault', 7200);
  live('SEQ-2', NOW - MIN, 'off', 100);
  points.push(fromIPoint(infoPoint({ id: 'FCM-1', name: 'old name', lab: 'bio', owner_unit: 'core facility', rated_hours: 1400, original_value_cny: 0, shared: false }, NOW - 60 * DAY)));
  for (const r of REGISTRY) {
    points.push(fromIPoint(infoPoint({ id: r.id, name: r.name, lab: r.lab, owner_unit: r.owner_unit, rated_hours: r.rated_hours, original_value_cny: r.original_value_cny, shared: r.shared }, NOW - 30 * DAY)));
  }
  let report = 0;
  const health = (
    agent_id: string,
    time: number,
    f: { samples: number; delay_s: number; clock_offset_s: number },
    status?: { outbox_depth: number; outbox_oldest_age_s: number; device_errors: number; failing_instruments: number; uplink_failures: number },
  ) => {
    const sent_at = time - f.delay_s * 1000;
    points.push(
      fromIPoint(
        agentReportPoint({
          id: ++report,
          agent_id,
          sent_at,
          received_at: time,
          samples: f.samples,
          clock_offset_ms: f.clock_offset_s * 1000,
          status: status
            ? {
                started_at: sent_at - DAY,
                outbox_depth: status.outbox_depth,
                outbox_oldest_ts: status.outbox_oldest_age_s === 0 ? null : sent_at - status.outbox_oldest_age_s * 1000,
                dropped_samples: 0,
                lost_samples: 2,
                device_errors: status.device_errors,
                failing_instruments: Array.from({ length: status.failing_instruments }, (_, k) => `X-${k}`),
                uplink_failures: status.uplink_failures,
              }
            : null,
        }),
      ),
    );
  };
  const status = (outbox_depth: number, outbox_oldest_age_s: number, device_errors: number, failing_instruments: number, uplink_failures: number) => ({
    outbox_depth,
    outbox_oldest_age_s,
    device_errors,
    failing_instruments,
    uplink_failures,
  });
  health('agent-a', NOW - 90 * MIN, { samples: 50, delay_s: 2, clock_offset_s: 0.5 }, status(120, 300, 4, 1, 3));
  health('agent-a', NOW - MIN, { samples: 10, delay_s: 0.3, clock_offset_s: 0.5 }, status(10, 5, 6, 0, 0));
  health('agent-b', NOW - 3 * HOUR, { samples: 20, delay_s: 1, clock_offset_s: 0 }, status(5, 60, 0, 0, 0));
  health('agent-b', NOW - 2 * HOUR, { samples: 30, delay_s: 1.5, clock_offset_s: 0 }); // a batch without agent_status
  health('agent-c', NOW - 30 * SEC, { samples: 5, delay_s: 0.1, clock_offset_s: 0 }, status(1, 0, 0, 0, 0));
  return points;
}

const escapeKey = (s: string) => s.replace(/[,= ]/g, '\\$&');

function toLine(p: Point): string {
  const tags = Object.entries(p.tags)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `,${escapeKey(k)}=${escapeKey(v)}`)
    .join('');
  const fields = Object.entries(p.fields)
    .map(([k, v]) => {
      const value =
        typeof v === 'bigint' ? `${v}i` : typeof v === 'string' ? `"${v.replace(/[\\"]/g, '\\$&')}"` : typeof v === 'boolean' ? String(v) : String(v);
      return `${escapeKey(k)}=${value}`;
    })
    .join(',');
  return `${p.measurement.replace(/[, ]/g, '\\$&')}${tags} ${fields} ${p.time}`;
}

/** Loads the known data into database `jishi` (line protocol, ms precision). */
async function loadFixture(url: string): Promise<void> {
  const created = await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ q: 'CREATE DATABASE jishi' }) });
  expect(created.status).toBe(200);
  const res = await fetch(`${url}/write?db=jishi&precision=ms`, { method: 'POST', body: fixturePoints().map(toLine).join('\n') });
  expect(res.status, await res.text()).toBe(204);
}

// ---------------------------------------------------------------------------------------------------------------
// Running queries

interface Series {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

async function influxQuery(url: string, query: string): Promise<Series[]> {
  const res = await fetch(`${url}/query?db=jishi&epoch=ms`, { method: 'POST', body: new URLSearchParams({ q: query }) });
  const body = (await res.json()) as { error?: string; results?: Array<{ error?: string; series?: Series[] }> };
  if (res.status !== 200 || body.error !== undefined) throw new Error(`InfluxDB: ${body.error ?? res.status} in ${query}`);
  expect(body.results, query).toHaveLength(1);
  const result = body.results![0]!;
  if (result.error !== undefined) throw new Error(`InfluxDB: ${result.error} in ${query}`);
  return result.series ?? [];
}

/** A number per label set: what a server-side expression yields. */
type Numbers = Array<{ labels: Record<string, string>; value: number | null }>;

interface PanelResults {
  series: Record<string, Series[]>;
  numbers: Record<string, Numbers>;
}

/** Grafana's reduce (dropNN) and math (`$A op $B`, joined on equal labels) expressions, on the InfluxDB results. */
function evaluateExpressions(targets: Target[], r: PanelResults): void {
  for (const t of targets) {
    if (isInfluxTarget(t)) continue;
    if (t.type === 'reduce') {
      const input = r.series[t.expression];
      if (input === undefined) throw new Error(`reduce ${t.refId}: no results of ${t.expression}`);
      r.numbers[t.refId] = input.flatMap((s) =>
        s.columns.slice(1).map((_, c) => {
          const values = s.values.map((row) => row[c + 1]).filter((v): v is number => typeof v === 'number');
          if (t.reducer !== 'last') throw new Error(`reducer ${t.reducer} not emulated`);
          return { labels: s.tags ?? {}, value: values.length > 0 ? values[values.length - 1]! : null };
        }),
      );
    } else {
      const m = /^\$([A-Z]) ([-+*/]) \$([A-Z])$/.exec(t.expression);
      if (m === null) throw new Error(`math expression ${t.expression} not emulated`);
      const [, a, op, b] = m;
      const left = r.numbers[a!];
      const right = r.numbers[b!];
      if (left === undefined || right === undefined) throw new Error(`math ${t.refId}: missing ${a} or ${b}`);
      r.numbers[t.refId] = left.flatMap((l) => {
        const other = right.find((x) => JSON.stringify(x.labels) === JSON.stringify(l.labels));
        if (other === undefined || l.value === null || other.value === null) return [];
        const value = op === '+' ? l.value + other.value : op === '-' ? l.value - other.value : op === '*' ? l.value * other.value : l.value / other.value;
        return [{ labels: l.labels, value }];
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers for expectations

/** Series by the value of a tag. */
function byTag(series: Series[] | undefined, tag: string): Record<string, Series> {
  expect(series).toBeDefined();
  const out: Record<string, Series> = {};
  for (const s of series!) out[s.tags?.[tag] ?? ''] = s;
  return out;
}

/** The rows of a series as objects. */
function rows(s: Series | undefined): Array<Record<string, unknown>> {
  expect(s).toBeDefined();
  return s!.values.map((v) => Object.fromEntries(s!.columns.map((c, i) => [c, v[i]])));
}

/** [time, value] of the rows where `column` is not null. */
function points(s: Series | undefined, column: string): Array<[number, unknown]> {
  return rows(s)
    .filter((r) => r[column] !== null)
    .map((r) => [r.time as number, r[column]]);
}

/** The only row of a series. */
function only(s: Series | undefined): Record<string, unknown> {
  const r = rows(s);
  expect(r).toHaveLength(1);
  return r[0]!;
}

function expectKeys(o: Record<string, unknown>, keys: string[]): void {
  expect(Object.keys(o).sort()).toEqual([...keys].sort());
}

function expectColumns(series: Series[] | undefined, columns: string[]): void {
  expect(series?.length).toBeGreaterThan(0);
  for (const s of series!) expect(s.columns).toEqual(columns);
}

function numbersByTag(n: Numbers | undefined, tag: string): Record<string, number | null> {
  expect(n).toBeDefined();
  return Object.fromEntries(n!.map((x) => [x.labels[tag] ?? '', x.value]));
}

const dailyHours = (id: string) => DAILY[id]!.map((d, k) => [DAYS[k], d.effective_s / 3600]);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

// ---------------------------------------------------------------------------------------------------------------
// Expectations: one per panel with queries and per query variable.

interface Expectation {
  /** Selections other than the defaults (e.g. a repeated panel's variable: one value, as Grafana repeats it). */
  selections?: Record<string, Selection>;
  check(r: PanelResults): void;
}

const EXPECT: Record<string, Expectation> = {
  // Variables (lab "All" is `.*`).
  'jishi-fleet/$lab': { check: (r) => expect(r.series.var!.flatMap((s) => s.values.map((v) => v[1]))).toEqual(['bio', 'chem']) },
  'jishi-fleet/$instrument': {
    selections: { lab: ['bio'] },
    check: (r) => expect(r.series.var!.flatMap((s) => s.values.map((v) => v[1]))).toEqual(['FCM-1', 'SEQ-2']),
  },
  'jishi-instrument/$lab': { check: (r) => expect(r.series.var!.flatMap((s) => s.values.map((v) => v[1]))).toEqual(['bio', 'chem']) },
  'jishi-instrument/$instrument': {
    check: (r) => expect(r.series.var!.flatMap((s) => s.values.map((v) => v[1]))).toEqual(['FCM-1', 'MS-3', 'SEQ-2']),
  },
  'jishi-utilization/$lab': { check: (r) => expect(r.series.var!.flatMap((s) => s.values.map((v) => v[1]))).toEqual(['bio', 'chem']) },
  'jishi-utilization/$instrument': {
    selections: { lab: ['chem'] },
    check: (r) => expect(r.series.var!.flatMap((s) => s.values.map((v) => v[1]))).toEqual(['MS-3']),
  },
  'jishi-agents/$agent': {
    check: (r) => expect(r.series.var!.flatMap((s) => s.values.map((v) => v[1]))).toEqual(['agent-a', 'agent-b', 'agent-c']),
  },

  // Fleet overview.
  'jishi-fleet/Current state': {
    check: (r) => {
      expectColumns(r.series.A, ['time', 'state_code']);
      const s = byTag(r.series.A, 'instrument_id');
      expectKeys(s, SELECTED_INSTRUMENTS);
      expect(only(s['FCM-1']).state_code).toBe(2); // made active last
      expect(only(s['MS-3']).state_code).toBe(3);
    },
  },
  'jishi-fleet/State timeline': { check: (r) => expectStateTimeline(r) },
  'jishi-fleet/Live state': {
    check: (r) => {
      expectColumns(r.series.A, ['time', 'state', 'since_s']);
      const s = byTag(r.series.A, 'instrument_id');
      expectKeys(s, SELECTED_INSTRUMENTS);
      expect(only(s['FCM-1'])).toEqual({ time: NOW - 2 * MIN, state: 'active', since_s: 60 });
      expect(only(s['MS-3'])).toEqual({ time: NOW - 3 * MIN, state: 'fault', since_s: 7200 });
    },
  },
  // No agent filter on the fleet: agent-a and agent-c delivered within 5 minutes, agent-b 2 hours ago.
  'jishi-fleet/Agents online / offline': {
    check: (r) => {
      expectColumns(r.series.A, ['time', 'online', 'offline']);
      expect(r.series.A).toHaveLength(1);
      expect(only(r.series.A![0])).toMatchObject({ online: 2, offline: 1 });
    },
  },
  'jishi-fleet/Agent status': {
    check: (r) => {
      expectColumns(r.series.A, ['time', 'online']);
      const s = byTag(r.series.A, 'agent_id');
      expect(Object.fromEntries(Object.entries(s).map(([k, v]) => [k, only(v).online]))).toEqual({ 'agent-a': 1, 'agent-b': 0, 'agent-c': 1 });
    },
  },

  // Instrument detail.
  'jishi-instrument/Current state': {
    check: (r) => {
      const s = byTag(r.series.A, 'instrument_id');
      expectKeys(s, SELECTED_INSTRUMENTS);
      expect(only(s['FCM-1']).state_code).toBe(2);
    },
  },
  'jishi-instrument/Totals of the final days in range': {
    check: (r) => {
      expectColumns(r.series.A, ['time', 'effective_h', 'sessions', 'energy_kwh', 'coverage']);
      const s = byTag(r.series.A, 'instrument_id');
      expectKeys(s, SELECTED_INSTRUMENTS);
      for (const id of SELECTED_INSTRUMENTS) {
        const days = DAILY[id]!;
        const row = only(s[id]);
        expect(row.effective_h).toBeCloseTo(sum(days.map((d) => d.effective_s)) / 3600, 9);
        expect(row.sessions).toBe(sum(days.map((d) => d.sessions)));
        expect(row.energy_kwh).toBeCloseTo(sum(days.map((d) => d.energy_kwh)), 9);
        expect(row.coverage).toBeCloseTo(sum(days.map((d) => d.coverage)) / 3, 9);
      }
      expect(only(s['FCM-1']).effective_h).toBeCloseTo(3, 9); // the point before the range is not counted
    },
  },
  'jishi-instrument/Power': {
    check: (r) => {
      expectColumns(r.series.A, ['time', 'power_w']);
      const s = byTag(r.series.A, 'instrument_id');
      expectKeys(s, SELECTED_INSTRUMENTS);
      expect(points(s['FCM-1'], 'power_w')).toEqual([
        [NOW - 30 * MIN, 100],
        [NOW - 29 * MIN, 500],
      ]);
      // The reading with an error and no power_w leaves its minute empty.
      expect(points(s['MS-3'], 'power_w')).toEqual([[NOW - 20 * MIN, 2000]]);
      // fill(null): every interval of the range is there, so Grafana draws gaps where there is no data.
      expect(rows(s['FCM-1']).length).toBeGreaterThanOrEqual(4 * 24 * 60);
    },
  },
  'jishi-instrument/State timeline': { check: (r) => expectStateTimeline(r) },
  'jishi-instrument/Sessions': {
    check: (r) => {
      expectColumns(r.series.A, ['time', 'duration_s', 'active_s', 'warmup_s', 'post_s', 'energy_kwh']);
      const s = byTag(r.series.A, 'instrument_id');
      expectKeys(s, SELECTED_INSTRUMENTS);
      expect(rows(s['FCM-1'])).toEqual([{ time: T.t2 - 10 * MIN, duration_s: 4500, active_s: 3600, warmup_s: 600, post_s: 300, energy_kwh: 1.5 }]);
      expect(rows(s['MS-3'])).toEqual([{ time: NOW - 4 * HOUR, duration_s: 3600, active_s: 3600, warmup_s: 0, post_s: 0, energy_kwh: 2 }]);
    },
  },
  // Repeated per instrument: Grafana runs it once per value, with $instrument that one value.
  'jishi-instrument/Daily effective hours vs rated pace': {
    selections: { instrument: ['FCM-1'] },
    check: (r) => {
      expectColumns(r.series.A, ['time', 'effective_h']);
      expect(r.series.A).toHaveLength(1);
      expect(points(r.series.A![0], 'effective_h')).toEqual(dailyHours('FCM-1'));
      expectColumns(r.series.B, ['time', 'rated_pace_h']);
      expect(only(r.series.B![0]).rated_pace_h).toBeCloseTo(1095 / 365, 9); // 3 h a day
    },
  },
  'jishi-instrument/Hours per state': {
    check: (r) => {
      expectColumns(r.series.A, ['time', 'off', 'standby', 'active', 'fault', 'unknown']);
      const s = byTag(r.series.A, 'instrument_id');
      expectKeys(s, SELECTED_INSTRUMENTS);
      for (const id of SELECTED_INSTRUMENTS) {
        const row = only(s[id]);
        const secs = DAILY[id]!.map(stateSeconds);
        for (const state of ['off', 'standby', 'active', 'fault', 'unknown'] as const) expect(row[state], `${id} ${state}`).toBeCloseTo(sum(secs.map((x) => x[`${state}_s`])) / 3600, 9);
        expect(sum(['off', 'standby', 'active', 'fault', 'unknown'].map((k) => row[k] as number))).toBeCloseTo(72, 9);
      }
    },
  },

  // Utilization and sharing.
  'jishi-utilization/Utilization rate': {
    check: (r) => {
      expectColumns(r.series.A, ['time', 'effective_h_per_day']);
      expectColumns(r.series.B, ['time', 'rated_h_per_day']);
      // FCM-1: 3 h in 3 days against 1095 / 365 = 3 h a day; MS-3: 12 h in 3 days against 1460 / 365 = 4 h a day.
      const perDay = byTag(r.series.A, 'instrument_id');
      const rated = byTag(r.series.B, 'instrument_id');
      expectKeys(perDay, SELECTED_INSTRUMENTS);
      expect([only(perDay['FCM-1']).effective_h_per_day, only(perDay['MS-3']).effective_h_per_day]).toEqual([1, 4]);
      expect([only(rated['FCM-1']).rated_h_per_day, only(rated['MS-3']).rated_h_per_day]).toEqual([3, 4]);
      const rate = numbersByTag(r.numbers.E, 'instrument_id');
      expectKeys(rate, SELECTED_INSTRUMENTS);
      expect(rate['FCM-1']).toBeCloseTo(1 / 3, 9);
      expect(rate['MS-3']).toBeCloseTo(1, 9);
    },
  },
  'jishi-utilization/Effective hours': {
    check: (r) => {
      expectColumns(r.series.A, ['time', 'effective_h']);
      const s = byTag(r.series.A, 'instrument_id');
      expectKeys(s, SELECTED_INSTRUMENTS);
      expect(only(s['FCM-1']).effective_h).toBeCloseTo(3, 9);
      expect(only(s['MS-3']).effective_h).toBeCloseTo(12, 9);
    },
  },
  'jishi-utilization/Coverage': {
    check: (r) => {
      expectColumns(r.series.A, ['time', 'coverage']);
      const s = byTag(r.series.A, 'instrument_id');
      expectKeys(s, SELECTED_INSTRUMENTS);
      expect(only(s['FCM-1']).coverage).toBeCloseTo(0.75, 9);
      expect(only(s['MS-3']).coverage).toBeCloseTo(1, 9);
    },
  },
  'jishi-utilization/Effective hours per day': {
    check: (r) => {
      expectColumns(r.series.A, ['time', 'effective_h']);
      const s = byTag(r.series.A, 'instrument_id');
      expectKeys(s, SELECTED_INSTRUMENTS);
      for (const id of SELECTED_INSTRUMENTS) expect(points(s[id], 'effective_h')).toEqual(dailyHours(id));
    },
  },
  'jishi-utilization/Instruments': {
    check: (r) => {
      expectColumns(r.series.A, ['time', 'name', 'rated_hours', 'original_value_cny', 'shared']);
      const s = byTag(r.series.A, 'instrument_id');
      expectKeys(s, SELECTED_INSTRUMENTS);
      for (const id of SELECTED_INSTRUMENTS) {
        const reg = REGISTRY.find((x) => x.id === id)!;
        expect(s[id]!.tags).toEqual({ instrument_id: id, lab: reg.lab, owner_unit: reg.owner_unit });
        expect(only(s[id])).toMatchObject({ name: reg.name, rated_hours: reg.rated_hours, original_value_cny: reg.original_value_cny, shared: reg.shared });
      }
    },
  },

  // Agent health ($agent: agent-a, online, and agent-b, last batch 2 hours ago).
  'jishi-agents/Agents online / offline': {
    check: (r) => expect(only(r.series.A![0])).toMatchObject({ online: 1, offline: 1 }),
  },
  'jishi-agents/Agent status': {
    check: (r) => {
      const s = byTag(r.series.A, 'agent_id');
      expect(Object.fromEntries(Object.entries(s).map(([k, v]) => [k, only(v).online]))).toEqual({ 'agent-a': 1, 'agent-b': 0 });
    },
  },
  'jishi-agents/Last delivery': {
    check: (r) => {
      expectColumns(r.series.A, ['time', 'samples', 'delay_s', 'clock_offset_s', 'outbox_depth', 'outbox_oldest_age_s', 'device_errors', 'failing_instruments']);
      const s = byTag(r.series.A, 'agent_id');
      expectKeys(s, SELECTED_AGENTS);
      expect(only(s['agent-a'])).toEqual({ time: NOW - MIN, samples: 10, delay_s: 0.3, clock_offset_s: 0.5, outbox_depth: 10, outbox_oldest_age_s: 5, device_errors: 6, failing_instruments: 0 });
      // Its last batch carried no agent_status: the status columns are empty.
      expect(only(s['agent-b'])).toEqual({ time: NOW - 2 * HOUR, samples: 30, delay_s: 1.5, clock_offset_s: 0, outbox_depth: null, outbox_oldest_age_s: null, device_errors: null, failing_instruments: null });
    },
  },
  'jishi-agents/Deliveries': {
    check: (r) => {
      expectColumns(r.series.A, ['time', 'batches']);
      const s = byTag(r.series.A, 'agent_id');
      expectKeys(s, SELECTED_AGENTS);
      for (const id of SELECTED_AGENTS) {
        const counts = rows(s[id]).map((x) => x.batches as number);
        expect(sum(counts), id).toBe(2);
        expect(counts, id).toContain(0); // fill(0): the intervals without a batch are there, red
        expect(rows(s[id])[1]!.time as number, id).toBe((rows(s[id])[0]!.time as number) + 5 * MIN); // the panel's minimum interval
      }
    },
  },
  'jishi-agents/Samples delivered': {
    check: (r) => {
      const s = byTag(r.series.A, 'agent_id');
      expectKeys(s, SELECTED_AGENTS);
      expect(rows(s['agent-a'])).toEqual([
        { time: NOW - 90 * MIN, samples: 50 },
        { time: NOW - MIN, samples: 10 },
      ]);
    },
  },
  'jishi-agents/Outbox backlog': {
    check: (r) => {
      const s = byTag(r.series.A, 'agent_id');
      expectKeys(s, SELECTED_AGENTS);
      expect(points(s['agent-a'], 'outbox_depth')).toEqual([
        [NOW - 90 * MIN, 120],
        [NOW - MIN, 10],
      ]);
      expect(points(s['agent-b'], 'outbox_depth')).toEqual([[NOW - 3 * HOUR, 5]]);
    },
  },
  'jishi-agents/Oldest waiting sample': {
    check: (r) => expect(points(byTag(r.series.A, 'agent_id')['agent-a'], 'outbox_oldest_age_s')).toEqual([[NOW - 90 * MIN, 300], [NOW - MIN, 5]]),
  },
  'jishi-agents/Clock correction': {
    check: (r) => expect(points(byTag(r.series.A, 'agent_id')['agent-a'], 'clock_offset_s')).toEqual([[NOW - 90 * MIN, 0.5], [NOW - MIN, 0.5]]),
  },
  'jishi-agents/Delivery delay': {
    check: (r) => {
      expectColumns(r.series.A, ['time', 'mean', 'max']);
      expect(rows(byTag(r.series.A, 'agent_id')['agent-b'])).toEqual([
        { time: NOW - 3 * HOUR, mean: 1, max: 1 },
        { time: NOW - 2 * HOUR, mean: 1.5, max: 1.5 },
      ]);
    },
  },
  'jishi-agents/Failed device reads': {
    check: (r) => expect(points(byTag(r.series.A, 'agent_id')['agent-a'], 'device_errors')).toEqual([[NOW - 90 * MIN, 4], [NOW - MIN, 6]]),
  },
  'jishi-agents/Failing instruments': {
    check: (r) => expect(points(byTag(r.series.A, 'agent_id')['agent-a'], 'failing_instruments')).toEqual([[NOW - 90 * MIN, 1], [NOW - MIN, 0]]),
  },
  'jishi-agents/Dropped and lost samples': {
    check: (r) => {
      expectColumns(r.series.A, ['time', 'dropped', 'lost']);
      expect(rows(byTag(r.series.A, 'agent_id')['agent-a'])).toEqual([
        { time: NOW - 90 * MIN, dropped: 0, lost: 2 },
        { time: NOW - MIN, dropped: 0, lost: 2 },
      ]);
    },
  },
  'jishi-agents/Uplink failures': {
    check: (r) => expect(points(byTag(r.series.A, 'agent_id')['agent-a'], 'uplink_failures')).toEqual([[NOW - 90 * MIN, 3], [NOW - MIN, 0]]),
  },
};

/** The state timeline: one row of state strings per instrument, the interval under way at the range start included. */
function expectStateTimeline(r: PanelResults): void {
  expectColumns(r.series.A, ['time', 'state']);
  const s = byTag(r.series.A, 'instrument_id');
  expectKeys(s, SELECTED_INSTRUMENTS);
  expect(rows(s['FCM-1']).map((x) => [x.time, x.state])).toEqual(FCM_INTERVALS.slice(1).map(([start, , state]) => [start, state]));
  expect(rows(s['MS-3']).map((x) => [x.time, x.state])).toEqual(MS_INTERVALS.map(([start, , state]) => [start, state]));
}

// ---------------------------------------------------------------------------------------------------------------

const dashboards = buildDashboards();

/** Panels with queries and query variables, by expectation key. */
function queryHolders(d: Dashboard): string[] {
  return [
    ...d.templating.list.filter((v) => v.type === 'query').map((v) => `${d.uid}/$${v.name}`),
    ...allPanels(d)
      .filter((p) => (p.targets ?? []).length > 0)
      .map((p) => `${d.uid}/${p.title}`),
  ];
}

describe('every dashboard query has an expectation', () => {
  it('the expectations are exactly the panels with queries and the query variables', () => {
    expect(Object.keys(EXPECT).sort()).toEqual(dashboards.flatMap(queryHolders).sort());
  });
});

describe.skipIf(requireOrSkip('influxd', influxdAvailable()))('dashboard queries against a real influxd', () => {
  let influxd: RunningInfluxd;
  let to: number;
  /** Every value of each variable, from its query (what "All" stands for without a custom all value). */
  const allValues: Record<string, string[]> = {};

  beforeAll(async () => {
    influxd = await startInfluxd();
    await loadFixture(influxd.url);
    to = Date.now();
  });
  afterAll(async () => {
    await influxd?.stop();
  });

  const context = (d: Dashboard, panel: Panel | undefined, selections: Record<string, Selection> = {}): InterpolationContext => ({
    from: FROM,
    to,
    // Grafana's $__interval is at least the panel's minimum interval; 1 minute otherwise.
    interval: panel?.interval ?? '1m',
    selections: { lab: 'All', instrument: SELECTED_INSTRUMENTS, agent: SELECTED_AGENTS, ...selections },
    allValues: Object.fromEntries(d.templating.list.map((v) => [v.name, allValues[v.name] ?? []])),
  });

  for (const d of dashboards) {
    describe(d.uid, () => {
      for (const v of d.templating.list) {
        if (v.type !== 'query') continue;
        it(`variable $${v.name}`, async () => {
          const e = EXPECT[`${d.uid}/$${v.name}`]!;
          const series = await influxQuery(influxd.url, interpolate(v.query, d.templating.list, context(d, undefined, e.selections)));
          expect(series.every((s) => s.columns.join() === 'key,value')).toBe(true);
          allValues[v.name] = series.flatMap((s) => s.values.map((x) => String(x[1])));
          e.check({ series: { var: series }, numbers: {} });
        });
      }
      for (const panel of allPanels(d)) {
        const targets = panel.targets ?? [];
        if (targets.length === 0) continue;
        it(`panel "${panel.title}"`, async () => {
          const e = EXPECT[`${d.uid}/${panel.title}`]!;
          if (panel.repeat !== undefined) {
            const sel = e.selections?.[panel.repeat];
            expect(sel !== undefined && sel !== 'All' && sel.length === 1, `a repeated panel runs with one $${panel.repeat}`).toBe(true);
          }
          const r: PanelResults = { series: {}, numbers: {} };
          for (const t of targets) {
            if (isInfluxTarget(t)) r.series[t.refId] = await influxQuery(influxd.url, interpolate(t.query, d.templating.list, context(d, panel, e.selections)));
          }
          evaluateExpressions(targets, r);
          e.check(r);
        });
      }
    });
  }

  it('ran every query of the dashboards', () => {
    // dashboardQueries is what the schema test checks; every one of them is a variable or a panel target above.
    const keys = new Set(dashboards.flatMap((d) => dashboardQueries(d).map((q) => q.key)));
    expect([...keys].sort()).toEqual(Object.keys(EXPECT).sort());
  });
});
