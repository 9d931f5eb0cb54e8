/**
 * The wire protocol between agent and collector: the one module both sides import.
 * docs/wire-protocol.md documents it for people; this file is the contract for code.
 *
 * Versioning: the URL carries the major version (`/api/v1/...`) and every batch carries
 * `wire_version`. Fields may be added (optional) within v1; nothing is renamed or retyped.
 */
import { Type, type Static } from '@sinclair/typebox';

export const WIRE_VERSION = 1;
export const API_PREFIX = '/api/v1';
export const INGEST_PATH = `${API_PREFIX}/ingest`;
export const INSTRUMENTS_PATH = `${API_PREFIX}/instruments`;

/** Largest batch an agent may send, in samples. The collector rejects larger ones. */
export const MAX_SAMPLES_PER_BATCH = 5000;

/** The largest time a JavaScript Date holds (ms since the epoch): times beyond it are invalid on the wire. */
export const MAX_TIME_MS = 8.64e15;

/** Instrument and agent ids: asset numbers or slugs. */
export const IdPattern = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$';
export const Id = Type.String({ pattern: IdPattern, minLength: 1, maxLength: 64 });

/**
 * Reading field names: snake_case ending in a unit (`power_w`, `energy_kwh`), see docs/metric-schema.md.
 * The set is open so new device fields need no protocol change; the metric schema doc lists the known ones.
 */
export const ReadingFieldPattern = '^(?!(?:status|error|time)$)[a-z][a-z0-9_]{0,62}$';
/** Names a reading field may not take: they are the sample's string fields and InfluxDB's time column. */
export const RESERVED_READING_NAMES: readonly string[] = ['status', 'error', 'time'];

/** Well-known reading fields and their units. Drivers should use these names where they apply. */
export const KNOWN_READING_FIELDS = {
  power_w: 'W',
  energy_kwh: 'kWh',
  energy_export_kwh: 'kWh',
  voltage_v: 'V',
  current_a: 'A',
  apparent_power_va: 'VA',
  reactive_power_var: 'var',
  power_factor: '1',
  frequency_hz: 'Hz',
} as const;

export type KnownReadingField = keyof typeof KNOWN_READING_FIELDS;

export const Readings = Type.Record(Type.String({ pattern: ReadingFieldPattern }), Type.Number(), {
  maxProperties: 64,
  additionalProperties: false,
  description: 'Decoded readings, field name -> number. Units are in the names.',
});
export type Readings = Static<typeof Readings>;

export const Sample = Type.Object(
  {
    instrument_id: Id,
    /** Time of the reading on the agent's clock, milliseconds since the Unix epoch (UTC). */
    ts: Type.Integer({ minimum: 0, maximum: MAX_TIME_MS }),
    readings: Readings,
    /** Device-reported status text as read (serial status line, status register name, relay state). */
    status: Type.Optional(Type.String({ maxLength: 128 })),
    /** When the device could not be read: a JISHI_ERR_DEVICE_* code. `readings` is then empty. */
    error: Type.Optional(Type.String({ pattern: '^JISHI_ERR_[A-Z_]+$', maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type Sample = Static<typeof Sample>;

/**
 * A small summary of the agent's health, sent with each batch (optional within v1) so the collector can show
 * dead agents, growing backlogs and failing devices. Counters are since the agent process started, except
 * dropped_samples (kept by the durable outbox across restarts). Times are on the agent's clock.
 */
export const AgentStatusReport = Type.Object(
  {
    /** When this agent process started (agent clock). */
    started_at: Type.Integer({ minimum: 0, maximum: MAX_TIME_MS }),
    /** Samples waiting in the outbox (this batch included). */
    outbox_depth: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    /** `ts` of the oldest sample waiting in the outbox; null when it is empty. */
    outbox_oldest_ts: Type.Union([Type.Integer({ minimum: 0, maximum: MAX_TIME_MS }), Type.Null()]),
    /** Samples the outbox dropped because it was full. */
    dropped_samples: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    /** Samples read but not stored because the outbox failed (disk full, I/O error). */
    lost_samples: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    /** Failed reads, all instruments together. */
    device_errors: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    /** Instruments whose latest read failed. */
    failing_instruments: Type.Array(Id, { maxItems: 1000 }),
    /** Failed send attempts before this one (since the last success). */
    uplink_failures: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  },
  { additionalProperties: false },
);
export type AgentStatusReport = Static<typeof AgentStatusReport>;

export const IngestBatch = Type.Object(
  {
    wire_version: Type.Literal(WIRE_VERSION),
    agent_id: Id,
    /** Unique per agent; a batch re-sent with the same id is stored once. */
    batch_id: Type.String({ pattern: '^[A-Za-z0-9._:-]{1,80}$' }),
    /** Monotonic per agent (restarts continue from the outbox), for ordering and gap detection. */
    seq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    /** The agent's clock when it sent the batch (ms since epoch), for clock-skew measurement. */
    sent_at: Type.Integer({ minimum: 0, maximum: MAX_TIME_MS }),
    samples: Type.Array(Sample, { maxItems: MAX_SAMPLES_PER_BATCH }),
    /** The agent's health when it sent the batch (optional; agents since 0.1 send it). */
    agent_status: Type.Optional(AgentStatusReport),
  },
  { additionalProperties: false },
);
export type IngestBatch = Static<typeof IngestBatch>;

export const IngestAck = Type.Object({
  batch_id: Type.String(),
  /** Samples stored by this request (0 when the batch was a duplicate). */
  accepted: Type.Integer(),
  /** True when this batch id had already been stored: nothing was written again. */
  duplicate: Type.Boolean(),
  /** The collector's clock when it answered (ms since epoch). */
  server_time: Type.Integer(),
  /**
   * Samples the collector refused one by one while storing the rest (since wire 1.1; absent when none):
   * by instrument and reason, e.g. an instrument another agent owns, or a time far in the future.
   */
  rejected: Type.Optional(
    Type.Array(
      Type.Object({
        instrument_id: Type.String(),
        code: Type.String(),
        message: Type.String(),
        count: Type.Integer({ minimum: 1 }),
      }),
    ),
  ),
});
export type IngestAck = Static<typeof IngestAck>;

/** The error body of every 4xx/5xx answer (the same shape as Fastify's own errors). */
export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String(),
});
export type ErrorBody = Static<typeof ErrorBody>;

export const InstrumentState = Type.Union([
  Type.Literal('off'),
  Type.Literal('standby'),
  Type.Literal('active'),
  Type.Literal('fault'),
  Type.Literal('unknown'),
]);
export type InstrumentState = Static<typeof InstrumentState>;

export const InstrumentView = Type.Object({
  id: Id,
  agent_id: Type.Union([Id, Type.Null()]),
  name: Type.Union([Type.String(), Type.Null()]),
  state: InstrumentState,
  /** When the current state began (ms since epoch), null when never seen. */
  state_since: Type.Union([Type.Integer(), Type.Null()]),
  last_seen: Type.Union([Type.Integer(), Type.Null()]),
  last_reading: Type.Union([
    Type.Object({ ts: Type.Integer(), readings: Readings, status: Type.Optional(Type.String()), error: Type.Optional(Type.String()) }),
    Type.Null(),
  ]),
});
export type InstrumentView = Static<typeof InstrumentView>;

export const InstrumentList = Type.Object({
  server_time: Type.Integer(),
  instruments: Type.Array(InstrumentView),
});
export type InstrumentList = Static<typeof InstrumentList>;
