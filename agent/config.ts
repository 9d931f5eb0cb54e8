/**
 * Agent configuration: YAML file -> validated, resolved AgentConfig. Every problem in the file is
 * reported at once in one ConfigError, naming the file, the instrument and the bad value.
 * The file format is documented in ./config-schema.ts.
 */
import { dirname, resolve } from 'node:path';
import { parseConfigYaml, readConfigFile, schemaIssues, sortByPath, type SchemaIssueOptions } from '../common/config-issues.ts';
import { ConfigError, type ConfigIssue } from '../common/errors.ts';
import { formatTransport, type Transport } from '../common/transport-url.ts';
import type { DeviceProfile, ModbusRequestOptions } from '../devices/profile.ts';
import { checkSemantics, parseHealthListen, type HealthListen, type Resolved } from './config-checks.ts';
import { AGENT_DEFAULTS, AgentConfigSchema, CONFIG_LIMITS, HealthSectionSchema, type AgentConfigFile, type OutboxSyncMode } from './config-schema.ts';
import { substituteEnv } from '../common/env.ts';

export { AGENT_DEFAULTS, AgentConfigSchema, InstrumentEntrySchema, CONFIG_LIMITS, HEALTH_OFF, OUTBOX_SYNC_MODES } from './config-schema.ts';
export { parseHealthListen, type HealthListen } from './config-checks.ts';
export type { AgentConfigFile, InstrumentEntry, OutboxSyncMode } from './config-schema.ts';

/** One instrument, resolved: profile object, parsed transport, interval in ms. */
export interface InstrumentConfig {
  id: string;
  name?: string;
  profile: DeviceProfile;
  transport: Transport;
  /** The transport URL without credentials, for logs and status. */
  target: string;
  pollIntervalMs: number;
  /** Modbus request splitting and pacing: the profile's `request`, overridden by the instrument's `modbus:`. */
  modbus?: ModbusRequestOptions;
}

/** The resolved agent configuration. */
export interface AgentConfig {
  /** Where it came from (file path or the name given to agentConfigFromObject), for messages. */
  source: string;
  agentId: string;
  collector: {
    /** Base URL without a trailing slash, e.g. `http://127.0.0.1:8080`. */
    url: string;
    token: string;
  };
  /** The agent-wide default poll interval. */
  pollIntervalMs: number;
  batchIntervalMs: number;
  maxBatchSamples: number;
  /** Bound of an in-memory outbox (MemoryOutbox), in samples. */
  maxQueueSamples: number;
  /** Absolute path of the directory holding the durable outbox (state_dir). */
  stateDir: string;
  /** The durable outbox (agent/sqlite-outbox.ts). */
  outbox: {
    sync: OutboxSyncMode;
    /** With sync 'interval': the longest a committed sample waits for its fsync. */
    syncIntervalMs: number;
    /** Disk quota, in bytes of stored samples. */
    maxBytes: number;
    /** Sample quota: only when max_queue_samples is set in the file (older configs keep their bound). */
    maxSamples?: number;
  };
  instruments: InstrumentConfig[];
  /** Where the local health endpoint listens (health.listen); null when it is off. */
  health: HealthListen | null;
}

export interface ConfigOptions {
  /** Environment for `${VAR}` substitution; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Directory relative `token_file` and `state_dir` paths resolve against; default the config file's directory, else cwd. */
  baseDir?: string;
}

/** Schema error messages: the token is never quoted back; ranges of `_s` keys are in seconds. */
const SCHEMA_ISSUES: SchemaIssueOptions = { secretPath: /\/token$/, secondsSuffix: true };

/** Reads and validates an agent config file. @throws ConfigError listing every problem. */
export async function loadAgentConfig(file: string, options: ConfigOptions = {}): Promise<AgentConfig> {
  const text = await readConfigFile(file);
  return parseAgentConfig(text, file, options.env, { baseDir: dirname(resolve(file)), ...options });
}

/** Parses and validates agent config YAML; `file` names it in messages. @throws ConfigError listing every problem. */
export function parseAgentConfig(
  text: string,
  file: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
  options: Omit<ConfigOptions, 'env'> = {},
): AgentConfig {
  return agentConfigFromObject(parseConfigYaml(text, file), file, { baseDir: dirname(resolve(file)), ...options, env });
}

/**
 * Validates a config given as an object (the parsed YAML shape, snake_case keys), e.g. built in code by the demo.
 * @throws ConfigError listing every problem.
 */
export function agentConfigFromObject(obj: unknown, sourceName: string, options: ConfigOptions = {}): AgentConfig {
  if (obj === null || obj === undefined) throw new ConfigError(sourceName, [{ path: '', message: 'the configuration is empty' }]);
  const issues: ConfigIssue[] = [];
  const value = substituteEnv(obj, options.env ?? process.env, issues);
  issues.push(...schemaIssues(AgentConfigSchema, value, SCHEMA_ISSUES));
  const semantic = checkSemantics(value, options.baseDir ?? process.cwd(), issues);
  if (issues.length > 0 || !semantic) throw new ConfigError(sourceName, sortByPath(issues));
  return resolveConfig(value as AgentConfigFile, semantic, sourceName);
}

function resolveConfig(file: AgentConfigFile, r: Resolved, source: string): AgentConfig {
  const pollS = file.poll_interval_s ?? CONFIG_LIMITS.poll_interval_s.default;
  const maxBatchSamples = file.max_batch_samples ?? CONFIG_LIMITS.max_batch_samples.default;
  return {
    source,
    agentId: file.agent.id,
    collector: { url: r.collectorUrl, token: r.token },
    pollIntervalMs: toMs(pollS),
    batchIntervalMs: toMs(file.batch_interval_s ?? CONFIG_LIMITS.batch_interval_s.default),
    maxBatchSamples,
    maxQueueSamples: file.max_queue_samples ?? CONFIG_LIMITS.max_queue_samples.default,
    stateDir: r.stateDir,
    outbox: {
      sync: file.outbox?.sync ?? AGENT_DEFAULTS['outbox.sync'],
      syncIntervalMs: toMs(file.outbox?.sync_interval_s ?? CONFIG_LIMITS['outbox.sync_interval_s'].default),
      maxBytes: file.outbox?.max_bytes ?? CONFIG_LIMITS['outbox.max_bytes'].default,
      ...(file.max_queue_samples === undefined ? {} : { maxSamples: file.max_queue_samples }),
    },
    health: r.health,
    instruments: file.instruments.map((entry, i) => {
      const { profile, transport, modbus } = r.instruments[i]!;
      return {
        id: entry.id,
        ...(entry.name === undefined ? {} : { name: entry.name }),
        profile,
        transport,
        target: formatTransport(transport),
        pollIntervalMs: toMs(entry.poll_interval_s ?? pollS),
        ...(modbus ? { modbus } : {}),
      };
    }),
  };
}

/**
 * Only the health endpoint's address from an agent config file, for `jishi agent status`: the rest of the file
 * (token, devices) is not checked, so it works without the agent's environment. @throws ConfigError.
 */
export async function loadHealthListen(file: string, options: Pick<ConfigOptions, 'env'> = {}): Promise<HealthListen | null> {
  const root = parseConfigYaml(await readConfigFile(file), file);
  const issues: ConfigIssue[] = [];
  const health = substituteEnv(isObject(root) ? root.health : undefined, options.env ?? process.env, issues, '/health');
  if (health !== undefined) {
    issues.push(...schemaIssues(HealthSectionSchema, health, SCHEMA_ISSUES).map((i) => ({ ...i, path: `/health${i.path}` })));
  }
  const listen = isObject(health) ? health.listen : undefined;
  if (issues.length > 0) throw new ConfigError(file, sortByPath(issues));
  const parsed = parseHealthListen(typeof listen === 'string' ? listen : AGENT_DEFAULTS['health.listen']);
  if (typeof parsed === 'string') throw new ConfigError(file, [{ path: '/health/listen', value: listen, message: parsed }]);
  return parsed;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toMs(seconds: number): number {
  return Math.round(seconds * 1000);
}

