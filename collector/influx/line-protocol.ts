/**
 * The `influx` package's IPoint (what points.ts builds, docs/metric-schema.md) as a line of InfluxDB line protocol
 * with a millisecond timestamp. Both sinks write these lines (sink.ts for 1.x, v2-sink.ts for 2.x/3.x). Pure.
 *
 * The output is byte for byte what @influxdata/influxdb-client's Point writes (test/line-protocol.test.ts checks it
 * against Point on random points): tags and fields sorted by key, keys and tag values escaped as tags, string
 * fields quoted, booleans `T` / `F`. It is written here rather than through Point because the forwarder encodes
 * every reading: Point's per-field objects and sorting cost more than the rest of the forwarding.
 *
 * Field types follow the schema rule "a field never changes type": every number is a float field (`450` is
 * written `450`, never `450i`, so a later `450.5` is the same type), strings are string fields, booleans boolean
 * fields. A point InfluxDB would refuse anyway (no measurement, no fields, an empty tag value, a number that is
 * not finite, a value of another type, a timestamp that is not a whole number of ms) throws PointRejectedError:
 * the sink reports it as a rejected write (isRejected), like the HTTP 400 a 1.x server answers to the same point.
 */
import type { IPoint } from 'influx';

/** A point that cannot be written as it is; retrying it cannot help. */
export class PointRejectedError extends Error {
  override name = 'PointRejectedError';
}

const ESCAPES: Record<string, string> = { ',': '\\,', ' ': '\\ ', '=': '\\=', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const escapeMeasurement = (s: string): string => s.replace(/[, \n\r\t]/g, (c) => ESCAPES[c]!);

/**
 * Escaped tag keys, tag values and field names, remembered: the same few names and instrument ids come back in
 * every point, and a lookup costs a fraction of the replace. Bounded: emptied when it reaches CACHE_MAX entries.
 */
const CACHE_MAX = 10_000;
const tagCache = new Map<string, string>();
function escapeTag(s: string): string {
  let e = tagCache.get(s);
  if (e === undefined) {
    if (tagCache.size >= CACHE_MAX) tagCache.clear();
    e = s.replace(/[, =\n\r\t]/g, (c) => ESCAPES[c]!);
    tagCache.set(s, e);
  }
  return e;
}
const quote = (s: string): string => `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;

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

const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The keys in byKey order (points are usually built in that order already: then no sort). */
function sortedKeys(o: object): string[] {
  const keys = Object.keys(o);
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1]! >= keys[i]!) return keys.sort(byKey);
  }
  return keys;
}

/** One line of line protocol (no trailing newline) for an IPoint; throws PointRejectedError. */
export function toLineProtocol(p: IPoint): string {
  if (typeof p.measurement !== 'string' || p.measurement === '') throw new PointRejectedError('a point without a measurement');
  const parts: string[] = [escapeMeasurement(p.measurement)];
  const tags = p.tags ?? {};
  for (const name of sortedKeys(tags)) {
    const value = tags[name] as unknown;
    // Point would drop an empty tag silently (a different series); a 1.x server refuses it: so do we.
    if (typeof value !== 'string' || value === '') throw new PointRejectedError(`${p.measurement}: tag ${name} has no value`);
    if (name === '') continue;
    parts.push(',', escapeTag(name), '=', escapeTag(value));
  }
  const fields = (p.fields ?? {}) as Record<string, unknown>;
  let written = 0;
  for (const name of sortedKeys(fields)) {
    const value = fields[name];
    let encoded: string;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new PointRejectedError(`${p.measurement}: field ${name} is ${value}, not a finite number`);
      encoded = String(value);
    } else if (typeof value === 'string') encoded = quote(value);
    else if (typeof value === 'boolean') encoded = value ? 'T' : 'F';
    else if (value === undefined || value === null) continue;
    else throw new PointRejectedError(`${p.measurement}: field ${name} has a value of type ${typeof value}`);
    if (name === '') continue;
    parts.push(written === 0 ? ' ' : ',', escapeTag(name), '=', encoded);
    written++;
  }
  if (written === 0) throw new PointRejectedError(`${p.measurement}: a point without fields`);
  const ts = msTimestamp(p);
  if (ts !== undefined) parts.push(' ', ts);
  return parts.join('');
}
