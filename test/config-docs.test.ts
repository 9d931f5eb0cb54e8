/**
 * docs/config.md and docs/examples/ stay in step with the config code:
 * - every key of both TypeBox schemas has a row in the doc's key tables (and every row is a real key),
 *   with the right type, "required" exactly where the schema requires it, and the schema's numeric range;
 * - the defaults written in the tables are CONFIG_LIMITS / COLLECTOR_DEFAULTS;
 * - both example files validate, and the validation examples in the doc are the real output;
 * - the profile catalog, the transport kinds and the transports with a driver are the ones in the code.
 *
 * Convention of the doc: each config section (`## Agent config`, `## Collector config`) has a table whose
 * header starts with `| key |`; each row starts with the key path in backticks, e.g. `instruments[].poll_interval_s`
 * (`.` between mapping keys, `[]` after a list), and has the columns key | type | default | allowed | description.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AgentConfigSchema, CONFIG_LIMITS, loadAgentConfig, parseAgentConfig } from '../agent/config.ts';
import { SUPPORTED_TRANSPORTS } from '../agent/drivers/index.ts';
import { COLLECTOR_DEFAULTS, CollectorConfigSchema, loadCollectorConfig, parseCollectorConfig } from '../collector/config.ts';
import { ConfigError } from '../common/errors.ts';
import { TRANSPORT_KINDS } from '../common/transport-url.ts';
import { getProfile, profileIds } from '../devices/catalog.ts';
import { profileFields } from '../devices/profile.ts';

const path = (p: string): string => fileURLToPath(new URL(`../${p}`, import.meta.url));
const read = (p: string): string => readFileSync(path(p), 'utf8');
const DOC = read('docs/config.md');
const AGENT_EXAMPLE = 'docs/examples/agent.yaml';
const COLLECTOR_EXAMPLE = 'docs/examples/collector.yaml';

// ---- schema walking ------------------------------------------------------------------------------

/** The parts of a TypeBox (JSON Schema) node the walk looks at. */
interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  minimum?: number;
  maximum?: number;
}

interface KeyInfo {
  path: string;
  schema: SchemaNode;
  required: boolean;
}

/** Every key path of a schema: properties of objects (`a.b`), items of arrays (`list[].key`), union members. */
function keyPaths(node: SchemaNode, prefix = '', out: KeyInfo[] = []): KeyInfo[] {
  if (node.properties) {
    for (const [key, child] of Object.entries(node.properties)) {
      const p = prefix === '' ? key : `${prefix}.${key}`;
      // Optional(...) keeps the schema and only leaves the key out of the parent's `required`.
      out.push({ path: p, schema: child, required: node.required?.includes(key) ?? false });
      keyPaths(child, p, out);
    }
  }
  if (node.items) keyPaths(node.items, `${prefix}[]`, out);
  for (const member of node.anyOf ?? []) keyPaths(member, prefix, out);
  return out;
}

const AGENT_KEYS = keyPaths(AgentConfigSchema as unknown as SchemaNode);
const COLLECTOR_KEYS = keyPaths(CollectorConfigSchema as unknown as SchemaNode);

// ---- doc parsing ---------------------------------------------------------------------------------

/** The text of a `## ` section, up to the next `## ` heading. */
function section(heading: string): string {
  const lines = DOC.split('\n');
  const start = lines.indexOf(`## ${heading}`);
  if (start < 0) throw new Error(`docs/config.md has no "## ${heading}" heading`);
  const end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

interface KeyRow {
  type: string;
  default: string;
  allowed: string;
  description: string;
}

/** Rows of the key tables (header `| key | type | default | allowed | description |`) of a section, by key path. */
function keyRows(text: string): Map<string, KeyRow> {
  const rows = new Map<string, KeyRow>();
  let inTable = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('| key |')) {
      inTable = true;
      continue;
    }
    if (!line.startsWith('|')) {
      inTable = false;
      continue;
    }
    if (!inTable || line.startsWith('| ---')) continue;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    expect(cells, line).toHaveLength(5);
    const key = /^`([^`]+)`$/.exec(cells[0]!)?.[1];
    if (key === undefined) throw new Error(`key table row without a \`key\` in its first cell: ${line}`);
    expect(rows.has(key), `${key} documented twice`).toBe(false);
    rows.set(key, { type: cells[1]!, default: cells[2]!, allowed: cells[3]!, description: cells[4]! });
  }
  return rows;
}

const AGENT_ROWS = keyRows(section('Agent config'));
const COLLECTOR_ROWS = keyRows(section('Collector config'));

/** A default cell's value: the cell without backticks. */
const cellValue = (cell: string): string => cell.replace(/`/g, '').trim();

/** The fenced block of `lang` that follows `marker` in the doc. */
function blockAfter(marker: string, lang: string): string {
  const at = DOC.indexOf(marker);
  if (at < 0) throw new Error(`docs/config.md does not contain "${marker}"`);
  const open = DOC.indexOf(`\n\`\`\`${lang}\n`, at);
  const close = DOC.indexOf('\n```\n', open + 1);
  return DOC.slice(open + lang.length + 5, close + 1);
}

// ---- tests ---------------------------------------------------------------------------------------

describe.each([
  { name: 'agent', keys: AGENT_KEYS, rows: AGENT_ROWS },
  { name: 'collector', keys: COLLECTOR_KEYS, rows: COLLECTOR_ROWS },
])('docs/config.md: $name config keys', ({ keys, rows }) => {
  it('the schema walk finds keys at every level', () => {
    expect(keys.some((k) => k.path.includes('[].'))).toBe(true);
    expect(keys.some((k) => !k.required)).toBe(true);
  });

  it('documents every key of the schema in its key table', () => {
    const missing = keys.map((k) => k.path).filter((p) => !rows.has(p));
    expect(missing).toEqual([]);
  });

  it('documents no key the schema does not have', () => {
    const known = new Set(keys.map((k) => k.path));
    expect([...rows.keys()].filter((p) => !known.has(p))).toEqual([]);
  });

  it('marks exactly the required keys as required, and gives numbers their type and range', () => {
    for (const { path: key, schema, required } of keys) {
      const row = rows.get(key)!;
      expect(row.default.startsWith('required'), `${key}: default column "${row.default}"`).toBe(required);
      if (schema.type === 'number' || schema.type === 'integer') {
        expect(row.type, key).toBe(schema.type);
        if (schema.minimum !== undefined && schema.maximum !== undefined) {
          expect(row.allowed.startsWith(`${schema.minimum} to ${schema.maximum}`), `${key}: allowed column "${row.allowed}"`).toBe(true);
        }
      }
    }
  });
});

describe('docs/config.md: defaults are the ones in the code', () => {
  it('agent numeric settings match CONFIG_LIMITS (default, minimum, maximum)', () => {
    for (const [key, limits] of Object.entries(CONFIG_LIMITS)) {
      const row = AGENT_ROWS.get(key);
      expect(row, key).toBeDefined();
      expect(cellValue(row!.default), key).toBe(String(limits.default));
      expect(row!.allowed.startsWith(`${limits.minimum} to ${limits.maximum}`), `${key}: ${row!.allowed}`).toBe(true);
    }
    // The per-instrument override defaults to the agent-wide setting.
    expect(AGENT_ROWS.get('instruments[].poll_interval_s')!.default).toContain('`poll_interval_s`');
  });

  it('collector settings match COLLECTOR_DEFAULTS', () => {
    const docKey: Record<keyof typeof COLLECTOR_DEFAULTS, string> = {
      host: 'listen.host',
      port: 'listen.port',
      data_dir: 'data_dir',
      influx_database: 'influx.database',
      off_w: 'instruments[].off_w',
      active_w: 'instruments[].active_w',
      hysteresis: 'instruments[].hysteresis',
      min_dwell_s: 'instruments[].min_dwell_s',
      max_gap_s: 'max_gap_s',
      merge_gap_s: 'instruments[].merge_gap_s',
      warmup_max_s: 'instruments[].warmup_max_s',
      post_max_s: 'instruments[].post_max_s',
      timezone: 'timezone',
      rated_hours: 'rated_hours',
      log_level: 'log_level',
      clock_skew_threshold_s: 'clock_skew_threshold_s',
      large_instrument_threshold_cny: 'large_instrument_threshold_cny',
      read_access: 'read_access',
      unknown_instruments: 'unknown_instruments',
      max_concurrent_ingest: 'limits.max_concurrent_ingest',
      retry_after_s: 'limits.retry_after_s',
      auth_failures_per_minute: 'limits.auth_failures_per_minute',
      max_future_s: 'limits.max_future_s',
      max_past_days: 'limits.max_past_days',
      trust_proxy: 'trust_proxy',
    };
    for (const [name, value] of Object.entries(COLLECTOR_DEFAULTS)) {
      const key = docKey[name as keyof typeof COLLECTOR_DEFAULTS];
      const row = COLLECTOR_ROWS.get(key);
      expect(row, key).toBeDefined();
      expect(cellValue(row!.default), key).toBe(String(value));
    }
    // Per-instrument overrides of top-level settings default to those settings.
    expect(COLLECTOR_ROWS.get('instruments[].max_gap_s')!.default).toContain('`max_gap_s`');
    expect(COLLECTOR_ROWS.get('instruments[].rated_hours')!.default).toContain('`rated_hours`');
  });
});

describe('docs/examples', () => {
  it('the agent example validates (token from JISHI_AGENT_TOKEN)', async () => {
    const config = await loadAgentConfig(path(AGENT_EXAMPLE), { env: { JISHI_AGENT_TOKEN: 'x' } });
    expect(config.collector.token).toBe('x');
    expect(config.instruments.length).toBeGreaterThan(0);
    // Device hosts come from the documentation address range.
    for (const i of config.instruments) {
      if (i.transport.kind === 'modbus-tcp') expect(i.transport.host, i.id).toMatch(/^192\.0\.2\.\d+$/);
    }
  });

  it('the collector example validates', async () => {
    const config = await loadCollectorConfig(path(COLLECTOR_EXAMPLE));
    expect(config.agents.length).toBeGreaterThan(0);
    expect(config.instruments.length).toBeGreaterThan(0);
  });

  it('the two examples fit together: the agent is listed, its instruments have thresholds', async () => {
    const agent = await loadAgentConfig(path(AGENT_EXAMPLE), { env: { JISHI_AGENT_TOKEN: 'x' } });
    const collector = await loadCollectorConfig(path(COLLECTOR_EXAMPLE));
    expect(collector.agents.map((a) => a.id)).toContain(agent.agentId);
    const configured = collector.instruments.map((i) => i.id);
    for (const i of agent.instruments) expect(configured, i.id).toContain(i.id);
  });

  it.each([
    { file: AGENT_EXAMPLE, keys: AGENT_KEYS },
    { file: COLLECTOR_EXAMPLE, keys: COLLECTOR_KEYS },
  ])('$file shows every key (set or commented out)', ({ file, keys }) => {
    const text = read(file);
    for (const k of keys) {
      const name = k.path.split('.').pop()!;
      expect(text, k.path).toMatch(new RegExp(`(^|[\\s#-])${name}:`, 'm'));
    }
  });
});

describe('docs/config.md: other sections', () => {
  it('has the Transport URLs section the README links to, with every transport kind', () => {
    const text = section('Transport URLs');
    for (const kind of TRANSPORT_KINDS) expect(text, kind).toContain(`| \`${kind}\` |`);
    expect(text).toContain('| `mqtts` |');
  });

  it('names exactly the transports that have a driver in this version', () => {
    const line = DOC.split('\n').find((l) => l.startsWith('Transports with a driver in this version:'));
    expect(line).toBeDefined();
    const listed = [...line!.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    expect(listed).toEqual([...SUPPORTED_TRANSPORTS]);
  });

  it('lists exactly the device profiles of the catalog, with their transports and defaults', () => {
    const catalog = DOC.slice(DOC.indexOf('### Device profiles'), DOC.indexOf('### Declaring a profile'));
    const rows = catalog.split('\n').filter((l) => /^\| `[a-z0-9-]+` \| .*\| (unit \d+, baud \d+|baud \d+|none) \|/.test(l));
    expect(rows.map((r) => /^\| `([^`]+)`/.exec(r)![1])).toEqual(profileIds());
    for (const row of rows) {
      const profile = getProfile(/^\| `([^`]+)`/.exec(row)![1]!)!;
      expect(row).toContain(`| ${profile.transports.map((t) => `\`${t}\``).join(', ')} |`);
      const defaults = profile.kind === 'modbus' ? `unit ${profile.defaults.unit}, baud ${profile.defaults.baud}` : profile.kind === 'serial' ? `baud ${profile.defaults.baud}` : 'none';
      expect(row).toContain(`| ${defaults} |`);
      for (const f of profileFields(profile)) expect(row, f.field).toContain(`\`${f.field}\``);
    }
  });

  it('shows the real output of an invalid agent config', () => {
    const yaml = blockAfter('An invalid one, `/tmp/bad.yaml`:', 'yaml');
    const shown = blockAfter('An invalid one, `/tmp/bad.yaml`:', 'text').split('\n');
    let error: unknown;
    try {
      parseAgentConfig(yaml, '/tmp/bad.yaml', { JISHI_AGENT_TOKEN: 'x' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(shown.filter((l) => !l.startsWith('$ ') && !l.startsWith('exit ')).join('\n').trim()).toBe((error as Error).message);
    expect(shown).toContain('exit 2');
  });

  it('shows the real output of an invalid collector config', () => {
    const yaml = blockAfter('`/tmp/bad-collector.yaml`:', 'yaml');
    const shown = blockAfter('`/tmp/bad-collector.yaml`:', 'text').split('\n');
    let error: unknown;
    try {
      parseCollectorConfig(yaml, '/tmp/bad-collector.yaml');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(shown.filter((l) => !l.startsWith('$ ') && !l.startsWith('exit ')).join('\n').trim()).toBe((error as Error).message);
  });
});
