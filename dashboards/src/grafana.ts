/**
 * Small typed factories for Grafana 11 dashboard JSON (schemaVersion 39): dashboard, row, panels (timeseries,
 * stat, state-timeline, table, bargauge, text), InfluxQL targets, server-side expressions and template variables.
 * No SDK: the shapes are the ones Grafana stores in a dashboard's JSON model, limited to what jishi uses.
 *
 * Panels are written as specs (no id, no position); `dashboard()` numbers them in order and lays them out on
 * Grafana's 24-column grid, left to right, wrapping when a panel does not fit, a row starting a new line.
 */

export const SCHEMA_VERSION = 39;
/** Columns of Grafana's grid. */
export const GRID_COLUMNS = 24;

export interface DataSourceRef {
  type: string;
  uid: string;
}

/** Grafana's server-side expressions (reduce, math) take this datasource. */
export const EXPRESSION_DATASOURCE: DataSourceRef & { name: string } = { type: '__expr__', uid: '__expr__', name: 'Expression' };

// ---------------------------------------------------------------------------------------------------------------
// Targets

/** An InfluxQL query in raw mode. Grafana replaces $timeFilter, $__interval and template variables in `query`. */
export interface InfluxTarget {
  refId: string;
  datasource: DataSourceRef;
  rawQuery: true;
  query: string;
  resultFormat: 'time_series' | 'table';
  /** Series name pattern: `$tag_<key>`, `$col`, `$m`; absent: Grafana's default `measurement.column {tags}`. */
  alias?: string;
  /** Hidden from the visualization (still run when an expression uses it). */
  hide?: boolean;
}

export type Reducer = 'last' | 'mean' | 'sum' | 'min' | 'max' | 'count';

/** Server-side expression: each series of `expression` (a refId) reduced to one number, labels kept. */
export interface ReduceExpression {
  refId: string;
  datasource: typeof EXPRESSION_DATASOURCE;
  type: 'reduce';
  expression: string;
  reducer: Reducer;
  settings: { mode: 'dropNN' | 'strict' };
  hide?: boolean;
}

/** Server-side expression: arithmetic on numbers of other refIds (`$C / $D`), joined by their labels. */
export interface MathExpression {
  refId: string;
  datasource: typeof EXPRESSION_DATASOURCE;
  type: 'math';
  expression: string;
  hide?: boolean;
}

export type Target = InfluxTarget | ReduceExpression | MathExpression;

export interface InfluxTargetOptions {
  format?: 'time_series' | 'table';
  alias?: string;
  hide?: boolean;
}

/** An InfluxQL target; `refId` is assigned by the panel factory (A, B, ...) unless given. */
export function influx(datasource: DataSourceRef, query: string, options: InfluxTargetOptions & { refId?: string } = {}): InfluxTarget {
  return {
    refId: options.refId ?? '',
    datasource,
    rawQuery: true,
    query,
    resultFormat: options.format ?? 'time_series',
    ...(options.alias !== undefined ? { alias: options.alias } : {}),
    ...(options.hide ? { hide: true } : {}),
  };
}

export function reduceExpr(refId: string, input: string, reducer: Reducer, options: { hide?: boolean } = {}): ReduceExpression {
  return {
    refId,
    datasource: EXPRESSION_DATASOURCE,
    type: 'reduce',
    expression: input,
    reducer,
    settings: { mode: 'dropNN' },
    ...(options.hide ? { hide: true } : {}),
  };
}

export function mathExpr(refId: string, expression: string, options: { hide?: boolean } = {}): MathExpression {
  return { refId, datasource: EXPRESSION_DATASOURCE, type: 'math', expression, ...(options.hide ? { hide: true } : {}) };
}

export function isInfluxTarget(t: Target): t is InfluxTarget {
  return 'rawQuery' in t;
}

// ---------------------------------------------------------------------------------------------------------------
// Field config

export interface MappingResult {
  text?: string;
  color?: string;
  index?: number;
}

export type ValueMapping =
  | { type: 'value'; options: Record<string, MappingResult> }
  | { type: 'range'; options: { from: number | null; to: number | null; result: MappingResult } }
  | { type: 'special'; options: { match: 'null' | 'nan' | 'null+nan' | 'true' | 'false' | 'empty'; result: MappingResult } };

export interface ThresholdStep {
  color: string;
  /** null: the base step (minus infinity). */
  value: number | null;
}

export interface Thresholds {
  mode: 'absolute' | 'percentage';
  steps: ThresholdStep[];
}

export interface FieldColor {
  mode: 'thresholds' | 'fixed' | 'palette-classic' | 'continuous-GrYlRd' | 'continuous-RdYlGr';
  fixedColor?: string;
}

export interface FieldDefaults {
  unit?: string;
  decimals?: number;
  min?: number;
  max?: number;
  displayName?: string;
  noValue?: string;
  color?: FieldColor;
  mappings?: ValueMapping[];
  thresholds?: Thresholds;
  custom?: Record<string, unknown>;
}

export interface FieldOverride {
  matcher: { id: 'byName' | 'byRegexp' | 'byFrameRefID' | 'byType'; options: string };
  properties: Array<{ id: string; value: unknown }>;
}

export interface FieldConfig {
  defaults: FieldDefaults;
  overrides: FieldOverride[];
}

/** Override of the fields whose display name matches `pattern` (a regex source, without slashes). */
export function overrideRegex(pattern: string, properties: Record<string, unknown>): FieldOverride {
  return { matcher: { id: 'byRegexp', options: `/${pattern}/` }, properties: Object.entries(properties).map(([id, value]) => ({ id, value })) };
}

export function overrideName(name: string, properties: Record<string, unknown>): FieldOverride {
  return { matcher: { id: 'byName', options: name }, properties: Object.entries(properties).map(([id, value]) => ({ id, value })) };
}

/** Thresholds from a base colour and [value, colour] steps. */
export function thresholds(base: string, ...steps: Array<[number, string]>): Thresholds {
  return { mode: 'absolute', steps: [{ color: base, value: null }, ...steps.map(([value, color]) => ({ color, value }))] };
}

// ---------------------------------------------------------------------------------------------------------------
// Panels

export type PanelType = 'timeseries' | 'stat' | 'state-timeline' | 'table' | 'bargauge' | 'text' | 'row';

export interface GridPos {
  h: number;
  w: number;
  x: number;
  y: number;
}

export interface Transformation {
  id: string;
  options: Record<string, unknown>;
}

export interface Panel {
  id: number;
  type: PanelType;
  title: string;
  description?: string;
  gridPos: GridPos;
  datasource?: DataSourceRef;
  targets?: Target[];
  fieldConfig?: FieldConfig;
  options?: Record<string, unknown>;
  transformations?: Transformation[];
  /** Minimum $__interval (e.g. `5m`). */
  interval?: string;
  maxDataPoints?: number;
  repeat?: string;
  repeatDirection?: 'h' | 'v';
  maxPerRow?: number;
  /** Rows only. */
  collapsed?: boolean;
  panels?: Panel[];
}

/** A panel before layout: everything but id and position, plus its size. */
export interface PanelSpec {
  kind: 'panel';
  w: number;
  h: number;
  panel: Omit<Panel, 'id' | 'gridPos'>;
}

export interface RowSpec {
  kind: 'row';
  title: string;
}

export interface CommonPanelOptions {
  title: string;
  description?: string;
  datasource: DataSourceRef;
  targets: Target[];
  w: number;
  h: number;
  unit?: string;
  decimals?: number;
  min?: number;
  max?: number;
  mappings?: ValueMapping[];
  thresholds?: Thresholds;
  color?: FieldColor;
  noValue?: string;
  overrides?: FieldOverride[];
  transformations?: Transformation[];
  interval?: string;
  repeat?: { variable: string; maxPerRow: number };
}

const REF_IDS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Gives targets without a refId the next free letter. */
function withRefIds(targets: Target[]): Target[] {
  const used = new Set(targets.map((t) => t.refId).filter((r) => r !== ''));
  let next = 0;
  return targets.map((t) => {
    if (t.refId !== '') return t;
    while (used.has(REF_IDS[next]!)) next++;
    const refId = REF_IDS[next]!;
    used.add(refId);
    return { ...t, refId };
  });
}

function basePanel(type: PanelType, o: CommonPanelOptions, custom: Record<string, unknown>, options: Record<string, unknown>): PanelSpec {
  const defaults: FieldDefaults = {
    ...(o.unit !== undefined ? { unit: o.unit } : {}),
    ...(o.decimals !== undefined ? { decimals: o.decimals } : {}),
    ...(o.min !== undefined ? { min: o.min } : {}),
    ...(o.max !== undefined ? { max: o.max } : {}),
    ...(o.noValue !== undefined ? { noValue: o.noValue } : {}),
    color: o.color ?? { mode: 'palette-classic' },
    mappings: o.mappings ?? [],
    thresholds: o.thresholds ?? thresholds('green'),
    custom,
  };
  return {
    kind: 'panel',
    w: o.w,
    h: o.h,
    panel: {
      type,
      title: o.title,
      ...(o.description !== undefined ? { description: o.description } : {}),
      datasource: o.datasource,
      targets: withRefIds(o.targets),
      fieldConfig: { defaults, overrides: o.overrides ?? [] },
      options,
      ...(o.transformations !== undefined ? { transformations: o.transformations } : {}),
      ...(o.interval !== undefined ? { interval: o.interval } : {}),
      ...(o.repeat !== undefined ? { repeat: o.repeat.variable, repeatDirection: 'h' as const, maxPerRow: o.repeat.maxPerRow } : {}),
    },
  };
}

const LEGEND = { displayMode: 'list', placement: 'bottom', showLegend: true, calcs: [] as string[] };

export interface TimeseriesOptions extends CommonPanelOptions {
  draw?: 'line' | 'bars' | 'points';
  /** Bars: where the bar sits relative to its point (1: after it, e.g. a day from its midnight). */
  barAlignment?: -1 | 0 | 1;
  fillOpacity?: number;
  stacking?: 'none' | 'normal';
  /** Draw the thresholds as lines or dashes. */
  thresholdsStyle?: 'off' | 'line' | 'dashed' | 'line+area';
  /** Connect points across nulls; false leaves gaps where there is no data. */
  spanNulls?: boolean;
}

export function timeseries(o: TimeseriesOptions): PanelSpec {
  return basePanel(
    'timeseries',
    o,
    {
      drawStyle: o.draw ?? 'line',
      lineWidth: 1,
      fillOpacity: o.fillOpacity ?? (o.draw === 'bars' ? 80 : 10),
      gradientMode: 'none',
      showPoints: 'auto',
      pointSize: 4,
      spanNulls: o.spanNulls ?? false,
      barAlignment: o.barAlignment ?? 0,
      lineInterpolation: 'linear',
      axisPlacement: 'auto',
      axisLabel: '',
      scaleDistribution: { type: 'linear' },
      stacking: { mode: o.stacking ?? 'none', group: 'A' },
      thresholdsStyle: { mode: o.thresholdsStyle ?? 'off' },
      hideFrom: { legend: false, tooltip: false, viz: false },
    },
    { legend: LEGEND, tooltip: { mode: 'multi', sort: 'none' } },
  );
}

export interface StatOptions extends CommonPanelOptions {
  colorMode?: 'value' | 'background' | 'none';
  textMode?: 'auto' | 'value' | 'value_and_name' | 'name';
  /** Reducer over each field's values (Grafana calc ids). */
  calc?: 'lastNotNull' | 'last' | 'mean' | 'sum' | 'max';
  orientation?: 'auto' | 'horizontal' | 'vertical';
}

export function stat(o: StatOptions): PanelSpec {
  return basePanel(
    'stat',
    o,
    {},
    {
      reduceOptions: { calcs: [o.calc ?? 'lastNotNull'], fields: '', values: false },
      orientation: o.orientation ?? 'auto',
      textMode: o.textMode ?? 'value_and_name',
      colorMode: o.colorMode ?? 'value',
      graphMode: 'none',
      justifyMode: 'auto',
      wideLayout: true,
      showPercentChange: false,
    },
  );
}

export interface StateTimelineOptions extends CommonPanelOptions {
  /** Merge equal consecutive values into one box. */
  mergeValues?: boolean;
  showValue?: 'auto' | 'always' | 'never';
}

export function stateTimeline(o: StateTimelineOptions): PanelSpec {
  return basePanel(
    'state-timeline',
    o,
    { fillOpacity: 80, lineWidth: 0, hideFrom: { legend: false, tooltip: false, viz: false } },
    {
      mergeValues: o.mergeValues ?? true,
      showValue: o.showValue ?? 'auto',
      alignValue: 'left',
      rowHeight: 0.9,
      legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
      tooltip: { mode: 'single', sort: 'none' },
    },
  );
}

export interface TableOptions extends CommonPanelOptions {
  sortBy?: Array<{ displayName: string; desc: boolean }>;
}

export function table(o: TableOptions): PanelSpec {
  return basePanel(
    'table',
    o,
    { align: 'auto', cellOptions: { type: 'auto' }, inspect: false },
    {
      showHeader: true,
      cellHeight: 'sm',
      footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
      sortBy: o.sortBy ?? [],
    },
  );
}

export interface BarGaugeOptions extends CommonPanelOptions {
  calc?: 'lastNotNull' | 'last' | 'mean' | 'sum' | 'max';
  /** Show every row of a table (names from its text fields) instead of one reduced value per field. */
  allValues?: boolean;
  /** With allValues: which fields to show (a regex source in slashes, or a field name). */
  fields?: string;
  displayMode?: 'gradient' | 'lcd' | 'basic';
}

export function barGauge(o: BarGaugeOptions): PanelSpec {
  return basePanel(
    'bargauge',
    o,
    {},
    {
      reduceOptions: { calcs: [o.calc ?? 'lastNotNull'], fields: o.fields ?? '', values: o.allValues ?? false },
      orientation: 'horizontal',
      displayMode: o.displayMode ?? 'gradient',
      valueMode: 'color',
      namePlacement: 'auto',
      showUnfilled: true,
      sizing: 'auto',
      minVizWidth: 8,
      minVizHeight: 16,
      maxVizHeight: 300,
    },
  );
}

export interface TextOptions {
  title: string;
  description?: string;
  /** Markdown; Grafana interpolates template variables in it. */
  content: string;
  w: number;
  h: number;
}

export function text(o: TextOptions): PanelSpec {
  return {
    kind: 'panel',
    w: o.w,
    h: o.h,
    panel: {
      type: 'text',
      title: o.title,
      ...(o.description !== undefined ? { description: o.description } : {}),
      options: { mode: 'markdown', content: o.content, code: { language: 'plaintext', showLineNumbers: false, showMiniMap: false } },
    },
  };
}

export function row(title: string): RowSpec {
  return { kind: 'row', title };
}

// ---------------------------------------------------------------------------------------------------------------
// Variables

export interface VariableOption {
  selected: boolean;
  text: string | string[];
  value: string | string[];
}

export interface QueryVariable {
  type: 'query';
  name: string;
  label: string;
  description?: string;
  datasource: DataSourceRef;
  query: string;
  definition: string;
  /** 1: on dashboard load, 2: on time range change. */
  refresh: 1 | 2;
  multi: boolean;
  includeAll: boolean;
  /** Value of "All"; absent: Grafana sends every value as (a|b|c). */
  allValue?: string;
  current: VariableOption;
  options: VariableOption[];
  /** 1: alphabetical ascending. */
  sort: 0 | 1;
  regex: string;
  hide: 0 | 1 | 2;
  skipUrlSync: false;
}

export interface TextboxVariable {
  type: 'textbox';
  name: string;
  label: string;
  description?: string;
  query: string;
  current: VariableOption;
  options: VariableOption[];
  hide: 0 | 1 | 2;
  skipUrlSync: false;
}

export type Variable = QueryVariable | TextboxVariable;

const ALL: VariableOption = { selected: true, text: ['All'], value: ['$__all'] };

export function queryVariable(o: {
  name: string;
  label: string;
  description?: string;
  datasource: DataSourceRef;
  query: string;
  /** Multi-value with an "All" option (the default). */
  multi?: boolean;
  allValue?: string;
}): QueryVariable {
  const multi = o.multi ?? true;
  return {
    type: 'query',
    name: o.name,
    label: o.label,
    ...(o.description !== undefined ? { description: o.description } : {}),
    datasource: o.datasource,
    query: o.query,
    definition: o.query,
    refresh: 1,
    multi,
    includeAll: multi,
    ...(o.allValue !== undefined ? { allValue: o.allValue } : {}),
    current: multi ? ALL : { selected: false, text: '', value: '' },
    options: [],
    sort: 1,
    regex: '',
    hide: 0,
    skipUrlSync: false,
  };
}

export function textboxVariable(o: { name: string; label: string; description?: string; value: string }): TextboxVariable {
  const current = { selected: false, text: o.value, value: o.value };
  return {
    type: 'textbox',
    name: o.name,
    label: o.label,
    ...(o.description !== undefined ? { description: o.description } : {}),
    query: o.value,
    current,
    options: [{ ...current, selected: true }],
    hide: 0,
    skipUrlSync: false,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Dashboard

export interface DashboardLink {
  title: string;
  type: 'dashboards' | 'link';
  tags: string[];
  asDropdown: boolean;
  includeVars: boolean;
  keepTime: boolean;
  targetBlank: boolean;
  icon: string;
  tooltip: string;
  url: string;
}

export interface Dashboard {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  timezone: string;
  editable: boolean;
  graphTooltip: 0 | 1 | 2;
  fiscalYearStartMonth: number;
  liveNow: boolean;
  weekStart: string;
  refresh: string;
  schemaVersion: number;
  version: number;
  time: { from: string; to: string };
  timepicker: Record<string, unknown>;
  templating: { list: Variable[] };
  annotations: { list: Array<Record<string, unknown>> };
  links: DashboardLink[];
  panels: Panel[];
}

export interface DashboardOptions {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  time: { from: string; to: string };
  refresh?: string;
  variables: Variable[];
  items: Array<PanelSpec | RowSpec>;
}

/** Lays the items out on the 24-column grid and numbers the panels 1, 2, ... in order. */
export function layout(items: ReadonlyArray<PanelSpec | RowSpec>): Panel[] {
  const panels: Panel[] = [];
  let x = 0;
  let y = 0;
  let lineHeight = 0;
  const newLine = () => {
    y += lineHeight;
    x = 0;
    lineHeight = 0;
  };
  for (const item of items) {
    const id = panels.length + 1;
    if (item.kind === 'row') {
      newLine();
      panels.push({ id, type: 'row', title: item.title, gridPos: { h: 1, w: GRID_COLUMNS, x: 0, y }, collapsed: false, panels: [] });
      y += 1;
      continue;
    }
    if (item.w < 1 || item.w > GRID_COLUMNS) throw new Error(`panel "${item.panel.title}": width ${item.w} is not 1..${GRID_COLUMNS}`);
    if (x + item.w > GRID_COLUMNS) newLine();
    panels.push({ id, ...item.panel, gridPos: { h: item.h, w: item.w, x, y } });
    x += item.w;
    lineHeight = Math.max(lineHeight, item.h);
  }
  return panels;
}

export function dashboard(o: DashboardOptions): Dashboard {
  return {
    uid: o.uid,
    title: o.title,
    description: o.description,
    tags: o.tags,
    // Days, months and "year to date" are the browser's: open the dashboards in the collector's time zone.
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    fiscalYearStartMonth: 0,
    liveNow: false,
    weekStart: '',
    refresh: o.refresh ?? '',
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    time: o.time,
    timepicker: {},
    templating: { list: o.variables },
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
      ],
    },
    links: [
      {
        title: 'jishi',
        type: 'dashboards',
        tags: ['jishi'],
        asDropdown: true,
        includeVars: true,
        keepTime: true,
        targetBlank: false,
        icon: 'external link',
        tooltip: '',
        url: '',
      },
    ],
    panels: layout(o.items),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Output

/** Objects with their keys sorted, recursively (arrays keep their order): stable output for diffs. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/** The dashboard as its committed file: sorted keys, 2-space indent, a trailing newline. */
export function renderDashboard(d: Dashboard): string {
  return `${JSON.stringify(sortKeys(d), null, 2)}\n`;
}

/** Every panel, rows' nested panels included. */
export function allPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}
