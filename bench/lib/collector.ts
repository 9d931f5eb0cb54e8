/**
 * A real collector for the benchmarks, in its own process as users run it (`node bin/jishi.mjs collector
 * --config FILE`), with generated agents and tokens, an optional InfluxDB 1.x forwarder, and its /healthz
 * (the forwarder backlog) read over HTTP.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { sha256Hex } from '../../collector/auth.ts';
import { freePort } from '../../common/net.ts';
import { spawnJishi, waitFor, type Child } from './proc.ts';

export interface BenchAgent {
  id: string;
  token: string;
}

/** `count` agents `<prefix>-1..` with random tokens. */
export function makeAgents(prefix: string, count: number): BenchAgent[] {
  return Array.from({ length: count }, (_, i) => ({ id: `${prefix}-${i + 1}`, token: `bench_${randomBytes(16).toString('hex')}` }));
}

export interface CollectorProcess {
  url: string;
  child: Child;
  /** GET /healthz's influx section (undefined without forwarding). */
  influxStatus(): Promise<{ pending: number; forwarded: number; skipped: number; last_error: string | null } | undefined>;
  stop(): Promise<void>;
}

export async function startCollectorProcess(o: {
  dir: string;
  agents: readonly BenchAgent[];
  influx?: { url: string; database: string };
}): Promise<CollectorProcess> {
  const port = await freePort();
  const config = {
    listen: { host: '127.0.0.1', port },
    data_dir: join(o.dir, 'collector-data'),
    log_level: 'warn',
    ...(o.influx ? { influx: { url: o.influx.url, database: o.influx.database } } : {}),
    agents: o.agents.map((a) => ({ id: a.id, token_sha256: sha256Hex(a.token) })),
  };
  const file = join(o.dir, 'collector.yaml');
  await writeFile(file, stringify(config));
  const child = spawnJishi(['collector', '--config', file]);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    'the collector to answer /healthz',
    async () => {
      if (child.exited()) throw new Error(`the collector exited: ${child.stderr()}`);
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      return res.status === 200;
    },
    60_000,
  ).catch(async (err: unknown) => {
    await child.stop();
    throw new Error(`${(err as Error).message}\n${child.stderr()}`);
  });
  return {
    url,
    child,
    async influxStatus() {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(10_000) });
      const body = (await res.json()) as { influx?: { pending: number; forwarded: number; skipped: number; last_error: string | null } };
      return body.influx;
    },
    stop: () => child.stop(30_000),
  };
}
