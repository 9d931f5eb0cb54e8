/**
 * Stored readings -> InfluxDB points, exactly as docs/metric-schema.md defines measurement `reading`:
 * tags instrument_id and agent_id; reading fields as floats; `status` and `error` as string fields;
 * the sample time in ms. Pure.
 */
import type { IPoint } from 'influx';
import { RESERVED_READING_NAMES } from '../../common/wire.ts';
import type { ResultLogEntry } from '../store/engine-store.ts';
import type { AgentReport, StoredReading } from '../store/store.ts';
import type { InstrumentState } from '../engine/types.ts';

export const READING_MEASUREMENT = 'reading';

/**
 * Reading field names that cannot be written as float fields: `status` and `error` are string fields of the
 * same measurement (a field never changes type), `time` is reserved by InfluxDB. The wire schema already
 * rejects them; this guards rows written by other paths.
 */
export const RESERVED_FIELD_NAMES: ReadonlySet<string> = new Set(RESERVED_READING_NAMES);

export interface PointResult {
  /** Undefined when the reading has nothing to write (no fields at all). */
  point?: IPoint;
  /** Reading fields left out because their names are reserved. */
  dropped: string[];
}

/**
 * The point of one reading. Numbers are written without the integer suffix, so InfluxDB stores them as
 * floats even when they look whole (450 -> 450 float). The timestamp is a string so that ts = 0 is kept.
 */
export function readingToPoint(r: StoredReading): PointResult {
  const fields: Record<string, number | string> = {};
  const dropped: string[] = [];
  let count = 0;
  for (const name in r.readings) {
    if (RESERVED_FIELD_NAMES.has(name)) dropped.push(name);
    else {
      fields[name] = r.readings[name]!;
      count++;
    }
  }
  if (r.status !== undefined) {
    fields.status = r.status;
    count++;
  }
  if (r.error !== undefined) {
    fields.error = r.error;
    count++;
  }
  if (count === 0) return { dropped };
  return {
    point: {
      measurement: READING_MEASUREMENT,
      tags: { instrument_id: r.instrument_id, agent_id: r.agent_id },
      fields,
      timestamp: String(r.ts),
    },
    dropped,
  };
}

/** Measurements of the utilization engine's results (docs/metric-schema.md). */
export const STATE_MEASUREMENT = 'instrument_state';
export const SESSION_MEASUREMENT = 'instrument_session';
export const DAILY_MEASUREMENT = 'instrument_daily';

/** The point of one result-log entry; undefined for `delete` entries (see deleteTargets). */
export function resultToPoint(entry: ResultLogEntry): IPoint | undefined {
  const tags = { instrument_id: entry.instrument_id };
  switch (entry.kind) {
    case 'interval': {
      const i = entry.payload;
      return {
        measurement: STATE_MEASUREMENT,
        tags: { ...tags, state: i.state },
        fields: { duration_s: (i.end - i.start) / 1000, energy_kwh: i.energy_kwh },
        timestamp: String(i.start),
      };
    }
    case 'session': {
      const s = entry.payload;
      return {
        measurement: SESSION_MEASUREMENT,
        tags,
        fields: { duration_s: (s.end - s.start) / 1000, active_s: s.active_s, warmup_s: s.warmup_s, post_s: s.post_s, energy_kwh: s.energy_kwh },
        timestamp: String(s.start),
      };
    }
    case 'rollup': {
      const r = entry.payload;
      return {
        measurement: DAILY_MEASUREMENT,
        tags,
        fields: {
          period_s: r.period_s,
          off_s: r.off_s,
          standby_s: r.standby_s,
          active_s: r.active_s,
          fault_s: r.fault_s,
          unknown_s: r.unknown_s,
          effective_s: r.effective_s,
          sessions: r.sessions,
          energy_kwh: r.energy_kwh,
          coverage: r.coverage,
        },
        timestamp: String(r.start),
      };
    }
    case 'delete':
      return undefined;
  }
}

/** What a `delete` entry says was removed from the store: measurement and start time, per kind. */
export function deleteTargets(entry: ResultLogEntry): Array<{ measurement: string; fromMs: number }> {
  if (entry.kind !== 'delete') return [];
  const out: Array<{ measurement: string; fromMs: number }> = [];
  if (entry.payload.intervals_from !== null) out.push({ measurement: STATE_MEASUREMENT, fromMs: entry.payload.intervals_from });
  if (entry.payload.sessions_from !== null) out.push({ measurement: SESSION_MEASUREMENT, fromMs: entry.payload.sessions_from });
  return out;
}

export const LIVE_MEASUREMENT = 'instrument_live';
export const INFO_MEASUREMENT = 'instrument_info';
export const AGENT_HEALTH_MEASUREMENT = 'agent_health';

/** state_code of instrument_live: one number per state, for value mappings and colours. */
export const STATE_CODES: Readonly<Record<InstrumentState, number>> = { off: 0, standby: 1, active: 2, fault: 3, unknown: 4 };

/** The instrument_live point of one instrument's live state at `now`. */
export function livePoint(instrumentId: string, state: InstrumentState, since: number | null, now: number): IPoint {
  return {
    measurement: LIVE_MEASUREMENT,
    tags: { instrument_id: instrumentId },
    fields: { state, state_code: STATE_CODES[state], since_s: since === null ? 0 : Math.max(0, (now - since) / 1000) },
    timestamp: String(now),
  };
}

/** What instrument_info needs of a registry record. */
export interface InfoSource {
  id: string;
  name?: string;
  lab?: string;
  owner_unit?: string;
  rated_hours: number;
  original_value_cny?: number;
  shared?: boolean;
}

/** The instrument_info point of one registry record at `now`. Empty tag values are written `-` (InfluxDB drops empty tags). */
export function infoPoint(i: InfoSource, now: number): IPoint {
  const tag = (v: string | undefined) => (v === undefined || v.trim() === '' ? '-' : v);
  return {
    measurement: INFO_MEASUREMENT,
    tags: { instrument_id: i.id, lab: tag(i.lab), owner_unit: tag(i.owner_unit) },
    fields: { name: i.name ?? i.id, rated_hours: i.rated_hours, original_value_cny: i.original_value_cny ?? 0, shared: i.shared ?? true },
    timestamp: String(now),
  };
}

/** The agent_health point of one accepted batch. */
export function agentReportPoint(r: AgentReport): IPoint {
  const fields: Record<string, number> = {
    samples: r.samples,
    delay_s: (r.received_at - r.sent_at) / 1000,
    clock_offset_s: r.clock_offset_ms / 1000,
  };
  const s = r.status;
  if (s !== null) {
    fields.outbox_depth = s.outbox_depth;
    fields.outbox_oldest_age_s = s.outbox_oldest_ts === null ? 0 : Math.max(0, (r.sent_at - s.outbox_oldest_ts) / 1000);
    fields.dropped_samples = s.dropped_samples;
    fields.lost_samples = s.lost_samples;
    fields.device_errors = s.device_errors;
    fields.failing_instruments = s.failing_instruments.length;
    fields.uplink_failures = s.uplink_failures;
  }
  return { measurement: AGENT_HEALTH_MEASUREMENT, tags: { agent_id: r.agent_id }, fields, timestamp: String(r.received_at) };
}
