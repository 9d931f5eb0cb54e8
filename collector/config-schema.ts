/**
 * The collector config file schema (YAML, validated with TypeBox). This is the file as written;
 * collector/config.ts turns it into the resolved, typed CollectorConfig.
 *
 * ```yaml
 * listen:
 *   host: 127.0.0.1        # default 127.0.0.1
 *   port: 8080             # default 8080; 0 picks a free port
 * data_dir: ./jishi-data   # default ./jishi-data, relative to this file; the store is <data_dir>/jishi.sqlite
 * influx:                  # optional: forward readings to InfluxDB 1.x
 *   url: http://127.0.0.1:8086
 *   database: jishi        # default jishi
 *   username: jishi        # optional
 *   password: secret       # optional
 * agents:                  # who may send data; `jishi token <agent-id>` prints an entry
 *   - id: lab-pc-1
 *     token_sha256: 3f0c...  # sha256 of the agent's bearer token, 64 hex digits
 * instruments:             # optional: names and live-state thresholds
 *   - id: FCM-2019-001
 *     name: 流式细胞仪 BD FACSCanto II
 *     off_w: 20            # below: off (default 10)
 *     active_w: 300        # at or above: active (default 400); between: standby
 *     min_dwell_s: 30      # a new state must hold this long (default 30)
 *     rated_hours: 1400    # rated hours per year (default: rated_hours below)
 *     commissioned: 2025-07-01   # in service from (optional)
 * max_gap_s: 900           # no sample for longer and the state is unknown (default 900)
 * timezone: Asia/Shanghai  # days, months and years are counted in this zone (default Asia/Shanghai)
 * rated_hours: 1400        # default rated hours per instrument and year (default 1400)
 * clock_skew_threshold_s: 2  # agent clocks further off get their sample times corrected (default 2)
 * log_level: info          # fatal, error, warn, info, debug, trace, silent (default info)
 * ```
 */
import { Type, type Static } from '@sinclair/typebox';
import { LOG_LEVELS } from '../common/log.ts';
import { IdPattern } from '../common/wire.ts';
import { DEFAULT_ENGINE_PARAMS } from './engine/params.ts';
import { DEFAULT_TIME_ZONE } from './engine/time-zone.ts';

export { LOG_LEVELS };

/** Defaults of every optional setting. */
export const COLLECTOR_DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  data_dir: './jishi-data',
  influx_database: 'jishi',
  off_w: DEFAULT_ENGINE_PARAMS.off_w,
  active_w: DEFAULT_ENGINE_PARAMS.active_w,
  hysteresis: DEFAULT_ENGINE_PARAMS.hysteresis,
  min_dwell_s: DEFAULT_ENGINE_PARAMS.min_dwell_s,
  max_gap_s: DEFAULT_ENGINE_PARAMS.max_gap_s,
  merge_gap_s: DEFAULT_ENGINE_PARAMS.merge_gap_s,
  warmup_max_s: DEFAULT_ENGINE_PARAMS.warmup_max_s,
  post_max_s: DEFAULT_ENGINE_PARAMS.post_max_s,
  timezone: DEFAULT_TIME_ZONE,
  rated_hours: 1400,
  large_instrument_threshold_cny: 500_000,
  read_access: 'open',
  unknown_instruments: 'accept',
  max_concurrent_ingest: 32,
  retry_after_s: 5,
  auth_failures_per_minute: 30,
  max_future_s: 300,
  max_past_days: 400,
  trust_proxy: false,
  clock_skew_threshold_s: 2,
  log_level: 'info',
} as const;

/** File name of the store inside data_dir. */
export const STORE_FILE = 'jishi.sqlite';

const id = (description: string) => Type.String({ pattern: IdPattern, minLength: 1, maxLength: 64, description });
const seconds = (description: string) => Type.Number({ minimum: 0, maximum: 86_400, description });
/** A calendar date, YYYY-MM-DD. */
export const DAY_PATTERN = '^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$';
const STATE_NAMES = ['off', 'standby', 'active', 'fault', 'unknown'] as const;
const text = (description: string) => Type.String({ minLength: 1, maxLength: 200, description });
const watts = (description: string) => Type.Number({ minimum: 0, maximum: 1_000_000, description });

export const AgentEntrySchema = Type.Object(
  {
    id: id('Agent id (agent.id in the agent config)'),
    token_sha256: Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'sha256 of the bearer token, 64 hex digits' }),
  },
  { additionalProperties: false },
);

export const CollectorInstrumentSchema = Type.Object(
  {
    id: id('Instrument id, usually the asset number'),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Display name' })),
    off_w: Type.Optional(watts('Below this power the instrument is off')),
    active_w: Type.Optional(watts('At or above this power the instrument is active; between off_w and it, standby')),
    hysteresis: Type.Optional(Type.Number({ minimum: 0, maximum: 0.5, description: 'Hysteresis as a fraction of each threshold' })),
    min_dwell_s: Type.Optional(seconds('A new state must hold this long before it is taken')),
    max_gap_s: Type.Optional(Type.Number({ minimum: 1, maximum: 86_400, description: 'A gap between samples longer than this is unknown' })),
    merge_gap_s: Type.Optional(seconds('Standby gaps up to this long between active periods are merged into one session')),
    warmup_max_s: Type.Optional(seconds('At most this much standby before a session counts as warm-up')),
    post_max_s: Type.Optional(seconds('At most this much standby after a session counts as post-processing')),
    status_states: Type.Optional(
      Type.Array(
        Type.Object(
          {
            match: Type.String({ minLength: 1, maxLength: 200, description: 'Case-insensitive regex on the device status' }),
            state: Type.Union(STATE_NAMES.map((n) => Type.Literal(n))),
          },
          { additionalProperties: false },
        ),
        { maxItems: 32, description: 'Device status -> state rules; the first match wins and outranks power' },
      ),
    ),
    rated_hours: Type.Optional(Type.Number({ minimum: 0, maximum: 8784, description: 'Rated hours per year' })),
    commissioned: Type.Optional(Type.String({ pattern: DAY_PATTERN, description: 'First day in service (YYYY-MM-DD)' })),
    retired: Type.Optional(Type.String({ pattern: DAY_PATTERN, description: 'Last day in service (YYYY-MM-DD)' })),
    // Registry (asset) fields, reported in the annual assessment export (collector/sharing/types.ts AssetFields).
    name_en: Type.Optional(text('English name (英文名称)')),
    model: Type.Optional(text('Model (型号规格)')),
    category_code: Type.Optional(Type.String({ pattern: '^[0-9A-Za-z.-]{1,32}$', description: 'Category code (分类编码)' })),
    manufacturer: Type.Optional(text('Manufacturer (生产制造商)')),
    country: Type.Optional(text('Country of origin (产地国别)')),
    original_value_cny: Type.Optional(Type.Number({ minimum: 0, maximum: 1e11, description: 'Original value in CNY (原值)' })),
    owner_unit: Type.Optional(text('Owner unit: school or institute (所在单位)')),
    lab: Type.Optional(text('Lab (所在实验室)')),
    location: Type.Optional(text('Location (安放地址)')),
    contact: Type.Optional(text('Contact person (联系人)')),
    funding_source: Type.Optional(text('Funding source (经费来源)')),
    shared: Type.Optional(Type.Boolean({ description: 'Open for sharing (是否共享); default true' })),
    asset_status: Type.Optional(text('Asset status, e.g. 在用, 维修, 停用')),
    agent: Type.Optional(id('Device binding: the agent that reads this instrument')),
    annual: Type.Optional(
      Type.Array(
        Type.Object(
          {
            year: Type.Integer({ minimum: 2000, maximum: 2100, description: 'Reporting year' }),
            service_income_cny: Type.Optional(Type.Number({ minimum: 0, maximum: 1e11, description: 'Service income that year, CNY (服务收入)' })),
            trained_users: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'Users trained that year (培训人数)' })),
          },
          { additionalProperties: false },
        ),
        { maxItems: 100, description: 'Figures entered by people per year (not measured)' },
      ),
    ),
  },
  { additionalProperties: false },
);

export const AdminEntrySchema = Type.Object(
  {
    id: id('Admin id, e.g. asset-office'),
    token_sha256: Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'sha256 of the admin bearer token, 64 hex digits' }),
  },
  { additionalProperties: false },
);

export const InfluxSchema = Type.Object(
  {
    url: Type.String({ minLength: 1, description: 'InfluxDB base URL, e.g. http://127.0.0.1:8086' }),
    version: Type.Optional(Type.Union([Type.Literal(1), Type.Literal(2), Type.Literal(3)], { description: 'InfluxDB major version (default 1)' })),
    database: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$', description: 'Database (default jishi)' })),
    username: Type.Optional(Type.String({ minLength: 1 })),
    password: Type.Optional(Type.String()),
    token: Type.Optional(Type.String({ minLength: 1, description: 'API token (2.x, 3.x)' })),
    org: Type.Optional(Type.String({ minLength: 1, description: 'Organization (2.x)' })),
    bucket: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Bucket (2.x) or database (3.x); default the database' })),
  },
  { additionalProperties: false },
);

export const CollectorConfigSchema = Type.Object(
  {
    listen: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String({ minLength: 1, description: 'Listen address (default 127.0.0.1)' })),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: 'Listen port (default 8080, 0 = any free port)' })),
        },
        { additionalProperties: false },
      ),
    ),
    data_dir: Type.Optional(Type.String({ minLength: 1, description: 'Data directory, relative to the config file' })),
    influx: Type.Optional(InfluxSchema),
    agents: Type.Optional(Type.Array(AgentEntrySchema)),
    admins: Type.Optional(Type.Array(AdminEntrySchema, { description: 'Who may manage the registry and bookings through the API' })),
    viewers: Type.Optional(Type.Array(AdminEntrySchema, { description: 'Read-only tokens (with read_access: token)' })),
    read_access: Type.Optional(
      Type.Union([Type.Literal('open'), Type.Literal('token')], { description: 'open: the read API needs no token; token: a viewer, admin or agent token' }),
    ),
    unknown_instruments: Type.Optional(
      Type.Union([Type.Literal('accept'), Type.Literal('reject')], { description: 'Samples of instruments the config does not list: accept (default) or reject' }),
    ),
    limits: Type.Optional(
      Type.Object(
        {
          max_concurrent_ingest: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'Ingest requests handled at once; more get 503 + Retry-After' })),
          retry_after_s: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, description: 'Retry-After sent with 503 when shedding load' })),
          auth_failures_per_minute: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'Failed authentications per client address and minute before 429' })),
          max_future_s: Type.Optional(Type.Number({ minimum: 1, maximum: 31_536_000, description: 'Samples further ahead of the collector clock are refused' })),
          max_past_days: Type.Optional(Type.Number({ minimum: 1, maximum: 36_500, description: 'Samples older than this are refused' })),
        },
        { additionalProperties: false },
      ),
    ),
    tls: Type.Optional(
      Type.Object(
        {
          cert: Type.String({ minLength: 1, description: 'PEM certificate (chain) file, relative to this file' }),
          key: Type.String({ minLength: 1, description: 'PEM private key file, relative to this file' }),
        },
        { additionalProperties: false },
      ),
    ),
    trust_proxy: Type.Optional(
      Type.Union([Type.Boolean(), Type.String({ minLength: 1 })], { description: 'Behind a reverse proxy: true, or the proxy addresses (comma-separated)' }),
    ),
    large_instrument_threshold_cny: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1e11, description: 'Original value from which an instrument is in the assessment (default 500000)' }),
    ),
    instruments: Type.Optional(Type.Array(CollectorInstrumentSchema)),
    max_gap_s: Type.Optional(Type.Number({ minimum: 1, maximum: 86_400, description: 'Seconds without a sample before the state is unknown' })),
    timezone: Type.Optional(Type.String({ minLength: 1, description: 'IANA time zone of the lab (default Asia/Shanghai)' })),
    rated_hours: Type.Optional(Type.Number({ minimum: 0, maximum: 8784, description: 'Default rated hours per instrument and year' })),
    clock_skew_threshold_s: Type.Optional(
      Type.Number({ minimum: 0.1, maximum: 86_400, description: 'Agent clocks further off than this get their sample times corrected' }),
    ),
    log_level: Type.Optional(Type.Union(LOG_LEVELS.map((l) => Type.Literal(l)))),
  },
  { additionalProperties: false },
);
export type CollectorConfigFile = Static<typeof CollectorConfigSchema>;
