/**
 * Collector configuration: YAML file -> validated, resolved CollectorConfig. Every problem in the file is
 * reported at once in one ConfigError naming the file, the path and the bad value.
 * The file format is documented in ./config-schema.ts.
 */
import { dirname, join, resolve } from 'node:path';
import { checkBaseUrl, isRecord, parseConfigYaml, readConfigFile, schemaIssues, sortByPath, type SchemaIssueOptions } from '../common/config-issues.ts';
import { ConfigError, type ConfigIssue } from '../common/errors.ts';
import { substituteEnv } from '../common/env.ts';
import {
  COLLECTOR_DEFAULTS,
  CollectorConfigSchema,
  LOG_LEVELS,
  STORE_FILE,
  type CollectorConfigFile,
} from './config-schema.ts';
import { DEFAULT_ENGINE_PARAMS, resolveParams } from './engine/params.ts';
import { isValidDay } from './engine/calendar.ts';
import { isValidTimeZone } from './engine/time-zone.ts';
import type { EngineParams } from './engine/types.ts';
import type { AnnualEntry, AssetFields } from './sharing/types.ts';

export { CollectorConfigSchema, COLLECTOR_DEFAULTS, STORE_FILE } from './config-schema.ts';
export type { CollectorConfigFile } from './config-schema.ts';

export type CollectorLogLevel = (typeof LOG_LEVELS)[number];

/** One `instruments` entry, resolved. */
export interface ConfiguredInstrument {
  id: string;
  name?: string;
  /** Thresholds and the other engine parameters, the defaults filled in. */
  params: EngineParams;
  rated_hours: number;
  commissioned?: string;
  retired?: string;
  /** The registry (asset) fields the config sets, rated_hours/commissioned/retired/name included when set. */
  asset: AssetFields;
  /** Figures entered per year (service income, trained users). */
  annual: AnnualEntry[];
}

/** Where readings are forwarded: InfluxDB 1.x (database, optional user) or 2.x/3.x (token, org, bucket). */
export type InfluxTarget =
  | { version: 1; url: string; database: string; username?: string; password?: string }
  | { version: 2 | 3; url: string; token: string; org?: string; bucket: string };

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
  influx?: InfluxTarget;
  agents: { id: string; tokenSha256: string }[];
  /** Who may manage the registry and bookings through the API. */
  admins: { id: string; tokenSha256: string }[];
  /** Original value (CNY) from which an instrument is in the assessment. */
  largeInstrumentThresholdCny: number;
  /** Read-only tokens. */
  viewers: { id: string; tokenSha256: string }[];
  /** Whether the read API needs a token. */
  readAccess: 'open' | 'token';
  unknownInstruments: 'accept' | 'reject';
  limits: { maxConcurrentIngest: number; retryAfterS: number; authFailuresPerMinute: number; maxFutureMs: number; maxPastMs: number };
  /** Absolute paths of the PEM files when the collector serves HTTPS. */
  tls?: { cert: string; key: string };
  trustProxy: boolean | string;
  /** Instruments with names, thresholds and engine parameters resolved against the defaults. */
  instruments: ConfiguredInstrument[];
  /** Engine parameters of instruments the config does not list. */
  defaultParams: EngineParams;
  /** IANA zone in which days, months and years are counted. */
  timeZone: string;
  /** Rated hours per year of instruments without their own. */
  ratedHours: number;
  /** Agent clocks further off than this (ms) get their sample times corrected. */
  clockSkewThresholdMs: number;
  maxGapMs: number;
  logLevel: CollectorLogLevel;
}

export interface CollectorConfigOptions {
  /** Directory a relative data_dir resolves against; default the config file's directory, else cwd. */
  baseDir?: string;
  /** Environment for `${VAR}` substitution in values; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Reads and validates a collector config file. @throws ConfigError listing every problem. */
export async function loadCollectorConfig(file: string, options: CollectorConfigOptions = {}): Promise<CollectorConfig> {
  const text = await readConfigFile(file);
  return parseCollectorConfig(text, file, options);
}

/** Parses and validates collector config YAML; `file` names it in messages. @throws ConfigError listing every problem. */
export function parseCollectorConfig(text: string, file: string, options: CollectorConfigOptions = {}): CollectorConfig {
  // An empty file is an empty config: every setting has a default.
  const value: unknown = parseConfigYaml(text, file) ?? {};
  return collectorConfigFromObject(value, file, { baseDir: dirname(resolve(file)), ...options });
}

/**
 * Validates a config given as an object (the YAML shape, snake_case keys), e.g. built by the CLI or the demo.
 * @throws ConfigError listing every problem.
 */
export function collectorConfigFromObject(obj: unknown, sourceName: string, options: CollectorConfigOptions = {}): CollectorConfig {
  const issues: ConfigIssue[] = [];
  // `${VAR}` in values, as in the agent config: secrets (influx.password, influx.token) can stay in the environment.
  const value = substituteEnv(obj, options.env ?? process.env, issues);
  issues.push(...schemaIssues(CollectorConfigSchema, value, SCHEMA_ISSUES));
  checkSemantics(value, issues);
  if (issues.length > 0) throw new ConfigError(sourceName, sortByPath(issues));
  return resolveConfig(value as CollectorConfigFile, sourceName, options.baseDir ?? process.cwd());
}

function resolveConfig(file: CollectorConfigFile, source: string, baseDir: string): CollectorConfig {
  const dataDir = resolve(baseDir, file.data_dir ?? COLLECTOR_DEFAULTS.data_dir);
  const maxGapS = file.max_gap_s ?? COLLECTOR_DEFAULTS.max_gap_s;
  const ratedHours = file.rated_hours ?? COLLECTOR_DEFAULTS.rated_hours;
  return {
    source,
    listen: { host: file.listen?.host ?? COLLECTOR_DEFAULTS.host, port: file.listen?.port ?? COLLECTOR_DEFAULTS.port },
    dataDir,
    storePath: join(dataDir, STORE_FILE),
    ...(file.influx
      ? {
          influx: influxTarget(file.influx),
        }
      : {}),
    agents: (file.agents ?? []).map((a) => ({ id: a.id, tokenSha256: a.token_sha256.toLowerCase() })),
    admins: (file.admins ?? []).map((a) => ({ id: a.id, tokenSha256: a.token_sha256.toLowerCase() })),
    largeInstrumentThresholdCny: file.large_instrument_threshold_cny ?? COLLECTOR_DEFAULTS.large_instrument_threshold_cny,
    viewers: (file.viewers ?? []).map((a) => ({ id: a.id, tokenSha256: a.token_sha256.toLowerCase() })),
    readAccess: file.read_access ?? COLLECTOR_DEFAULTS.read_access,
    unknownInstruments: file.unknown_instruments ?? COLLECTOR_DEFAULTS.unknown_instruments,
    limits: {
      maxConcurrentIngest: file.limits?.max_concurrent_ingest ?? COLLECTOR_DEFAULTS.max_concurrent_ingest,
      retryAfterS: file.limits?.retry_after_s ?? COLLECTOR_DEFAULTS.retry_after_s,
      authFailuresPerMinute: file.limits?.auth_failures_per_minute ?? COLLECTOR_DEFAULTS.auth_failures_per_minute,
      maxFutureMs: Math.round((file.limits?.max_future_s ?? COLLECTOR_DEFAULTS.max_future_s) * 1000),
      maxPastMs: Math.round((file.limits?.max_past_days ?? COLLECTOR_DEFAULTS.max_past_days) * 86_400_000),
    },
    ...(file.tls ? { tls: { cert: resolve(baseDir, file.tls.cert), key: resolve(baseDir, file.tls.key) } } : {}),
    trustProxy: file.trust_proxy ?? COLLECTOR_DEFAULTS.trust_proxy,
    instruments: (file.instruments ?? []).map((i): ConfiguredInstrument => {
      const {
        id, name, rated_hours, commissioned, retired, annual,
        name_en, model, category_code, manufacturer, country, original_value_cny, owner_unit, lab, location, contact,
        funding_source, shared, asset_status, agent,
        ...engine
      } = i;
      const assetEntries = {
        name, name_en, model, category_code, manufacturer, country, original_value_cny, commissioned, retired, owner_unit,
        lab, location, contact, funding_source, shared, asset_status, rated_hours, agent,
      };
      const asset = Object.fromEntries(Object.entries(assetEntries).filter(([, v]) => v !== undefined)) as AssetFields;
      // The default fault-word rule stays after the instrument's own status rules.
      const statusStates = engine.status_states && [...engine.status_states, ...DEFAULT_ENGINE_PARAMS.status_states];
      const params = resolveParams({ max_gap_s: maxGapS, ...engine, ...(statusStates ? { status_states: statusStates } : {}) });
      return {
        id,
        ...(name !== undefined ? { name } : {}),
        params,
        rated_hours: rated_hours ?? ratedHours,
        ...(commissioned !== undefined ? { commissioned } : {}),
        ...(retired !== undefined ? { retired } : {}),
        asset,
        annual: annual ?? [],
      };
    }),
    defaultParams: resolveParams({ max_gap_s: maxGapS }),
    timeZone: file.timezone ?? COLLECTOR_DEFAULTS.timezone,
    ratedHours,
    clockSkewThresholdMs: Math.round((file.clock_skew_threshold_s ?? COLLECTOR_DEFAULTS.clock_skew_threshold_s) * 1000),
    maxGapMs: Math.round(maxGapS * 1000),
    logLevel: file.log_level ?? COLLECTOR_DEFAULTS.log_level,
  };
}

function influxTarget(i: NonNullable<CollectorConfigFile['influx']>): InfluxTarget {
  const url = i.url.replace(/\/+$/, '');
  const database = i.database ?? COLLECTOR_DEFAULTS.influx_database;
  if (i.version === 2 || i.version === 3) {
    return { version: i.version, url, token: i.token ?? '', ...(i.org !== undefined ? { org: i.org } : {}), bucket: i.bucket ?? database };
  }
  return {
    version: 1,
    url,
    database,
    ...(i.username !== undefined ? { username: i.username } : {}),
    ...(i.password !== undefined ? { password: i.password } : {}),
  };
}

// ---- schema errors ---------------------------------------------------------------------------

/** Schema error messages: the InfluxDB password is never quoted back; a bad token hash says how to get one. */
const SCHEMA_ISSUES: SchemaIssueOptions = {
  secretPath: /\/(password|token)$/,
  patternHints: [
    { path: /\/token_sha256$/, message: 'must be 64 hex digits (the sha256 of the token; `jishi token <agent-id>` prints it)' },
  ],
};

// ---- semantic checks -------------------------------------------------------------------------

function checkUnique(root: Record<string, unknown>, list: 'agents' | 'instruments' | 'admins', key: string, what: string, issues: ConfigIssue[]): void {
  const entries = root[list];
  if (!Array.isArray(entries)) return;
  const seen = new Map<string, number>();
  entries.forEach((entry: unknown, i) => {
    if (!isRecord(entry) || typeof entry[key] !== 'string') return;
    // Ids are matched exactly everywhere; token hashes are hex, so their case does not matter.
    const v = key === 'token_sha256' ? (entry[key] as string).toLowerCase() : (entry[key] as string);
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

/** Engine parameters of one instrument entry: hysteresis bands, status rules, service dates. */
function checkInstrumentEngine(entry: Record<string, unknown>, i: number, issues: ConfigIssue[]): void {
  const instrument = typeof entry.id === 'string' && entry.id !== '' ? entry.id : `#${i + 1}`;
  const num = (key: string, fallback: number): number => (typeof entry[key] === 'number' ? (entry[key] as number) : fallback);
  const off = num('off_w', COLLECTOR_DEFAULTS.off_w);
  const active = num('active_w', COLLECTOR_DEFAULTS.active_w);
  const h = num('hysteresis', COLLECTOR_DEFAULTS.hysteresis);
  if (off <= active && h >= 0 && h <= 0.5 && off * (1 + h) > active * (1 - h)) {
    issues.push({
      path: `/instruments/${i}/hysteresis`,
      instrument,
      value: h,
      message: `the hysteresis bands of off_w (${off}) and active_w (${active}) overlap: lower the hysteresis or move the thresholds apart`,
    });
  }
  if (Array.isArray(entry.status_states)) {
    entry.status_states.forEach((rule: unknown, k) => {
      if (!isRecord(rule) || typeof rule.match !== 'string') return;
      try {
        new RegExp(rule.match, 'i');
      } catch (err) {
        issues.push({ path: `/instruments/${i}/status_states/${k}/match`, instrument, value: rule.match, message: `is not a valid regular expression: ${(err as Error).message}` });
      }
    });
  }
  for (const key of ['commissioned', 'retired'] as const) {
    const day = entry[key];
    if (typeof day === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(day) && !isValidDay(day)) {
      issues.push({ path: `/instruments/${i}/${key}`, instrument, value: day, message: 'is not a calendar date' });
    }
  }
  if (typeof entry.commissioned === 'string' && typeof entry.retired === 'string' && entry.retired < entry.commissioned) {
    issues.push({ path: `/instruments/${i}/retired`, instrument, value: entry.retired, message: `is before commissioned (${entry.commissioned})` });
  }
}

/** Registry fields: one annual entry per year, and a device binding naming a configured agent. */
function checkInstrumentRegistry(root: Record<string, unknown>, entry: Record<string, unknown>, i: number, issues: ConfigIssue[]): void {
  const instrument = typeof entry.id === 'string' && entry.id !== '' ? entry.id : `#${i + 1}`;
  if (Array.isArray(entry.annual)) {
    const seen = new Set<unknown>();
    entry.annual.forEach((a: unknown, k) => {
      if (!isRecord(a) || typeof a.year !== 'number') return;
      if (seen.has(a.year)) issues.push({ path: `/instruments/${i}/annual/${k}/year`, instrument, value: a.year, message: 'is listed twice' });
      seen.add(a.year);
    });
  }
  if (typeof entry.agent === 'string' && Array.isArray(root.agents)) {
    const agents = root.agents.filter(isRecord).map((a) => a.id);
    if (!agents.includes(entry.agent)) {
      issues.push({ path: `/instruments/${i}/agent`, instrument, value: entry.agent, message: `is not an agent of this config (agents: ${agents.join(', ') || 'none'})` });
    }
  }
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
      if (off >= active) {
        const which = typeof entry.active_w === 'number' ? 'active_w' : 'off_w';
        issues.push({
          path: `/instruments/${i}/${which}`,
          instrument: typeof entry.id === 'string' && entry.id !== '' ? entry.id : `#${i + 1}`,
          value: entry[which],
          message: `off_w (${off}${typeof entry.off_w === 'number' ? '' : ', the default'}) must be below active_w (${active}${typeof entry.active_w === 'number' ? '' : ', the default'})`,
        });
      }
      checkInstrumentEngine(entry, i, issues);
      checkInstrumentRegistry(root, entry, i, issues);
    });
  }
  checkUnique(root, 'admins', 'id', 'admin id', issues);
  checkUnique(root, 'admins', 'token_sha256', 'admin token hash (each admin needs its own token)', issues);
  if (Array.isArray(root.admins) && Array.isArray(root.agents)) {
    const agentHashes = new Set(root.agents.filter(isRecord).map((a) => String(a.token_sha256).toLowerCase()));
    root.admins.forEach((a: unknown, i) => {
      if (isRecord(a) && typeof a.token_sha256 === 'string' && agentHashes.has(a.token_sha256.toLowerCase())) {
        issues.push({ path: `/admins/${i}/token_sha256`, value: a.token_sha256, message: 'is also an agent token: give admins their own tokens' });
      }
    });
  }
  if (typeof root.timezone === 'string' && root.timezone !== '' && !isValidTimeZone(root.timezone)) {
    issues.push({ path: '/timezone', value: root.timezone, message: 'is not an IANA time zone, e.g. Asia/Shanghai' });
  }
  const influx = root.influx;
  if (isRecord(influx) && typeof influx.url === 'string' && influx.url !== '') {
    checkBaseUrl(influx.url, '/influx/url', 'http://127.0.0.1:8086', issues);
  }
  if (isRecord(influx)) {
    const v2 = influx.version === 2 || influx.version === 3;
    const only = (keys: string[], what: string) => {
      for (const k of keys) if (influx[k] !== undefined) issues.push({ path: `/influx/${k}`, message: `applies to ${what} only (influx.version ${v2 ? influx.version : '1, the default'})` });
    };
    if (v2) {
      only(['username', 'password', 'database'], 'InfluxDB 1.x');
      if (influx.token === undefined) issues.push({ path: '/influx', message: `InfluxDB ${influx.version} needs a token (influx.token)` });
      if (influx.version === 2 && influx.org === undefined) issues.push({ path: '/influx', message: 'InfluxDB 2 needs an organization (influx.org)' });
      if (influx.version === 2 && influx.bucket === undefined) issues.push({ path: '/influx', message: 'InfluxDB 2 needs a bucket (influx.bucket)' });
    } else {
      only(['token', 'org', 'bucket'], 'InfluxDB 2.x and 3.x');
    }
  }
}
