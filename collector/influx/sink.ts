/**
 * Where the forwarder writes: InfluxDB 1.x (the `influx` package, InfluxQL) or 2.x/3.x (`@influxdata/influxdb-client`,
 * see v2-sink.ts). Both take the same points (docs/metric-schema.md) as line protocol.
 */
import { InfluxDB, type IPoint } from 'influx';

export interface InfluxSink {
  /** e.g. `http://127.0.0.1:8086 database jishi`, for logs (never credentials). */
  readonly target: string;
  /** Makes sure the database / bucket exists (1.x creates it); called before writing and after a failure. */
  ensureReady(): Promise<void>;
  /** Writes points with ms timestamps; rejects on any failure (isRejected tells a refused write). */
  write(points: readonly IPoint[]): Promise<void>;
  /**
   * Removes the points of one instrument in a measurement from `fromMs` on (a recompute rebuilt them).
   * Resolves false when this server cannot delete (InfluxDB 3.x): the caller logs it.
   */
  deleteFrom(measurement: string, instrumentId: string, fromMs: number): Promise<boolean>;
  /** True when the server refused the data itself (HTTP 400): retrying the same points cannot succeed. */
  isRejected(err: unknown): boolean;
}

/** The influx package's pool would disable the host for its own backoff; the forwarder does its own. */
const NO_POOL_BACKOFF = {
  getDelay: () => 0,
  next() {
    return this;
  },
  reset() {
    return this;
  },
};

export interface InfluxV1Options {
  /** Base URL, e.g. `http://127.0.0.1:8086` (a URL without a port means 80/443). */
  url: string;
  database: string;
  username?: string;
  password?: string;
  /** HTTP request timeout (default 10 000 ms). */
  requestTimeoutMs?: number;
}

const quote = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** InfluxQL that removes one instrument's points of a measurement from `fromMs` on. */
export function deleteStatement(measurement: string, instrumentId: string, fromMs: number): string {
  return `DELETE FROM "${measurement}" WHERE "instrument_id" = ${quote(instrumentId)} AND time >= ${fromMs}ms`;
}

export function createInfluxV1Sink(o: InfluxV1Options): InfluxSink {
  const url = new URL(o.url);
  const protocol = url.protocol === 'https:' ? 'https' : 'http';
  const { database } = o;
  const influx = new InfluxDB({
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? (protocol === 'https' ? 443 : 80) : Number(url.port),
    protocol,
    ...(url.pathname !== '/' ? { path: url.pathname.replace(/\/+$/, '') } : {}),
    database,
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
    pool: { maxRetries: 0, requestTimeout: o.requestTimeoutMs ?? 10_000, backoff: NO_POOL_BACKOFF },
  });
  return {
    target: `${protocol}://${url.host}${url.pathname === '/' ? '' : url.pathname} database ${database}`,
    async ensureReady() {
      const names = await influx.getDatabaseNames();
      if (!names.includes(database)) await influx.createDatabase(database);
    },
    write: (points) => influx.writePoints([...points], { precision: 'ms', database }),
    async deleteFrom(measurement, instrumentId, fromMs) {
      const q = deleteStatement(measurement, instrumentId, fromMs);
      const raw = (await influx.queryRaw(q, { database, method: 'POST' } as Parameters<typeof influx.queryRaw>[1])) as {
        results?: Array<{ error?: string }>;
      };
      const error = raw.results?.find((r) => r.error !== undefined)?.error;
      if (error !== undefined) throw new Error(`InfluxDB refused "${q}": ${error}`);
      return true;
    },
    isRejected(err) {
      // The influx package's RequestError (not exported) carries the response as `res`.
      const res = (err as { res?: { statusCode?: number } } | null)?.res;
      return res?.statusCode === 400;
    },
  };
}
