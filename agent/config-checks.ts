/**
 * The checks the schema cannot express: collector URL and token (token_file is read here), profiles from
 * the catalog, transport URLs, transports the profile supports and this version has a driver for, unique ids.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkBaseUrl, isRecord, schemaIssues } from '../common/config-issues.ts';
import type { ConfigIssue } from '../common/errors.ts';
import { parseTransportUrl, TRANSPORT_KINDS, type Transport, type TransportKind } from '../common/transport-url.ts';
import { getProfile, profileIds } from '../devices/catalog.ts';
import { profileDefaults, type DeviceProfile, type ModbusRequestOptions } from '../devices/profile.ts';
import { checkProfile, ModbusRequestSchema, PROFILE_SCHEMAS, toDeviceProfile, type ModbusRequestEntry, type ProfileEntry } from '../devices/profile-schema.ts';
import { AGENT_DEFAULTS, CONFIG_LIMITS, HEALTH_OFF } from './config-schema.ts';
import { SUPPORTED_TRANSPORTS, hasDriver } from './drivers/index.ts';

/** What the semantic pass found out, used to build the resolved config. */
export interface Resolved {
  token: string;
  collectorUrl: string;
  /** state_dir, absolute. */
  stateDir: string;
  instruments: Array<ResolvedInstrument>;
  /** health.listen, parsed; null when off. */
  health: HealthListen | null;
}

export interface ResolvedInstrument {
  profile: DeviceProfile;
  transport: Transport;
  /** Modbus request options: the profile's, overridden by the instrument's `modbus:` section. */
  modbus?: ModbusRequestOptions;
}

/** Where the local health endpoint listens. */
export interface HealthListen {
  host: string;
  port: number;
}

/**
 * Parses a `health.listen` value: `host:port` (`[v6]:port` for an IPv6 address) or `off` (null).
 * Returns a message instead when the value is not one of those.
 */
export function parseHealthListen(text: string): HealthListen | null | string {
  const value = text.trim();
  if (value.toLowerCase() === HEALTH_OFF) return null;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]/]+)):(\d{1,5})$/.exec(value);
  if (!m) return `expected host:port (e.g. ${AGENT_DEFAULTS['health.listen']}, [::1]:9475) or ${HEALTH_OFF}`;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return 'the port must be 1 to 65535';
  return { host: (m[1] ?? m[2])!, port };
}

function checkHealth(health: unknown, issues: ConfigIssue[]): HealthListen | null | undefined {
  const listen = isRecord(health) ? health.listen : undefined;
  if (listen !== undefined && (typeof listen !== 'string' || listen === '')) return undefined; // the schema reports it
  const parsed = parseHealthListen(listen ?? AGENT_DEFAULTS['health.listen']);
  if (typeof parsed === 'string') {
    issues.push({ path: '/health/listen', value: listen, message: parsed });
    return undefined;
  }
  return parsed;
}

/** Hides a URL's password before it is quoted in a message. */
function redact(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@]*):[^/@]*@/i, '$1:***@');
}

function transportScheme(text: string): TransportKind | undefined {
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(text);
  const scheme = m?.[1]?.toLowerCase() === 'mqtts' ? 'mqtt' : m?.[1]?.toLowerCase();
  return TRANSPORT_KINDS.find((k) => k === scheme);
}

function checkCollector(collector: unknown, baseDir: string, issues: ConfigIssue[]): { url?: string; token?: string } {
  if (!isRecord(collector)) return {};
  const out: { url?: string; token?: string } = {};
  if (typeof collector.url === 'string' && collector.url !== '') {
    const url = checkBaseUrl(collector.url, '/collector/url', 'http://127.0.0.1:8080', issues);
    if (url !== undefined) out.url = url;
  }
  const hasToken = collector.token !== undefined;
  const hasFile = collector.token_file !== undefined;
  if (hasToken && hasFile) {
    issues.push({ path: '/collector', message: 'set either token or token_file, not both' });
  } else if (!hasToken && !hasFile) {
    issues.push({ path: '/collector', message: 'missing token or token_file (the bearer token the collector issued for this agent)' });
  } else if (typeof collector.token === 'string') {
    if (collector.token.trim() === '') issues.push({ path: '/collector/token', message: 'is empty' });
    else out.token = collector.token.trim();
  } else if (typeof collector.token_file === 'string' && collector.token_file !== '') {
    const path = resolve(baseDir, collector.token_file);
    try {
      const token = readFileSync(path, 'utf8').trim();
      if (token === '') issues.push({ path: '/collector/token_file', value: path, message: 'the token file is empty' });
      else out.token = token;
    } catch (err) {
      issues.push({ path: '/collector/token_file', value: path, message: `cannot read the token file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
    }
  }
  return out;
}

function checkInstrument(
  entry: Record<string, unknown>,
  index: number,
  custom: ReadonlyMap<string, DeviceProfile | null>,
  issues: ConfigIssue[],
): ResolvedInstrument | undefined {
  const base = `/instruments/${index}`;
  const instrument = typeof entry.id === 'string' && entry.id !== '' ? entry.id : `#${index + 1}`;
  const add = (path: string, message: string, value?: unknown): void => {
    issues.push({ path: `${base}${path}`, instrument, ...(value === undefined ? {} : { value }), message });
  };
  let profile: DeviceProfile | undefined;
  let customInvalid = false;
  if (typeof entry.profile === 'string' && entry.profile !== '') {
    const own = custom.get(entry.profile);
    customInvalid = own === null; // declared under profiles: with errors, reported there
    profile = own ?? getProfile(entry.profile);
    if (!profile && !customInvalid) {
      const declared = [...custom].filter(([id, p]) => p !== null && !getProfile(id)).map(([id]) => id);
      add('/profile', `unknown device profile (known: ${[...profileIds(), ...declared].join(', ')}; see jishi profiles)`, entry.profile);
    }
  }
  let modbus: ModbusRequestOptions | undefined;
  if (entry.modbus !== undefined && profile && profile.kind !== 'modbus') {
    add('/modbus', `the modbus section applies to Modbus profiles only; ${profile.id} is a ${profile.kind} profile`);
  } else if (profile?.kind === 'modbus') {
    const own = isRecord(entry.modbus) && schemaIssues(ModbusRequestSchema, entry.modbus, { secretPath: /^$/ }).length === 0
      ? requestOptions(entry.modbus as ModbusRequestEntry)
      : {};
    const merged = { ...profile.request, ...own };
    if (Object.keys(merged).length > 0) modbus = merged;
  }
  if (typeof entry.transport !== 'string' || entry.transport === '') return undefined;
  const text = entry.transport;
  const kind = transportScheme(text);
  if (kind && profile && !profile.transports.includes(kind)) {
    add('/transport', `profile ${profile.id} does not support ${kind} transport (supported: ${profile.transports.join(', ')})`, redact(text));
  }
  if (kind && !hasDriver(kind)) {
    add('/transport', `${kind} transport is not available in this version; supported: ${SUPPORTED_TRANSPORTS.join(', ')}`, redact(text));
  }
  const parsed = parseTransportUrl(text, profile ? profileDefaults(profile) : {});
  if (!parsed.ok) {
    for (const message of parsed.errors) add('/transport', message, redact(text));
    return undefined;
  }
  if (!profile) return undefined;
  return { profile, transport: parsed.transport, ...(modbus ? { modbus } : {}) };
}

/** The `modbus:` section (snake_case) as ModbusRequestOptions. */
export function requestOptions(r: ModbusRequestEntry): ModbusRequestOptions {
  return {
    ...(r.max_registers === undefined ? {} : { maxRegisters: r.max_registers }),
    ...(r.max_gap === undefined ? {} : { maxGap: r.max_gap }),
    ...(r.pause_ms === undefined ? {} : { pauseMs: r.pause_ms }),
    ...(r.one_request_per_field === undefined ? {} : { oneRequestPerField: r.one_request_per_field }),
  };
}

/**
 * The `profiles:` section: each entry checked against the schema of its kind and the profile invariants.
 * Returns id -> profile, or null for an entry with errors (instruments using it are then not reported again).
 */
function checkProfiles(value: unknown, issues: ConfigIssue[]): Map<string, DeviceProfile | null> {
  const out = new Map<string, DeviceProfile | null>();
  if (!Array.isArray(value)) return out;
  value.forEach((entry: unknown, i) => {
    const base = `/profiles/${i}`;
    const id = isRecord(entry) && typeof entry.id === 'string' ? entry.id : undefined;
    const add = (path: string, message: string, v?: unknown): void => {
      issues.push({ path: `${base}${path}`, ...(v === undefined ? {} : { value: v }), message: id ? `profile ${id}: ${message}` : message });
    };
    if (!isRecord(entry)) return add('', 'must be a mapping with id, kind and the fields of that kind');
    const kind = entry.kind;
    const schema = typeof kind === 'string' ? PROFILE_SCHEMAS[kind as keyof typeof PROFILE_SCHEMAS] : undefined;
    if (!schema) return add('/kind', `must be one of ${Object.keys(PROFILE_SCHEMAS).join(', ')}`, kind);
    if (id !== undefined && getProfile(id)) add('/id', 'is the id of a catalog profile; choose another id', id);
    if (id !== undefined && out.has(id)) add('/id', 'is declared twice', id);
    const errors = schemaIssues(schema, entry, { secretPath: /^$/ });
    for (const e of errors) issues.push({ ...e, path: `${base}${e.path}`, message: id ? `profile ${id}: ${e.message}` : e.message });
    let profile: DeviceProfile | null = null;
    if (errors.length === 0) {
      profile = toDeviceProfile(entry as ProfileEntry);
      const problems = checkProfile(profile);
      for (const p of problems) add('', p);
      if (problems.length > 0) profile = null;
    }
    if (id !== undefined && !out.has(id)) out.set(id, profile);
  });
  return out;
}

/** Resolves state_dir against baseDir; an existing path must be a directory (it is created at start when missing). */
function checkStateDir(value: unknown, baseDir: string, issues: ConfigIssue[]): string | undefined {
  if (value !== undefined && (typeof value !== 'string' || value === '')) return undefined; // the schema reports it
  const dir = resolve(baseDir, value ?? AGENT_DEFAULTS.state_dir);
  try {
    if (!statSync(dir).isDirectory()) issues.push({ path: '/state_dir', value: dir, message: 'exists and is not a directory' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') issues.push({ path: '/state_dir', value: dir, message: `cannot use the directory: ${code ?? (err as Error).message}` });
  }
  return dir;
}

/** Checks what the schema cannot; returns the resolved parts when everything checked is valid. */
export function checkSemantics(root: unknown, baseDir: string, issues: ConfigIssue[]): Resolved | undefined {
  if (!isRecord(root)) return undefined;
  const collector = checkCollector(root.collector, baseDir, issues);
  const stateDir = checkStateDir(root.state_dir, baseDir, issues);
  const health = checkHealth(root.health, issues);
  const custom = checkProfiles(root.profiles, issues);
  const instruments: Array<ResolvedInstrument | undefined> = [];
  const seen = new Map<string, number>();
  const entries = Array.isArray(root.instruments) ? root.instruments : [];
  entries.forEach((entry: unknown, i) => {
    if (!isRecord(entry)) return;
    if (typeof entry.id === 'string') {
      const first = seen.get(entry.id);
      if (first !== undefined) {
        issues.push({
          path: `/instruments/${i}/id`,
          instrument: entry.id,
          value: entry.id,
          message: `duplicate instrument id (first used by /instruments/${first})`,
        });
      } else {
        seen.set(entry.id, i);
      }
    }
    instruments[i] = checkInstrument(entry, i, custom, issues);
  });
  const maxBatch = typeof root.max_batch_samples === 'number' ? root.max_batch_samples : CONFIG_LIMITS.max_batch_samples.default;
  const maxQueue = root.max_queue_samples;
  if (typeof maxQueue === 'number' && maxQueue < maxBatch) {
    issues.push({ path: '/max_queue_samples', value: maxQueue, message: `must be at least max_batch_samples (${maxBatch})` });
  }
  const resolved = entries.map((_, i) => instruments[i]);
  if (collector.url === undefined || collector.token === undefined || stateDir === undefined || health === undefined) return undefined;
  if (!resolved.every((r): r is NonNullable<typeof r> => r !== undefined)) return undefined;
  return { token: collector.token, collectorUrl: collector.url, stateDir, instruments: resolved, health };
}
