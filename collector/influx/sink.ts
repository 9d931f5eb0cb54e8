/**
 * Where the forwarder writes: InfluxDB 1.x or 2.x/3.x (`@influxdata/influxdb-client`, see v2-sink.ts). Both take
 * the same points (docs/metric-schema.md) as line protocol (./line-protocol.ts).
 *
 * 1.x: writes are a plain `POST /write?db=..&precision=ms` of the lines (HTTP basic auth when a username is set);
 * database checks and deletes are InfluxQL through the `influx` package. (The package's writePoints serialized each
 * point again with its own escaping, at a cost comparable to the rest of the forwarding.)
 */
import { InfluxDB, type IPoint } from 'influx';
import { PointRejectedError, toLineProtocol } from './line-protocol.ts';

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

/** InfluxDB 1.x answered a write with an error status (400: it refused the points themselves). */
export class InfluxWriteError extends Error {
  override name = 'InfluxWriteError';
  readonly status: number;
  constructor(status: number, body: string) {
    super(`InfluxDB answered the write with HTTP ${status}${body.trim() === '' ? '' : `: ${body.trim().slice(0, 500)}`}`);
    this.status = status;
  }
}

/** Why fetch failed, in words a log reader can act on: `ECONNREFUSED`, `timed out after 10000 ms`. */
function fetchFailure(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `timed out after ${timeoutMs} ms`;
  const cause = (err as { cause?: { code?: string; message?: string } } | null)?.cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
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
  const requestTimeoutMs = o.requestTimeoutMs ?? 10_000;
  const influx = new InfluxDB({
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? (protocol === 'https' ? 443 : 80) : Number(url.port),
    protocol,
    ...(url.pathname !== '/' ? { path: url.pathname.replace(/\/+$/, '') } : {}),
    database,
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
    pool: { maxRetries: 0, requestTimeout: requestTimeoutMs, backoff: NO_POOL_BACKOFF },
  });
  const writeUrl = new URL(`${url.pathname.replace(/\/+$/, '')}/write`, url);
  writeUrl.search = new URLSearchParams({ db: database, precision: 'ms' }).toString();
  const writeHeaders: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
  if (o.username !== undefined) {
    writeHeaders.authorization = `Basic ${Buffer.from(`${o.username}:${o.password ?? ''}`).toString('base64')}`;
  }
  const target = `${protocol}://${url.host}${url.pathname === '/' ? '' : url.pathname} database ${database}`;
  return {
    target,
    async ensureReady() {
      const names = await influx.getDatabaseNames();
      if (!names.includes(database)) await influx.createDatabase(database);
    },
    async write(points) {
      if (points.length === 0) return;
      const body = points.map(toLineProtocol).join('\n');
      let res: Response;
      try {
        res = await fetch(writeUrl, { method: 'POST', body, headers: writeHeaders, signal: AbortSignal.timeout(requestTimeoutMs) });
      } catch (err) {
        throw new Error(`write to ${target} failed: ${fetchFailure(err, requestTimeoutMs)}`, { cause: err });
      }
      if (res.status === 204 || res.status === 200) {
        await res.body?.cancel();
        return;
      }
      throw new InfluxWriteError(res.status, await res.text().catch(() => ''));
    },
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
      return err instanceof PointRejectedError || (err instanceof InfluxWriteError && err.status === 400);
    },
  };
}
