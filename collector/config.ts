/**
 * Collector configuration: YAML file -> validated, resolved CollectorConfig. Every problem in the file is
 * reported at once in one ConfigError naming the file, the path and the bad value.
 * The file format is documented in ./config-schema.ts.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { parseDocument } from 'yaml';
import { ConfigError, type ConfigIssue } from '../common/errors.ts';
import { IdPattern } from '../common/wire.ts';
import {
  COLLECTOR_DEFAULTS,
  CollectorConfigSchema,
  LOG_LEVELS,
  STORE_FILE,
  type CollectorConfigFile,
} from './config-schema.ts';
import type { InstrumentSettings } from './live-state.ts';

export { CollectorConfigSchema, COLLECTOR_DEFAULTS, STORE_FILE } from './config-schema.ts';
export type { CollectorConfigFile } from './config-schema.ts';

export type CollectorLogLevel = (typeof LOG_LEVELS)[number];

/** The resolved collector configuration. */
export interface CollectorConfig {
  /** Where it came from (file path or the name given to collectorConfigFromObject), for messages. */
  source: string;
  listen: { host: string; port: number };
  /** Absolute data directory. */
  dataDir: string;
  /** Absolute path of the SQLite store, `<dataDir>/jishi.sqlite`. */
  storePath: string;
  /** Absent when readings are not forwarded. */
  influx?: { url: string; database: string; username?: string; password?: string };
  agents: { id: string; tokenSha256: string }[];
  /** Instruments with names and thresholds (each has off_w and active_w resolved). */
  instruments: (InstrumentSettings & { off_w: number; active_w: number })[];
  maxGapMs: number;
  logLevel: CollectorLogLevel;
}

export interface CollectorConfigOptions {
  /** Directory a relative data_dir resolves against; default the config file's directory, else cwd. */
  baseDir?: string;
}

/** Reads and validates a collector config file. @throws ConfigError listing every problem. */
export async function loadCollectorConfig(file: string, options: CollectorConfigOptions = {}): Promise<CollectorConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: `cannot read the file: ${(err as Error).message}` }]);
  }
  return parseCollectorConfig(text, file, options);
}

/** Parses and validates collector config YAML; `file` names it in messages. @throws ConfigError listing every problem. */
export function parseCollectorConfig(text: string, file: string, options: CollectorConfigOptions = {}): CollectorConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({ path: '', message: `YAML ${e.code}: ${e.message.split('\n')[0]}` })),
    );
  }
  // An empty file is an empty config: every setting has a default.
  const value: unknown = doc.toJS() ?? {};
  return collectorConfigFromObject(value, file, { baseDir: dirname(resolve(file)), ...options });
}

/**
 * Validates a config given as an object (the YAML shape, snake_case keys), e.g. built by the CLI or the demo.
 * @throws ConfigError listing every problem.
 */
export function collectorConfigFromObject(obj: unknown, sourceName: string, options: CollectorConfigOptions = {}): CollectorConfig {
  const issues: ConfigIssue[] = [];
  for (const error of Value.Errors(CollectorConfigSchema, obj)) issues.push(schemaIssue(error, obj));
  checkSemantics(obj, issues);
  if (issues.length > 0) throw new ConfigError(sourceName, dedupe(issues));
  return resolveConfig(obj as CollectorConfigFile, sourceName, options.baseDir ?? process.cwd());
}

function resolveConfig(file: CollectorConfigFile, source: string, baseDir: string): CollectorConfig {
  const dataDir = resolve(baseDir, file.data_dir ?? COLLECTOR_DEFAULTS.data_dir);
  return {
    source,
    listen: { host: file.listen?.host ?? COLLECTOR_DEFAULTS.host, port: file.listen?.port ?? COLLECTOR_DEFAULTS.port },
    dataDir,
    storePath: join(dataDir, STORE_FILE),
    ...(file.influx
      ? {
          influx: {
            url: file.influx.url.replace(/\/+$/, ''),
            database: file.influx.database ?? COLLECTOR_DEFAULTS.influx_database,
            ...(file.influx.username !== undefined ? { username: file.influx.username } : {}),
            ...(file.influx.password !== undefined ? { password: file.influx.password } : {}),
          },
        }
      : {}),
    agents: (file.agents ?? []).map((a) => ({ id: a.id, tokenSha256: a.token_sha256.toLowerCase() })),
    instruments: (file.instruments ?? []).map((i) => ({
      id: i.id,
      ...(i.name !== undefined ? { name: i.name } : {}),
      off_w: i.off_w ?? COLLECTOR_DEFAULTS.off_w,
      active_w: i.active_w ?? COLLECTOR_DEFAULTS.active_w,
    })),
    maxGapMs: Math.round((file.max_gap_s ?? COLLECTOR_DEFAULTS.max_gap_s) * 1000),
    logLevel: file.log_level ?? COLLECTOR_DEFAULTS.log_level,
  };
}

// ---- schema errors ---------------------------------------------------------------------------

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The instrument id a path under /instruments/N belongs to. */
function instrumentAt(root: unknown, path: string): string | undefined {
  const m = /^\/instruments\/(\d+)(\/|$)/.exec(path);
  if (!m || !isRecord(root) || !Array.isArray(root.instruments)) return undefined;
  const entry: unknown = root.instruments[Number(m[1])];
  if (isRecord(entry) && typeof entry.id === 'string' && entry.id !== '') return entry.id;
  return `#${Number(m[1]) + 1}`;
}

function schemaMessage(error: ValueError): string {
  const s = error.schema as { minimum?: number; maximum?: number; pattern?: string };
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return `unknown key "${error.path.split('/').pop()}"`;
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required';
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.IntegerMaximum:
      return `must be between ${s.minimum} and ${s.maximum}`;
    case ValueErrorType.StringPattern:
      if (s.pattern === IdPattern) return 'must be 1-64 letters, digits or . _ : - and start with a letter or digit';
      if (error.path.endsWith('/token_sha256')) return 'must be 64 hex digits (the sha256 of the token; `jishi token <agent-id>` prints it)';
      return `must match ${s.pattern}`;
    case ValueErrorType.Union:
      if (error.path === '/log_level') return `must be one of ${LOG_LEVELS.join(', ')}`;
      return error.message.replace(/^Expected/, 'expected');
    default:
      return error.message.replace(/^Expected/, 'expected');
  }
}

function schemaIssue(error: ValueError, root: unknown): ConfigIssue {
  const instrument = instrumentAt(root, error.path);
  const secret = /\/password$/.test(error.path);
  const hasValue = error.value !== undefined && error.type !== ValueErrorType.ObjectRequiredProperty && !secret;
  return {
    path: error.path,
    ...(instrument ? { instrument } : {}),
    ...(hasValue ? { value: error.value } : {}),
    message: schemaMessage(error),
  };
}

/** TypeBox reports a union failure once per member in some versions; keep one issue per path and message. */
function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path}\u0000${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// ---- semantic checks -------------------------------------------------------------------------

function checkUnique(root: Record<string, unknown>, list: 'agents' | 'instruments', key: string, what: string, issues: ConfigIssue[]): void {
  const entries = root[list];
  if (!Array.isArray(entries)) return;
  const seen = new Map<string, number>();
  entries.forEach((entry: unknown, i) => {
    if (!isRecord(entry) || typeof entry[key] !== 'string') return;
    const v = (entry[key] as string).toLowerCase();
    const first = seen.get(v);
    if (first === undefined) {
      seen.set(v, i);
      return;
    }
    issues.push({
      path: `/${list}/${i}/${key}`,
      ...(list === 'instruments' ? { instrument: entry[key] as string } : {}),
      value: entry[key],
      message: `duplicate ${what} (first used by /${list}/${first})`,
    });
  });
}

function checkSemantics(root: unknown, issues: ConfigIssue[]): void {
  if (!isRecord(root)) return;
  checkUnique(root, 'agents', 'id', 'agent id', issues);
  checkUnique(root, 'agents', 'token_sha256', 'token hash (each agent needs its own token)', issues);
  checkUnique(root, 'instruments', 'id', 'instrument id', issues);
  if (Array.isArray(root.instruments)) {
    root.instruments.forEach((entry: unknown, i) => {
      if (!isRecord(entry)) return;
      const off = typeof entry.off_w === 'number' ? entry.off_w : COLLECTOR_DEFAULTS.off_w;
      const active = typeof entry.active_w === 'number' ? entry.active_w : COLLECTOR_DEFAULTS.active_w;
      if (off > active) {
        const which = typeof entry.active_w === 'number' ? 'active_w' : 'off_w';
        issues.push({
          path: `/instruments/${i}/${which}`,
          instrument: typeof entry.id === 'string' && entry.id !== '' ? entry.id : `#${i + 1}`,
          value: entry[which],
          message: `off_w (${off}${typeof entry.off_w === 'number' ? '' : ', the default'}) must not exceed active_w (${active}${typeof entry.active_w === 'number' ? '' : ', the default'})`,
        });
      }
    });
  }
  const influx = root.influx;
  if (isRecord(influx) && typeof influx.url === 'string' && influx.url !== '') {
    let url: URL | undefined;
    try {
      url = new URL(influx.url);
    } catch {
      issues.push({ path: '/influx/url', value: influx.url, message: 'is not a URL; expected e.g. http://127.0.0.1:8086' });
    }
    if (url && url.protocol !== 'http:' && url.protocol !== 'https:') {
      issues.push({ path: '/influx/url', value: influx.url, message: 'must be an http: or https: URL' });
    } else if (url && (url.username !== '' || url.search !== '' || url.hash !== '')) {
      issues.push({ path: '/influx/url', message: 'must not carry credentials, a query or a fragment (use influx.username and influx.password)' });
    }
  }
}
