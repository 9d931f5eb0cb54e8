/**
 * InfluxDB 1.x for the benchmarks: a real influxd on a free port with a temp dir (the tests' helper), and the
 * plain HTTP API: line-protocol writes and InfluxQL queries with ms epochs.
 */
import { execFileSync } from 'node:child_process';
import { INFLUXD_PATH, influxdAvailable, startInfluxd, type RunningInfluxd } from '../../test/helpers/influxd.ts';
import { onCleanup } from './proc.ts';

export { influxdAvailable, type RunningInfluxd };

/** A real influxd (free port, temp dir) that is stopped and removed when the bench ends, even on Ctrl-C. */
export async function startBenchInfluxd(): Promise<RunningInfluxd> {
  if (!influxdAvailable()) throw new Error('influxd is not installed (/usr/bin/influxd or $JISHI_INFLUXD): this benchmark needs a real InfluxDB 1.x');
  const influxd = await startInfluxd();
  const stop = onCleanup(() => influxd.stop());
  return { ...influxd, stop };
}

/** `influxd version`, e.g. `InfluxDB v1.6.7~rc0 (git: unknown unknown)`. */
export function influxdVersion(): string {
  try {
    return execFileSync(INFLUXD_PATH, ['version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

interface QueryResponse {
  results?: Array<{ error?: string; series?: Array<{ name: string; columns: string[]; values: unknown[][]; tags?: Record<string, string> }> }>;
  error?: string;
}

/** Runs InfluxQL (POST for statements that change things); rows as objects, times in ms. */
export async function influxQuery(url: string, db: string, q: string, post = false): Promise<Array<Record<string, unknown>>> {
  const params = new URLSearchParams({ db, q, epoch: 'ms' });
  const res = await fetch(`${url}/query?${post ? '' : params.toString()}`, {
    method: post ? 'POST' : 'GET',
    ...(post ? { body: params, headers: { 'content-type': 'application/x-www-form-urlencoded' } } : {}),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.json()) as QueryResponse;
  if (!res.ok || body.error !== undefined) throw new Error(`InfluxDB query failed (${res.status}): ${body.error ?? ''} ${q}`);
  const rows: Array<Record<string, unknown>> = [];
  for (const r of body.results ?? []) {
    if (r.error !== undefined) throw new Error(`InfluxDB: ${r.error} (${q})`);
    for (const s of r.series ?? []) {
      for (const v of s.values) {
        const row: Record<string, unknown> = { ...(s.tags ?? {}) };
        s.columns.forEach((c, i) => (row[c] = v[i]));
        rows.push(row);
      }
    }
  }
  return rows;
}

export async function createDatabase(url: string, db: string): Promise<void> {
  await influxQuery(url, db, `CREATE DATABASE "${db}"`, true);
}

/** Writes line protocol (ms precision); throws on anything but 204. */
export async function writeLines(url: string, db: string, body: string): Promise<void> {
  const res = await fetch(`${url}/write?db=${encodeURIComponent(db)}&precision=ms`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'text/plain' },
    signal: AbortSignal.timeout(60_000),
  });
  if (res.status !== 204) throw new Error(`InfluxDB write failed: ${res.status} ${await res.text()}`);
}

/** count(field) of a measurement (0 when empty). */
export async function countPoints(url: string, db: string, measurement: string, field: string): Promise<number> {
  const rows = await influxQuery(url, db, `SELECT count("${field}") FROM "${measurement}"`);
  return rows.length === 0 ? 0 : Number(rows[0]!.count);
}
