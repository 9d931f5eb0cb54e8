/**
 * The InfluxSink of InfluxDB 2.x and 3.x (@influxdata/influxdb-client), the counterpart of createInfluxV1Sink.
 *
 * Writes go to `/api/v2/write` (2.x, and 3.x's v2-compatible endpoint) with precision `ms`, as line protocol made
 * by line-protocol.ts (every number a float field). The client's own batching, background flushing and retries
 * are off: each write() sends its points in one request and its promise settles with that request, because the
 * forwarder keeps the backlog in the store, retries with its own backoff and must see every failure.
 *
 * - ensureReady(): 2.x looks the bucket up by name (and org) and rejects with a message naming bucket and org when
 *   it is not there. It never creates a bucket: the retention period is the administrator's decision. Without an
 *   org (InfluxDB Cloud), the bucket's org ID found here is used for writes and deletes. 3.x checks nothing: a
 *   request that would prove the database usable (listing databases) needs an admin token, and /health says
 *   nothing about the database or the token's rights; the first write is the check, and its failure is retried by
 *   the forwarder like any other.
 * - deleteFrom(): 2.x uses the delete API (predicate on `_measurement` and the `instrument_id` tag, from `fromMs`
 *   on); 3.x cannot delete points and resolves false (the forwarder logs it).
 * - isRejected(): HTTP 400 (malformed line, field type conflict) and 422 (points refused, e.g. outside the
 *   retention period), and points that cannot be written at all (PointRejectedError).
 */
import { HttpError, InfluxDB, type WriteOptions } from '@influxdata/influxdb-client';
import { BucketsAPI, DeleteAPI, type Bucket } from '@influxdata/influxdb-client-apis';
import { PointRejectedError, toLineProtocol } from './line-protocol.ts';
import type { InfluxSink } from './sink.ts';

export interface InfluxV2Options {
  version: 2 | 3;
  /** Base URL, e.g. `http://127.0.0.1:8086` (a path prefix of a reverse proxy is kept). */
  url: string;
  /** API token (sent as `Authorization: Token ...`, never logged). */
  token: string;
  /** Organization name; 2.x OSS needs it (or finds it from the bucket, see ensureReady); 3.x ignores it. */
  org?: string;
  /** Bucket (3.x: database). */
  bucket: string;
  /** HTTP request timeout (default 10 000 ms). */
  requestTimeoutMs?: number;
}

/**
 * Stop of a delete's time range: later than anything jishi writes, and not after the latest time InfluxDB can
 * store (2262-04-11T23:47:16.854775806Z), which the delete API refuses to go beyond.
 */
export const DELETE_STOP = '2262-01-01T00:00:00Z';

/** A double-quoted value of the delete predicate syntax (InfluxQL string escapes). */
const predicateValue = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** The delete predicate that selects one instrument's points of a measurement. */
export function deletePredicate(measurement: string, instrumentId: string): string {
  return `_measurement=${predicateValue(measurement)} AND instrument_id=${predicateValue(instrumentId)}`;
}

const queryString = (params: Record<string, string | undefined>): string =>
  Object.entries(params)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');

/** WriteApi options: everything sent by flush(), in one request, no retries, failures to the caller, no logging. */
function writeOptions(lines: number): Partial<WriteOptions> {
  return {
    batchSize: lines + 1,
    maxBatchBytes: Number.POSITIVE_INFINITY,
    flushInterval: 0,
    maxRetries: 0,
    maxBufferLines: 0,
    // A promise returned here settles the write; the client neither retries nor logs the error itself.
    writeFailed: (error: Error) => Promise.reject(error),
  };
}

export function createInfluxV2Sink(o: InfluxV2Options): InfluxSink {
  const url = new URL(o.url);
  const path = url.pathname.replace(/\/+$/, '');
  const influx = new InfluxDB({ url: o.url, token: o.token, timeout: o.requestTimeoutMs ?? 10_000 });
  const buckets = new BucketsAPI(influx);
  const deletes = new DeleteAPI(influx);
  const server = `InfluxDB ${o.version} ${url.protocol}//${url.host}${path}`;
  const orgText = o.org !== undefined ? `org "${o.org}"` : 'any org the token can read';
  /** 2.x without an org: the org of the bucket, from ensureReady. */
  let orgID: string | undefined;
  const orgParams = (): { org?: string; orgID?: string } => (o.org !== undefined ? { org: o.org } : orgID !== undefined ? { orgID } : {});

  return {
    target: `${server} bucket ${o.bucket}${o.org !== undefined ? ` (org ${o.org})` : ''}`,

    async ensureReady() {
      if (o.version === 3) return;
      const notFound = (detail: string): Error =>
        new Error(
          `${server}: bucket "${o.bucket}" not found in ${orgText}${detail}. jishi does not create buckets (the retention ` +
            'period is the administrator\'s decision): create it, or correct influx.bucket / influx.org; the token needs read and write access to it',
        );
      let found: Bucket[];
      try {
        const res = await buckets.getBuckets({ name: o.bucket, ...(o.org !== undefined ? { org: o.org } : {}) });
        // 2.x adds its system buckets to a list filtered by name: compare names.
        found = (res.buckets ?? []).filter((b) => b.name === o.bucket);
      } catch (err) {
        // 404: the org (or the bucket) does not exist.
        if (err instanceof HttpError && err.statusCode === 404) throw notFound(` (${err.message})`);
        if (err instanceof HttpError && (err.statusCode === 401 || err.statusCode === 403)) {
          throw new Error(`${server}: the token was refused (HTTP ${err.statusCode}: ${err.message})`);
        }
        throw err;
      }
      if (found.length === 0) throw notFound('');
      if (o.org === undefined) {
        const orgs = [...new Set(found.map((b) => b.orgID).filter((id): id is string => id !== undefined))];
        if (orgs.length > 1) throw new Error(`${server}: bucket "${o.bucket}" exists in ${orgs.length} orgs: set influx.org`);
        orgID = orgs[0];
      }
    },

    async write(points) {
      if (points.length === 0) return;
      const lines = points.map(toLineProtocol);
      const api = influx.getWriteApi(o.org ?? '', o.bucket, 'ms', writeOptions(lines.length));
      // Without an org the parameter is left out (3.x, Cloud) rather than sent empty.
      api.path = `/api/v2/write?${queryString({ ...orgParams(), bucket: o.bucket, precision: 'ms' })}`;
      try {
        api.writeRecords(lines);
        await api.flush();
      } finally {
        api.dispose();
      }
    },

    async deleteFrom(measurement, instrumentId, fromMs) {
      if (o.version === 3) return false;
      await deletes.postDelete({
        ...orgParams(),
        bucket: o.bucket,
        body: { start: new Date(fromMs).toISOString(), stop: DELETE_STOP, predicate: deletePredicate(measurement, instrumentId) },
      });
      return true;
    },

    isRejected(err) {
      if (err instanceof PointRejectedError) return true;
      return err instanceof HttpError && (err.statusCode === 400 || err.statusCode === 422);
    },
  };
}
