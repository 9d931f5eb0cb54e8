/**
 * Utilization and sharing, year to date by default: utilization rate ranking, effective hours, coverage, the
 * registry; sharing rates come from the collector's annual export (bookings are not in InfluxDB).
 */
import {
  barGauge,
  dashboard,
  influx,
  mathExpr,
  overrideName,
  reduceExpr,
  row,
  table,
  text,
  textboxVariable,
  thresholds,
  timeseries,
  type Dashboard,
  type Transformation,
} from './grafana.ts';
import { DATASOURCE, INSTRUMENT_FILTER, instrumentVariable, labVariable, q } from './jishi.ts';

/**
 * One series per instrument -> one row per instrument (its id in an `instrument_id` column), sorted by value,
 * highest first: the bar gauge then shows a ranking (it keeps the order of the rows it gets).
 */
function ranking(valueName: string): Transformation[] {
  return [
    { id: 'reduce', options: { mode: 'seriesToRows', reducers: ['lastNotNull'], includeTimeField: false, labelsToFields: true } },
    { id: 'organize', options: { excludeByName: { Field: true }, indexByName: {}, renameByName: { 'Last *': valueName } } },
    { id: 'sortBy', options: { fields: {}, sort: [{ field: valueName, desc: true }] } },
  ];
}

const ANNUAL_EXPORT = '${collector_url}/api/v1/exports/annual?year=${__to:date:YYYY}';

export function utilizationDashboard(): Dashboard {
  return dashboard({
    uid: 'jishi-utilization',
    title: 'jishi / Utilization and sharing',
    description: 'Utilization rate, effective hours and coverage per instrument (year to date by default); sharing rates from the annual export.',
    tags: ['jishi'],
    time: { from: 'now/y', to: 'now' },
    refresh: '',
    variables: [
      labVariable(),
      instrumentVariable(),
      textboxVariable({
        name: 'collector_url',
        label: 'Collector URL',
        description: 'Base URL of the jishi collector as the browser reaches it, for the annual export links.',
        value: 'http://localhost:8080',
      }),
    ],
    items: [
      row('Year to date (the dashboard range)'),
      barGauge({
        title: 'Utilization rate',
        description: [
          'Effective hours / rated hours of the final days in range, per instrument, highest first.',
          'Rated hours: rated_hours / 365 for each day with a daily rollup (instrument_info, instrument_daily).',
          'An approximation of the assessment figure: the annual export (and GET /api/v1/utilization) pro-rates by days in service (commissioned, retired), uses 366 in leap years and counts today.',
        ].join(' '),
        datasource: DATASOURCE,
        targets: [
          influx(
            DATASOURCE,
            q('SELECT sum("effective_s") / 3600 / count("period_s") AS "effective_h_per_day" FROM "instrument_daily" WHERE', INSTRUMENT_FILTER, 'AND $timeFilter GROUP BY "instrument_id"'),
            { hide: true },
          ),
          // No time filter: the last registry point is usually older than the range (see Instruments).
          influx(DATASOURCE, q('SELECT last("rated_hours") / 365 AS "rated_h_per_day" FROM "instrument_info" WHERE', INSTRUMENT_FILTER, 'GROUP BY "instrument_id"'), {
            hide: true,
          }),
          // Two measurements cannot meet in one InfluxQL query: Grafana's expressions divide them, per instrument_id label.
          reduceExpr('C', 'A', 'last', { hide: true }),
          reduceExpr('D', 'B', 'last', { hide: true }),
          mathExpr('E', '$C / $D'),
        ],
        transformations: ranking('utilization'),
        allValues: true,
        fields: '/^utilization$/',
        unit: 'percentunit',
        min: 0,
        color: { mode: 'thresholds' },
        thresholds: thresholds('orange', [1, 'green']),
        w: 12,
        h: 10,
      }),
      barGauge({
        title: 'Effective hours',
        description: 'Effective working hours (session time, instrument_daily effective_s) of the final days in range, highest first.',
        datasource: DATASOURCE,
        targets: [
          influx(DATASOURCE, q('SELECT sum("effective_s") / 3600 AS "effective_h" FROM "instrument_daily" WHERE', INSTRUMENT_FILTER, 'AND $timeFilter GROUP BY "instrument_id"'), {
            alias: '$tag_instrument_id',
          }),
        ],
        transformations: ranking('effective_h'),
        allValues: true,
        fields: '/^effective_h$/',
        unit: 'h',
        min: 0,
        decimals: 1,
        color: { mode: 'fixed', fixedColor: 'green' },
        w: 12,
        h: 10,
      }),
      barGauge({
        title: 'Coverage',
        description: 'Mean daily coverage (instrument_daily coverage: the share of each day with a known state). Under 90 %: figures rest on partial data.',
        datasource: DATASOURCE,
        targets: [
          influx(DATASOURCE, q('SELECT mean("coverage") AS "coverage" FROM "instrument_daily" WHERE', INSTRUMENT_FILTER, 'AND $timeFilter GROUP BY "instrument_id"'), {
            alias: '$tag_instrument_id',
          }),
        ],
        transformations: ranking('coverage'),
        allValues: true,
        fields: '/^coverage$/',
        unit: 'percentunit',
        min: 0,
        max: 1,
        color: { mode: 'thresholds' },
        thresholds: thresholds('red', [0.9, 'green']),
        w: 12,
        h: 10,
      }),
      text({
        title: 'Sharing rates',
        description: 'Sharing needs the bookings, which stay in the collector: the annual export has them.',
        content: [
          '#### Sharing rates (共享率)',
          '',
          'The sharing rate is external service hours / effective hours: it needs the **bookings**, which the collector keeps',
          'and does not write to InfluxDB. The annual export matches them to the measured sessions, for the year of the',
          "dashboard range's end (`${__to:date:YYYY}`):",
          '',
          `- [Summary for managers (HTML)](${ANNUAL_EXPORT}&format=html): utilization and sharing rate per instrument`,
          `- [Assessment workbook (XLSX)](${ANNUAL_EXPORT}&format=xlsx): 年度汇总, 机时明细, 预约核对`,
          `- [Data (JSON)](${ANNUAL_EXPORT}&format=json)`,
          '',
          'Set the collector URL above (variable `collector_url`). Its figures are those of `GET /api/v1/utilization`:',
          'rated hours pro-rated by days in service, today included.',
        ].join('\n'),
        w: 12,
        h: 10,
      }),
      timeseries({
        title: 'Effective hours per day',
        description: 'Effective hours of each final local day, stacked by instrument (instrument_daily).',
        datasource: DATASOURCE,
        targets: [
          influx(DATASOURCE, q('SELECT "effective_s" / 3600 AS "effective_h" FROM "instrument_daily" WHERE', INSTRUMENT_FILTER, 'AND $timeFilter GROUP BY "instrument_id"'), {
            alias: '$tag_instrument_id',
          }),
        ],
        draw: 'bars',
        barAlignment: 1,
        stacking: 'normal',
        unit: 'h',
        min: 0,
        w: 24,
        h: 8,
      }),
      row('Registry'),
      table({
        title: 'Instruments',
        description:
          'The registry as last written to instrument_info (when the forwarder starts and when a record changes; not limited to the dashboard range).',
        datasource: DATASOURCE,
        targets: [
          influx(
            DATASOURCE,
            q(
              'SELECT last("name") AS "name", last("rated_hours") AS "rated_hours", last("original_value_cny") AS "original_value_cny", last("shared") AS "shared"',
              'FROM "instrument_info" WHERE',
              INSTRUMENT_FILTER,
              'GROUP BY "instrument_id", "lab", "owner_unit"',
            ),
            { format: 'table' },
          ),
        ],
        transformations: [{ id: 'organize', options: { excludeByName: { Time: true }, indexByName: {}, renameByName: {} } }],
        overrides: [
          overrideName('instrument_id', { displayName: 'instrument' }),
          overrideName('owner_unit', { displayName: 'owner unit' }),
          overrideName('rated_hours', { displayName: 'rated hours / year', unit: 'h', decimals: 0 }),
          overrideName('original_value_cny', { displayName: 'original value', unit: 'currencyCNY', decimals: 0 }),
        ],
        sortBy: [{ displayName: 'instrument', desc: false }],
        w: 24,
        h: 8,
      }),
    ],
  });
}
