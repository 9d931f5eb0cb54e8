/**
 * The `influx` package's IPoint (what points.ts builds, docs/metric-schema.md) as a line of InfluxDB line protocol
 * with a millisecond timestamp, through @influxdata/influxdb-client's Point (its escaping). Used by the InfluxDB
 * 2.x/3.x sink (v2-sink.ts). Pure.
 *
 * Field types follow the schema rule "a field never changes type": every number is a float field (`450` is
 * written `450`, never `450i`, so a later `450.5` is the same type), strings are string fields, booleans boolean
 * fields. A point InfluxDB would refuse anyway (no measurement, no fields, an empty tag value, a number that is
 * not finite, a value of another type, a timestamp that is not a whole number of ms) throws PointRejectedError:
 * the sink reports it as a rejected write (isRejected), like the HTTP 400 a 1.x server answers to the same point.
 */
import { Point } from '@influxdata/influxdb-client';
import type { IPoint } from 'influx';

/** A point that cannot be written as it is; retrying it cannot help. */
export class PointRejectedError extends Error {
  override name = 'PointRejectedError';
}

/** Timestamps are sent with precision `ms`; a string must already be a whole number of ms. */
function msTimestamp(p: IPoint): string | undefined {
  const t = p.timestamp as unknown;
  if (t === undefined || t === null) return undefined; // the server's clock, as the 1.x package does
  if (typeof t === 'string') {
    if (!/^-?\d+$/.test(t)) throw new PointRejectedError(`${p.measurement}: timestamp "${t}" is not a whole number of ms`);
    return t;
  }
  const ms = t instanceof Date ? t.getTime() : t;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) throw new PointRejectedError(`${p.measurement}: invalid timestamp ${String(t)}`);
  return String(Math.floor(ms));
}

/** The client Point of an IPoint (tags, float / string / boolean fields, ms timestamp). */
export function toClientPoint(p: IPoint): Point {
  if (typeof p.measurement !== 'string' || p.measurement === '') throw new PointRejectedError('a point without a measurement');
  const point = new Point(p.measurement);
  for (const [name, value] of Object.entries(p.tags ?? {})) {
    // The client would drop an empty tag silently (a different series); a 1.x server refuses it: so do we.
    if (typeof value !== 'string' || value === '') throw new PointRejectedError(`${p.measurement}: tag ${name} has no value`);
    point.tag(name, value);
  }
  let fields = 0;
  for (const [name, value] of Object.entries(p.fields ?? {}) as Array<[string, unknown]>) {
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new PointRejectedError(`${p.measurement}: field ${name} is ${value}, not a finite number`);
      point.floatField(name, value);
    } else if (typeof value === 'string') point.stringField(name, value);
    else if (typeof value === 'boolean') point.booleanField(name, value);
    else if (value === undefined || value === null) continue;
    else throw new PointRejectedError(`${p.measurement}: field ${name} has a value of type ${typeof value}`);
    fields++;
  }
  if (fields === 0) throw new PointRejectedError(`${p.measurement}: a point without fields`);
  const ts = msTimestamp(p);
  // '' lets the server assign the time; Point would otherwise use the local clock.
  point.timestamp(ts ?? '');
  return point;
}

/** Line protocol settings for precision ms: the timestamp as msTimestamp produced it. */
const MS_SETTINGS = { convertTime: (t: string | number | Date | undefined) => (t === undefined || t === '' ? undefined : String(t)) };

/** One line of line protocol (no trailing newline) for an IPoint; throws PointRejectedError. */
export function toLineProtocol(p: IPoint): string {
  const line = toClientPoint(p).toLineProtocol(MS_SETTINGS);
  if (line === undefined) throw new PointRejectedError(`${p.measurement}: not representable in line protocol`);
  return line;
}
