/**
 * The Grafana dashboards (dashboards/src -> dashboards/generated): the committed files are what the builders
 * generate, the JSON is sound (ids, datasource, grid), and every query uses only what docs/metric-schema.md
 * documents and only variables the dashboard defines. The queries themselves run against a real influxd in
 * dashboard-queries.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { allPanels, GRID_COLUMNS, isInfluxTarget, SCHEMA_VERSION, type Dashboard } from '../dashboards/src/grafana.ts';
import { buildDashboards, generatedFiles } from '../dashboards/src/index.ts';
import { BUILTIN_VARIABLES, dashboardQueries, queryIdentifiers, variableReferences } from '../dashboards/src/inspect.ts';

const read = (p: string): string => readFileSync(new URL(`../${p}`, import.meta.url), 'utf8');
const dashboards = buildDashboards();

/** The provisioned InfluxDB datasource. */
function provisionedDatasource(): { uid: string; type: string } {
  const doc = parse(read('dashboards/provisioning/datasources/jishi.yaml')) as { datasources: Array<{ uid: string; type: string }> };
  expect(doc.datasources).toHaveLength(1);
  const { uid, type } = doc.datasources[0]!;
  return { type, uid };
}

interface MeasurementSchema {
  tags: Set<string>;
  fields: Set<string>;
}

/** The measurements of docs/metric-schema.md with their tags and fields, from its tables. */
function parseMetricSchema(doc: string): Map<string, MeasurementSchema> {
  const lines = doc.split('\n');
  const ticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
  const readingFields = new Set<string>();
  const out = new Map<string, MeasurementSchema>();
  let section = '';
  let current: MeasurementSchema | undefined;
  for (const line of lines) {
    if (line.startsWith('## ')) {
      section = line.slice(3).trim();
      current = undefined;
      continue;
    }
    const heading = /^### `(\w+)`/.exec(line);
    if (heading && section === 'InfluxDB measurements') {
      current = { tags: new Set(), fields: new Set() };
      out.set(heading[1]!, current);
      continue;
    }
    if (!line.startsWith('|') || /^\|\s*-/.test(line)) continue;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (section === 'Reading fields') {
      for (const f of ticked(cells[0] ?? '')) readingFields.add(f);
    } else if (current !== undefined) {
      const [kind, names] = cells;
      if (kind !== 'tag' && kind !== 'field') continue;
      const set = kind === 'tag' ? current.tags : current.fields;
      for (const n of ticked(names ?? '')) set.add(n);
      if ((names ?? '').includes('reading fields above')) for (const f of readingFields) set.add(f);
    }
  }
  return out;
}

/** Keywords and functions the dashboards' InfluxQL may use unquoted. */
const INFLUXQL_WORDS = new Set(
  [
    'SELECT', 'FROM', 'WHERE', 'AND', 'OR', 'AS', 'GROUP', 'BY', 'ORDER', 'DESC', 'ASC', 'LIMIT', 'FILL', 'NULL', 'NONE', 'PREVIOUS',
    'SHOW', 'TAG', 'VALUES', 'WITH', 'KEY', 'time', 'now',
    'last', 'first', 'mean', 'sum', 'count', 'max', 'min', 'median', 'difference', 'non_negative_difference',
  ].map((w) => w.toLowerCase()),
);

describe('generated dashboards', () => {
  it('are the committed files in dashboards/generated (run `npm run dashboards` after changing dashboards/src)', () => {
    const files = generatedFiles();
    const committed = readdirSync(new URL('../dashboards/generated/', import.meta.url)).filter((f) => f.endsWith('.json'));
    expect(committed.sort()).toEqual([...files.keys()].sort());
    for (const [name, content] of files) {
      expect(read(`dashboards/generated/${name}`), `dashboards/generated/${name} is out of date: run npm run dashboards`).toBe(content);
      expect(content.endsWith('}\n')).toBe(true);
      expect(JSON.parse(content)).toEqual(JSON.parse(JSON.stringify(dashboards.find((d) => `${d.uid}.json` === name))));
    }
  });

  it('have distinct uids and titles, and the provider loads them from the directory the README names', () => {
    expect(new Set(dashboards.map((d) => d.uid)).size).toBe(dashboards.length);
    expect(new Set(dashboards.map((d) => d.title)).size).toBe(dashboards.length);
    for (const d of dashboards) {
      expect(d.uid).toMatch(/^[a-z0-9-]{1,40}$/);
      expect(d.schemaVersion).toBe(SCHEMA_VERSION);
      expect(d.tags).toContain('jishi');
    }
    const provider = parse(read('dashboards/provisioning/dashboards/jishi.yaml')) as {
      apiVersion: number;
      providers: Array<{ type: string; options: { path: string } }>;
    };
    expect(provider.apiVersion).toBe(1);
    expect(provider.providers).toHaveLength(1);
    expect(provider.providers[0]!.type).toBe('file');
    const path = provider.providers[0]!.options.path;
    expect(path).toMatch(/^\/[\w/.-]+$/);
    expect(read('dashboards/README.md')).toContain(path);
  });

  describe.each(dashboards.map((d) => [d.uid, d] as [string, Dashboard]))('%s', (_uid, d) => {
    const panels = allPanels(d);
    const datasource = provisionedDatasource();

    it('has unique panel ids and titles, and every panel on the 24-column grid without overlaps', () => {
      expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
      const titled = panels.filter((p) => p.type !== 'row').map((p) => p.title);
      expect(new Set(titled).size, 'panel titles').toBe(titled.length);
      for (const p of panels) {
        const { x, y, w, h } = p.gridPos;
        for (const n of [x, y, w, h]) expect(Number.isInteger(n), p.title).toBe(true);
        expect(x, p.title).toBeGreaterThanOrEqual(0);
        expect(y, p.title).toBeGreaterThanOrEqual(0);
        expect(w, p.title).toBeGreaterThanOrEqual(1);
        expect(h, p.title).toBeGreaterThanOrEqual(1);
        expect(x + w, p.title).toBeLessThanOrEqual(GRID_COLUMNS);
      }
      for (const [i, a] of panels.entries()) {
        for (const b of panels.slice(i + 1)) {
          const overlap =
            a.gridPos.x < b.gridPos.x + b.gridPos.w && b.gridPos.x < a.gridPos.x + a.gridPos.w && a.gridPos.y < b.gridPos.y + b.gridPos.h && b.gridPos.y < a.gridPos.y + a.gridPos.h;
          expect(overlap, `${a.title} / ${b.title}`).toBe(false);
        }
      }
    });

    it('queries the provisioned datasource in raw InfluxQL, with unique refIds and expressions on existing ones', () => {
      for (const v of d.templating.list) if (v.type === 'query') expect(v.datasource, v.name).toEqual(datasource);
      for (const p of panels) {
        if (p.type === 'row' || p.type === 'text') {
          expect(p.targets, p.title).toBeUndefined();
          continue;
        }
        expect(p.datasource, p.title).toEqual(datasource);
        const targets = p.targets ?? [];
        expect(targets.length, p.title).toBeGreaterThan(0);
        const refIds = targets.map((t) => t.refId);
        expect(new Set(refIds).size, p.title).toBe(refIds.length);
        for (const t of targets) {
          expect(t.refId, p.title).toMatch(/^[A-Z]$/);
          if (isInfluxTarget(t)) {
            expect(t.datasource, p.title).toEqual(datasource);
            expect(t.rawQuery).toBe(true);
            expect(t.query.trim(), p.title).not.toBe('');
          } else {
            expect(t.datasource.uid).toBe('__expr__');
            const inputs = t.type === 'reduce' ? [t.expression] : [...t.expression.matchAll(/\$([A-Z])\b/g)].map((m) => m[1]!);
            expect(inputs.length, `${p.title} ${t.refId}`).toBeGreaterThan(0);
            for (const input of inputs) expect(refIds.filter((r) => r !== t.refId), `${p.title} ${t.refId}`).toContain(input);
          }
        }
        expect(targets.some((t) => !t.hide), `${p.title}: something to show`).toBe(true);
      }
    });

    it('queries only the measurements, tags and fields docs/metric-schema.md documents', () => {
      const schema = parseMetricSchema(read('docs/metric-schema.md'));
      expect([...schema.keys()]).toEqual(
        expect.arrayContaining(['reading', 'instrument_state', 'instrument_session', 'instrument_daily', 'instrument_live', 'instrument_info', 'agent_health']),
      );
      expect(schema.get('reading')!.fields).toContain('power_w');
      for (const ref of dashboardQueries(d)) {
        const ids = queryIdentifiers(ref.query);
        expect(ids.measurements.length, ref.key).toBeGreaterThan(0);
        const known = new Set<string>(ids.aliases);
        for (const m of ids.measurements) {
          const s = schema.get(m);
          expect(s, `${ref.key}: measurement ${m}`).toBeDefined();
          for (const n of [...s!.tags, ...s!.fields]) known.add(n);
        }
        for (const n of ids.names) expect(known.has(n), `${ref.key}: "${n}" is not a documented tag or field of ${ids.measurements.join(', ')}`).toBe(true);
        for (const w of ids.words) expect(INFLUXQL_WORDS.has(w.toLowerCase()), `${ref.key}: unquoted "${w}" in ${ref.query}`).toBe(true);
      }
    });

    it('filters per-instrument measurements by $instrument and agent_health by $agent where the dashboard has them', () => {
      const names = new Set(d.templating.list.map((v) => v.name));
      for (const ref of dashboardQueries(d)) {
        if (ref.variable !== undefined) continue;
        const ms = queryIdentifiers(ref.query).measurements;
        if (names.has('instrument') && ms.some((m) => m === 'reading' || m.startsWith('instrument_'))) expect(ref.query, ref.key).toContain('"instrument_id" =~ /^$instrument$/');
        if (names.has('agent') && ms.includes('agent_health')) expect(ref.query, ref.key).toContain('"agent_id" =~ /^$agent$/');
      }
    });

    it('defines every variable its queries, texts and repeats refer to', () => {
      const defined = new Set(d.templating.list.map((v) => v.name));
      expect(defined.size).toBe(d.templating.list.length);
      const texts: Array<[string, string]> = dashboardQueries(d).map((r) => [r.key, r.query]);
      for (const p of panels) {
        if (p.type === 'text') texts.push([p.title, String(p.options?.content)]);
        if (p.repeat !== undefined) texts.push([p.title, `$${p.repeat}`]);
      }
      for (const [where, t] of texts) {
        for (const name of variableReferences(t)) expect(defined.has(name) || BUILTIN_VARIABLES.has(name), `${where}: $${name}`).toBe(true);
      }
      for (const v of d.templating.list) {
        if (v.type !== 'query') continue;
        expect(v.multi && v.includeAll, v.name).toBe(true);
        // A variable may only use variables defined before it (Grafana resolves them in order).
        const before = new Set(d.templating.list.slice(0, d.templating.list.indexOf(v)).map((x) => x.name));
        for (const name of variableReferences(v.query)) expect(before.has(name), `$${v.name} uses $${name}`).toBe(true);
      }
    });
  });
});
