/**
 * What the jishi dashboards share: the provisioned datasource, the template variables, the state colours and the
 * queries more than one dashboard shows. Queries use only what docs/metric-schema.md defines (test/dashboards.test.ts
 * checks it) and are run against a real influxd in test/dashboard-queries.test.ts.
 *
 * Query conventions: every identifier double-quoted; `"instrument_id" =~ /^$instrument$/` filters instruments
 * (Grafana writes a multi-value variable as `(a|b)`, escaped for regex); `$timeFilter` is the dashboard range.
 */
import {
  overrideName,
  queryVariable,
  stat,
  stateTimeline,
  table,
  thresholds,
  influx,
  type DataSourceRef,
  type PanelSpec,
  type QueryVariable,
  type ValueMapping,
} from './grafana.ts';

/** dashboards/provisioning/datasources/jishi.yaml */
export const DATASOURCE: DataSourceRef = { type: 'influxdb', uid: 'jishi-influxdb' };

export const INSTRUMENT_FILTER = '"instrument_id" =~ /^$instrument$/';
export const AGENT_FILTER = '"agent_id" =~ /^$agent$/';

/** Joins query parts with single spaces (queries stay one line: what Grafana shows in its raw editor). */
export function q(...parts: string[]): string {
  return parts.join(' ');
}

export function labVariable(): QueryVariable {
  return queryVariable({
    name: 'lab',
    label: 'Lab',
    datasource: DATASOURCE,
    query: 'SHOW TAG VALUES FROM "instrument_info" WITH KEY = "lab"',
    // "All" matches every lab, `-` (not set) included; only the instrument variable below uses $lab.
    allValue: '.*',
  });
}

/**
 * No custom "All" value on purpose: with lab "bio" selected, instrument "All" must mean the instruments of "bio",
 * which Grafana sends as their alternation `(FCM-1|SEQ-2)`, not `.*`.
 */
export function instrumentVariable(): QueryVariable {
  return queryVariable({
    name: 'instrument',
    label: 'Instrument',
    datasource: DATASOURCE,
    query: 'SHOW TAG VALUES FROM "instrument_info" WITH KEY = "instrument_id" WHERE "lab" =~ /^$lab$/',
  });
}

export function agentVariable(): QueryVariable {
  return queryVariable({
    name: 'agent',
    label: 'Agent',
    datasource: DATASOURCE,
    query: 'SHOW TAG VALUES FROM "agent_health" WITH KEY = "agent_id"',
  });
}

// ---------------------------------------------------------------------------------------------------------------
// States

/** instrument_live `state_code` (docs/metric-schema.md) and the colour of each state. */
export const STATES = [
  { state: 'off', code: 0, color: '#8e8e8e' },
  { state: 'standby', code: 1, color: 'yellow' },
  { state: 'active', code: 2, color: 'green' },
  { state: 'fault', code: 3, color: 'red' },
  { state: 'unknown', code: 4, color: '#3d3d3d' },
] as const;

/** state_code -> state name and colour. */
export function stateCodeMappings(): ValueMapping[] {
  return [{ type: 'value', options: Object.fromEntries(STATES.map((s, index) => [String(s.code), { text: s.state, color: s.color, index }])) }];
}

/** State name (the `state` tag or field) -> colour. */
export function stateNameMappings(): ValueMapping[] {
  return [{ type: 'value', options: Object.fromEntries(STATES.map((s, index) => [s.state, { text: s.state, color: s.color, index }])) }];
}

/** Every instrument's current state: the last instrument_live point, one tile per instrument. */
export function currentStatePanel(w: number, h: number): PanelSpec {
  return stat({
    title: 'Current state',
    description:
      'The live state of each instrument (instrument_live, written on every change and every 5 minutes), as GET /api/v1/instruments shows it. The latest point in the dashboard range.',
    datasource: DATASOURCE,
    targets: [
      influx(DATASOURCE, q('SELECT last("state_code") AS "state_code" FROM "instrument_live" WHERE', INSTRUMENT_FILTER, 'AND $timeFilter GROUP BY "instrument_id"'), {
        alias: '$tag_instrument_id',
      }),
    ],
    mappings: stateCodeMappings(),
    color: { mode: 'thresholds' },
    thresholds: thresholds('#3d3d3d'),
    colorMode: 'background',
    textMode: 'value_and_name',
    noValue: 'no live state',
    w,
    h,
  });
}

/**
 * The state timeline of instrument_state.
 *
 * Each point is one state interval, written at the interval's START with the state as a tag and its length in
 * duration_s. A state timeline holds each value until the next one, and the intervals of an instrument are
 * contiguous (gaps are `unknown` intervals), so the raw points, one per interval, are exactly its input:
 *
 * - no GROUP BY time: last() per bucket would need the state as a field (it is a tag: an aggregate can only
 *   return duration_s) and would shift a change to its bucket's start; a state change is never lost this way;
 * - the inner query selects `duration_s` (InfluxQL needs a field) and the `state` tag; the outer one keeps the state
 *   only, so each instrument is one row of strings coloured by value mappings;
 * - the range starts 7 days before the dashboard's: the interval under way at the start of the range began before
 *   it, and without it the timeline would be blank until the first change in range. An instrument in one state
 *   for longer than that (off over a long holiday) still starts blank.
 *
 * The interval in progress is not final, so not written: the last final interval is drawn up to the end of the
 * range; "Current state" (instrument_live) tells the state now.
 */
export function stateTimelineQuery(): string {
  return q(
    'SELECT "state" FROM (SELECT "duration_s", "state" FROM "instrument_state" WHERE',
    INSTRUMENT_FILTER,
    'AND time >= ${__from}ms - 7d AND time <= ${__to}ms) GROUP BY "instrument_id"',
  );
}

export function stateTimelinePanel(w: number, h: number): PanelSpec {
  return stateTimeline({
    title: 'State timeline',
    description:
      'State intervals (instrument_state) once final. The interval in progress is not written yet: the last final state is drawn to the end of the range; see Current state.',
    datasource: DATASOURCE,
    targets: [influx(DATASOURCE, stateTimelineQuery(), { alias: '$tag_instrument_id' })],
    mappings: stateNameMappings(),
    color: { mode: 'thresholds' },
    thresholds: thresholds('#3d3d3d'),
    w,
    h,
  });
}

/** The live state of each instrument with how long it has been in it. */
export function liveStateTable(w: number, h: number): PanelSpec {
  return table({
    title: 'Live state',
    description: 'The latest instrument_live point of each instrument: its state, how long it has been in it, and when it was written.',
    datasource: DATASOURCE,
    targets: [
      influx(
        DATASOURCE,
        q('SELECT "state", "since_s" FROM "instrument_live" WHERE', INSTRUMENT_FILTER, 'AND $timeFilter GROUP BY "instrument_id" ORDER BY time DESC LIMIT 1'),
        { format: 'table' },
      ),
    ],
    mappings: stateNameMappings(),
    overrides: [
      overrideName('Time', { displayName: 'written', unit: 'dateTimeFromNow' }),
      overrideName('since_s', { displayName: 'in this state for', unit: 's' }),
      overrideName('state', { 'custom.cellOptions': { type: 'color-background' } }),
    ],
    w,
    h,
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Agents

/** An agent is online when it delivered a batch within the last 5 minutes. */
export const ONLINE_WITHIN = '5m';

/**
 * Per agent seen in the dashboard range: `seen` 1, and `online` 1 when it delivered within ONLINE_WITHIN of now,
 * else 0. Two subqueries (last point in range; last point within 5 minutes) merged per agent; the 36500-day bucket
 * is only there so that fill(0) turns "no delivery within 5 minutes" into 0 instead of a missing value (one bucket:
 * its edges are 1970 and 2069).
 */
function agentPresence(filter: string | undefined): string {
  const where = filter === undefined ? 'WHERE' : `WHERE ${filter} AND`;
  return q(
    `(SELECT last("samples") AS "seen" FROM "agent_health" ${where} $timeFilter GROUP BY "agent_id"),`,
    `(SELECT last("samples") AS "online" FROM "agent_health" ${where} time > now() - ${ONLINE_WITHIN} GROUP BY "agent_id")`,
    'WHERE $timeFilter GROUP BY time(36500d), "agent_id" fill(0)',
  );
}

/** Agents online / offline counts; `filter` restricts the agents (e.g. AGENT_FILTER). */
export function agentsOnlinePanel(w: number, h: number, filter?: string): PanelSpec {
  return stat({
    title: 'Agents online / offline',
    description: `Agents that delivered in the dashboard range: online when their last batch arrived within ${ONLINE_WITHIN} of now (agent_health), offline otherwise.`,
    datasource: DATASOURCE,
    targets: [
      influx(
        DATASOURCE,
        q('SELECT sum("online") AS "online", sum("seen") - sum("online") AS "offline" FROM (SELECT count("seen") AS "seen", count("online") AS "online" FROM', `${agentPresence(filter)})`),
        { alias: '$col' },
      ),
    ],
    color: { mode: 'fixed', fixedColor: 'green' },
    overrides: [overrideName('offline', { color: { mode: 'thresholds' }, thresholds: thresholds('green', [1, 'red']) })],
    decimals: 0,
    noValue: '0',
    colorMode: 'value',
    w,
    h,
  });
}

/** One tile per agent: online (green) or offline (red). */
export function agentStatusPanel(w: number, h: number, filter?: string): PanelSpec {
  return stat({
    title: 'Agent status',
    description: `Each agent that delivered in the dashboard range: online when its last batch arrived within ${ONLINE_WITHIN} of now.`,
    datasource: DATASOURCE,
    targets: [
      influx(DATASOURCE, q('SELECT count("online") * count("seen") AS "online" FROM', agentPresence(filter)), {
        alias: '$tag_agent_id',
      }),
    ],
    mappings: [
      {
        type: 'value',
        options: {
          '0': { text: 'offline', color: 'red', index: 0 },
          '1': { text: 'online', color: 'green', index: 1 },
        },
      },
    ],
    color: { mode: 'thresholds' },
    thresholds: thresholds('red', [1, 'green']),
    colorMode: 'background',
    textMode: 'value_and_name',
    w,
    h,
  });
}
