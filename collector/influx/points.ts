/**
 * Stored readings -> InfluxDB points, exactly as docs/metric-schema.md defines measurement `reading`:
 * tags instrument_id and agent_id; reading fields as floats; `status` and `error` as string fields;
 * the sample time in ms. Pure.
 */
import type { IPoint } from 'influx';
import { RESERVED_READING_NAMES } from '../../common/wire.ts';
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
