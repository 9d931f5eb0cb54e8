/**
 * Reading the generated dashboards back, for the tests: every query with where it comes from, the template
 * variables a text refers to, Grafana's interpolation of InfluxQL queries, and the identifiers of a query.
 */
import { allPanels, isInfluxTarget, type Dashboard, type InfluxTarget, type Panel, type Variable } from './grafana.ts';

/** Grafana's built-in variables the dashboards use (they need no templating entry). */
export const BUILTIN_VARIABLES: ReadonlySet<string> = new Set(['timeFilter', '__interval', '__interval_ms', '__from', '__to', '__range', '__range_s', '__range_ms']);

/** Names of the template variables a text refers to: `$name`, `${name}`, `${name:format}`, `[[name]]`. */
export function variableReferences(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]/g)) names.add((m[1] ?? m[2] ?? m[3])!);
  return [...names];
}

/** Grafana's regex escaping of variable values in InfluxQL (`escapeRegex` of @grafana/data). */
export function escapeRegex(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
}

/** A variable's value: the selected values, or "All". */
export type Selection = readonly string[] | 'All';

export interface InterpolationContext {
  /** Dashboard range, ms since epoch. */
  from: number;
  to: number;
  /** $__interval, e.g. `1m`. */
  interval: string;
  /** Selection of each template variable by name. */
  selections: Readonly<Record<string, Selection>>;
  /** The values "All" stands for, when the variable has no custom all value (the results of its query). */
  allValues: Readonly<Record<string, readonly string[]>>;
}

/**
 * The query as Grafana's InfluxDB datasource sends it: $timeFilter -> `time >= <from>ms and time <= <to>ms`,
 * $__interval, ${__from}/${__to} in ms; a multi-value variable as its regex-escaped value, or `(a|b)` for several,
 * "All" as the custom all value when there is one (not escaped), else as every value. Throws on an unknown variable.
 */
export function interpolate(query: string, variables: readonly Variable[], ctx: InterpolationContext): string {
  const byName = new Map(variables.map((v) => [v.name, v]));
  const builtin = (name: string): string | undefined => {
    switch (name) {
      case 'timeFilter':
        return `time >= ${ctx.from}ms and time <= ${ctx.to}ms`;
      case '__interval':
        return ctx.interval;
      case '__from':
        return String(ctx.from);
      case '__to':
        return String(ctx.to);
      default:
        return undefined;
    }
  };
  return query.replace(/\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)\]\]/g, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    const fixed = builtin(name);
    if (fixed !== undefined) return fixed;
    const v = byName.get(name);
    if (v === undefined) throw new Error(`unknown variable ${whole} in ${query}`);
    if (v.type === 'textbox') return v.query;
    const selection = ctx.selections[name];
    if (selection === undefined) throw new Error(`no selection for $${name}`);
    if (selection === 'All' && v.allValue !== undefined) return v.allValue;
    const values = selection === 'All' ? ctx.allValues[name] : selection;
    if (values === undefined || values.length === 0) throw new Error(`no values for $${name}`);
    const escaped = values.map(escapeRegex);
    return escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`;
  });
}

export interface QueryIdentifiers {
  /** Measurements after FROM. */
  measurements: string[];
  /** Every other double-quoted identifier (fields, tags, aliases). */
  names: string[];
  /** Names defined by `AS "x"`. */
  aliases: string[];
  /** Unquoted words left once literals, variables and numbers are removed (keywords and functions). */
  words: string[];
}

/** The identifiers of an InfluxQL query written the dashboards' way (every identifier double-quoted). */
export function queryIdentifiers(query: string): QueryIdentifiers {
  const stripped = query
    .replace(/=~\s*\/(?:[^/\\]|\\.)*\//g, '=~ ') // regex literals
    .replace(/'(?:[^'\\]|\\.)*'/g, ' ') // string literals
    .replace(/\$\{[^}]*\}|\$\w+|\[\[\w+\]\]/g, '0'); // variables: a number, so `${__from}ms` reads as a duration
  const measurements = [...stripped.matchAll(/\bFROM\s+"([^"]+)"/gi)].map((m) => m[1]!);
  const aliases = [...stripped.matchAll(/\bAS\s+"([^"]+)"/gi)].map((m) => m[1]!);
  const quoted = [...stripped.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
  const measurementSet = new Set(measurements);
  const names = quoted.filter((n) => !measurementSet.has(n));
  const words = [
    ...stripped
      .replace(/"[^"]*"/g, ' ')
      .replace(/\b\d+(?:\.\d+)?[a-z]*/gi, ' ')
      .matchAll(/[A-Za-z_]\w*/g),
  ].map((m) => m[0]);
  return { measurements, names, aliases, words };
}

export interface QueryRef {
  dashboard: Dashboard;
  /** `<uid>/<panel title>` or `<uid>/$<variable>`. */
  key: string;
  panel?: Panel;
  variable?: Variable;
  target?: InfluxTarget;
  query: string;
}

/** Every InfluxQL query of a dashboard: its panels' targets and its query variables. */
export function dashboardQueries(d: Dashboard): QueryRef[] {
  const out: QueryRef[] = [];
  for (const v of d.templating.list) if (v.type === 'query') out.push({ dashboard: d, key: `${d.uid}/$${v.name}`, variable: v, query: v.query });
  for (const panel of allPanels(d)) {
    for (const target of panel.targets ?? []) {
      if (isInfluxTarget(target)) out.push({ dashboard: d, key: `${d.uid}/${panel.title}`, panel, target, query: target.query });
    }
  }
  return out;
}
