/** Instrument detail: power, states, sessions, and daily effective hours against the rated-hours pace. */
import {
  barGauge,
  dashboard,
  influx,
  overrideName,
  overrideRegex,
  row,
  stat,
  table,
  thresholds,
  timeseries,
  type Dashboard,
} from './grafana.ts';
import { currentStatePanel, DATASOURCE, INSTRUMENT_FILTER, instrumentVariable, labVariable, q, STATES, stateTimelinePanel } from './jishi.ts';

export function instrumentDashboard(): Dashboard {
  return dashboard({
    uid: 'jishi-instrument',
    title: 'jishi / Instrument detail',
    description: 'One instrument (or a few): power, states, sessions and daily effective hours against the rated hours.',
    tags: ['jishi'],
    time: { from: 'now-7d', to: 'now' },
    refresh: '5m',
    variables: [labVariable(), instrumentVariable()],
    items: [
      row('Now'),
      currentStatePanel(10, 5),
      stat({
        title: 'Totals of the final days in range',
        description:
          'Sums of the daily rollups (instrument_daily) in the range: effective hours, sessions started, energy, and the mean coverage. Today is not final, so not included (the API has it).',
        datasource: DATASOURCE,
        targets: [
          influx(
            DATASOURCE,
            q(
              'SELECT sum("effective_s") / 3600 AS "effective_h", sum("sessions") AS "sessions", sum("energy_kwh") AS "energy_kwh", mean("coverage") AS "coverage"',
              'FROM "instrument_daily" WHERE',
              INSTRUMENT_FILTER,
              'AND $timeFilter GROUP BY "instrument_id"',
            ),
            { alias: '$tag_instrument_id $col' },
          ),
        ],
        overrides: [
          overrideRegex('effective_h$', { unit: 'h', decimals: 1 }),
          overrideRegex('sessions$', { unit: 'none', decimals: 0 }),
          overrideRegex('energy_kwh$', { unit: 'kwatth', decimals: 1 }),
          overrideRegex('coverage$', { unit: 'percentunit', decimals: 0, color: { mode: 'thresholds' }, thresholds: thresholds('red', [0.9, 'green']) }),
        ],
        color: { mode: 'fixed', fixedColor: 'text' },
        colorMode: 'value',
        w: 14,
        h: 5,
      }),
      row('Power and states'),
      timeseries({
        title: 'Power',
        description: 'Mean active power (reading power_w) per interval.',
        datasource: DATASOURCE,
        targets: [
          influx(
            DATASOURCE,
            q('SELECT mean("power_w") AS "power_w" FROM "reading" WHERE', INSTRUMENT_FILTER, 'AND $timeFilter GROUP BY time($__interval), "instrument_id" fill(null)'),
            { alias: '$tag_instrument_id' },
          ),
        ],
        unit: 'watt',
        min: 0,
        w: 24,
        h: 8,
      }),
      stateTimelinePanel(24, 7),
      row('Sessions and effective hours'),
      table({
        title: 'Sessions',
        description:
          'Closed sessions (instrument_session) starting in the range, latest first: length (warm-up + active + merged standby + post-processing), time active, warm-up, post-processing, energy.',
        datasource: DATASOURCE,
        targets: [
          influx(
            DATASOURCE,
            q(
              'SELECT "duration_s", "active_s", "warmup_s", "post_s", "energy_kwh" FROM "instrument_session" WHERE',
              INSTRUMENT_FILTER,
              'AND $timeFilter GROUP BY "instrument_id" ORDER BY time DESC',
            ),
            { format: 'table' },
          ),
        ],
        overrides: [
          overrideName('Time', { displayName: 'start', unit: 'dateTimeAsSystem' }),
          overrideName('instrument_id', { displayName: 'instrument' }),
          overrideName('duration_s', { displayName: 'duration', unit: 's' }),
          overrideName('active_s', { displayName: 'active', unit: 's' }),
          overrideName('warmup_s', { displayName: 'warm-up', unit: 's' }),
          overrideName('post_s', { displayName: 'post-processing', unit: 's' }),
          overrideName('energy_kwh', { displayName: 'energy', unit: 'kwatth', decimals: 2 }),
        ],
        w: 24,
        h: 8,
      }),
      timeseries({
        title: 'Daily effective hours vs rated pace',
        description:
          'Effective hours of each final local day (instrument_daily effective_s / 3600) as bars; the dashed line is the rated-hours pace, rated_hours / 365 a day (instrument_info). One panel per instrument.',
        datasource: DATASOURCE,
        targets: [
          influx(DATASOURCE, q('SELECT "effective_s" / 3600 AS "effective_h" FROM "instrument_daily" WHERE', INSTRUMENT_FILTER, 'AND $timeFilter'), {
            alias: 'effective hours',
          }),
          // No time filter: instrument_info is written when the forwarder starts and when a record changes, so its
          // last point is usually older than the range. Its value becomes the panel's threshold (configFromData).
          influx(DATASOURCE, q('SELECT last("rated_hours") / 365 AS "rated_pace_h" FROM "instrument_info" WHERE', INSTRUMENT_FILTER), {
            alias: 'rated_pace_h',
          }),
        ],
        transformations: [
          {
            id: 'configFromData',
            options: { configRefId: 'B', mappings: [{ fieldName: 'rated_pace_h', handlerKey: 'threshold1', reducerId: 'last' }] },
          },
        ],
        draw: 'bars',
        barAlignment: 1,
        unit: 'h',
        min: 0,
        color: { mode: 'fixed', fixedColor: 'green' },
        // threshold1 is set from query B; 4 h (1,460 h a year) only until the data says otherwise.
        thresholds: thresholds('green', [4, 'orange']),
        thresholdsStyle: 'dashed',
        repeat: { variable: 'instrument', maxPerRow: 2 },
        w: 24,
        h: 8,
      }),
      barGauge({
        title: 'Hours per state',
        description: 'Hours in each state over the final days in range (instrument_daily); they sum to the hours covered.',
        datasource: DATASOURCE,
        targets: [
          influx(
            DATASOURCE,
            q(
              'SELECT sum("off_s") / 3600 AS "off", sum("standby_s") / 3600 AS "standby", sum("active_s") / 3600 AS "active", sum("fault_s") / 3600 AS "fault", sum("unknown_s") / 3600 AS "unknown"',
              'FROM "instrument_daily" WHERE',
              INSTRUMENT_FILTER,
              'AND $timeFilter GROUP BY "instrument_id"',
            ),
            { alias: '$tag_instrument_id $col' },
          ),
        ],
        unit: 'h',
        min: 0,
        decimals: 1,
        color: { mode: 'fixed', fixedColor: 'text' },
        overrides: STATES.map((s) => overrideRegex(` ${s.state}$`, { color: { mode: 'fixed', fixedColor: s.color } })),
        displayMode: 'basic',
        w: 24,
        h: 10,
      }),
    ],
  });
}
