/**
 * Stored readings -> InfluxDB points, exactly as docs/metric-schema.md defines measurement `reading`:
 * tags instrument_id and agent_id; reading fields as floats; `status` and `error` as string fields;
 * the sample time in ms. Pure.
 */
import type { IPoint } from 'influx';
import { RESERVED_READING_NAMES } from '../../common/wire.ts';
import type { ResultLogEntry } from '../store/engine-store.ts';
import type { StoredReading } from '../store/store.ts';

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
  for (const [name, value] of Object.entries(r.readings)) {
    if (RESERVED_FIELD_NAMES.has(name)) dropped.push(name);
    else fields[name] = value;
  }
  if (r.status !== undefined) fields.status = r.status;
  if (r.error !== undefined) fields.error = r.error;
  if (Object.keys(fields).length === 0) return { dropped };
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

/** The point of one result-log entry; undefined for `delete` entries (see deleteQueries). */
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

const quote = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** InfluxQL statements that remove what a `delete` entry says was removed from the store. */
export function deleteQueries(entry: ResultLogEntry): string[] {
  if (entry.kind !== 'delete') return [];
  const out: string[] = [];
  const where = (from: number) => `WHERE "instrument_id" = ${quote(entry.instrument_id)} AND time >= ${from}ms`;
  if (entry.payload.intervals_from !== null) out.push(`DELETE FROM "${STATE_MEASUREMENT}" ${where(entry.payload.intervals_from)}`);
  if (entry.payload.sessions_from !== null) out.push(`DELETE FROM "${SESSION_MEASUREMENT}" ${where(entry.payload.sessions_from)}`);
  return out;
}
