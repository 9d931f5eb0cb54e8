/**
 * The agent config file schema (YAML, validated with TypeBox). This is the file as written;
 * agent/config.ts turns it into the resolved, typed AgentConfig.
 *
 * ```yaml
 * agent:
 *   id: lab-pc-1
 * collector:
 *   url: http://127.0.0.1:8080
 *   token: ${JISHI_AGENT_TOKEN}      # or token_file: /etc/jishi/agent.token
 * poll_interval_s: 5                 # default for every instrument
 * batch_interval_s: 2
 * max_batch_samples: 500
 * state_dir: ./jishi-agent-state     # the durable outbox, relative to this file
 * outbox:
 *   sync: interval                   # or always (fsync every sample)
 *   sync_interval_s: 1
 *   max_bytes: 1000000000            # disk quota; beyond it the oldest unsent samples are dropped
 * health:
 *   listen: 127.0.0.1:9475           # the local health endpoint (`jishi agent status`); off to disable
 * instruments:
 *   - id: FCM-2019-001
 *     name: 流式细胞仪 BD FACSCanto II
 *     profile: eastron-sdm120
 *     transport: modbus-tcp://192.0.2.10:502?unit=1
 *     poll_interval_s: 1
 *     modbus: { max_registers: 40, pause_ms: 50 }   # request splitting and pacing (Modbus only)
 * profiles:                           # devices the catalog does not have (devices/profile-schema.ts)
 *   - id: my-plug
 *     kind: mqtt
 *     messages: [{ topic: 'lab/{topic}/power', format: text, fields: [{ field: power_w, path: '', unit: W }] }]
 * ```
 */
import { Type, type Static } from '@sinclair/typebox';
import { IdPattern, MAX_SAMPLES_PER_BATCH } from '../common/wire.ts';
import { ModbusRequestSchema } from '../devices/profile-schema.ts';

/** Defaults and bounds of the numeric settings (seconds where the key ends in `_s`). */
export const CONFIG_LIMITS = {
  poll_interval_s: { default: 5, minimum: 0.1, maximum: 3600 },
  batch_interval_s: { default: 2, minimum: 0.1, maximum: 3600 },
  max_batch_samples: { default: 500, minimum: 1, maximum: MAX_SAMPLES_PER_BATCH },
  max_queue_samples: { default: 100_000, minimum: 1, maximum: 10_000_000 },
  'outbox.sync_interval_s': { default: 1, minimum: 0.01, maximum: 60 },
  'outbox.max_bytes': { default: 1_000_000_000, minimum: 1_000_000, maximum: 1_000_000_000_000 },
} as const;

/** Defaults of the non-numeric settings. */
export const AGENT_DEFAULTS = {
  /** Relative to the config file's directory (the working directory for configs built in code). */
  state_dir: './jishi-agent-state',
  'outbox.sync': 'interval',
  /** The local health endpoint (GET /status, GET /healthz); HEALTH_OFF disables it. */
  'health.listen': '127.0.0.1:9475',
} as const;

/** The `health.listen` value that turns the health endpoint off. */
export const HEALTH_OFF = 'off';

/** When the outbox forces its writes to disk: every append, or at most every sync interval. */
export const OUTBOX_SYNC_MODES = ['always', 'interval'] as const;
export type OutboxSyncMode = (typeof OUTBOX_SYNC_MODES)[number];

/** Agent and instrument ids: the wire's Id (asset numbers or slugs). */
const id = (description: string) => Type.String({ pattern: IdPattern, minLength: 1, maxLength: 64, description });

const seconds = (key: 'poll_interval_s' | 'batch_interval_s' | 'outbox.sync_interval_s', description: string) =>
  Type.Number({ ...CONFIG_LIMITS[key], description });
const count = (key: 'max_batch_samples' | 'max_queue_samples' | 'outbox.max_bytes', description: string) =>
  Type.Integer({ ...CONFIG_LIMITS[key], description });

export const OutboxSectionSchema = Type.Object(
  {
    sync: Type.Optional(
      Type.Union(
        OUTBOX_SYNC_MODES.map((m) => Type.Literal(m)),
        { description: 'always: fsync every append; interval: fsync at most every sync_interval_s' },
      ),
    ),
    sync_interval_s: Type.Optional(seconds('outbox.sync_interval_s', 'With sync: interval, the longest time a stored sample waits for its fsync')),
    max_bytes: Type.Optional(count('outbox.max_bytes', 'Disk quota of the outbox; beyond it the oldest unsent samples are dropped')),
  },
  { additionalProperties: false },
);

export const HealthSectionSchema = Type.Object(
  {
    listen: Type.Optional(
      Type.String({ minLength: 1, description: 'host:port of the local health endpoint (GET /status, /healthz), or off' }),
    ),
  },
  { additionalProperties: false },
);

export const InstrumentEntrySchema = Type.Object(
  {
    id: id('Instrument id, usually the asset number'),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Display name' })),
    profile: Type.String({ minLength: 1, description: 'Device profile id from the catalog, e.g. eastron-sdm120' }),
    transport: Type.String({ minLength: 1, description: 'Transport URL, e.g. modbus-tcp://192.0.2.10:502?unit=1' }),
    poll_interval_s: Type.Optional(seconds('poll_interval_s', 'Overrides the agent-wide poll interval')),
    modbus: Type.Optional(ModbusRequestSchema),
  },
  { additionalProperties: false },
);
export type InstrumentEntry = Static<typeof InstrumentEntrySchema>;

export const AgentConfigSchema = Type.Object(
  {
    agent: Type.Object({ id: id('Agent id, e.g. the lab PC name') }, { additionalProperties: false }),
    collector: Type.Object(
      {
        url: Type.String({ minLength: 1, description: 'Collector base URL, http: or https:' }),
        token: Type.Optional(Type.String({ description: 'Bearer token; ${VAR} reads the environment' })),
        token_file: Type.Optional(Type.String({ minLength: 1, description: 'File holding the bearer token' })),
      },
      { additionalProperties: false },
    ),
    poll_interval_s: Type.Optional(seconds('poll_interval_s', 'How often each instrument is read')),
    batch_interval_s: Type.Optional(seconds('batch_interval_s', 'How often readings are sent to the collector')),
    max_batch_samples: Type.Optional(count('max_batch_samples', 'Largest batch sent to the collector')),
    max_queue_samples: Type.Optional(
      count('max_queue_samples', 'Most samples queued while the collector is unreachable (when set, a bound besides outbox.max_bytes)'),
    ),
    state_dir: Type.Optional(Type.String({ minLength: 1, description: 'Directory of the durable outbox, relative to the config file' })),
    outbox: Type.Optional(OutboxSectionSchema),
    health: Type.Optional(HealthSectionSchema),
    /** Checked entry by entry against the schema of its `kind` (devices/profile-schema.ts) in config-checks.ts. */
    profiles: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 200, description: 'Device profiles declared here, for devices the catalog does not have' })),
    instruments: Type.Array(InstrumentEntrySchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);
export type AgentConfigFile = Static<typeof AgentConfigSchema>;
