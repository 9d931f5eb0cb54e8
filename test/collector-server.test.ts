import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { INGEST_PATH, INSTRUMENTS_PATH, WIRE_VERSION, type InstrumentList } from '../common/wire.ts';
import { silentLogger } from '../common/log.ts';
import { sha256Hex } from '../collector/auth.ts';
import { collectorConfigFromObject } from '../collector/config.ts';
import { startCollector, type RunningCollector } from '../collector/server.ts';
import { influxdAvailable, requireOrSkip, startInfluxd } from './helpers/influxd.ts';

const dir = mkdtempSync(join(tmpdir(), 'jishi-collector-server-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = 'jishi_server-test-token';
const T0 = Date.UTC(2025, 2, 3, 8, 0, 0);

function config(extra: Record<string, unknown> = {}, agents = [{ id: 'lab-pc-1', token_sha256: sha256Hex(TOKEN) }]) {
  return collectorConfigFromObject({ listen: { port: 0 }, data_dir: 'data', agents, ...extra }, 'test', { baseDir: dir });
}

async function post(c: RunningCollector, batchId: string, ts: number) {
  return fetch(`${c.url}${INGEST_PATH}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      wire_version: WIRE_VERSION,
      agent_id: 'lab-pc-1',
      batch_id: batchId,
      seq: 1,
      // Old readings delivered now by an agent whose clock is right: no clock correction.
      sent_at: Date.now(),
      samples: [{ instrument_id: 'FCM-1', ts, readings: { power_w: 450 } }],
    }),
  });
}

describe('startCollector', () => {
  it('listens on a free port, stores in data_dir, and keeps the data across restarts', async () => {
    const first = await startCollector(config(), { logger: silentLogger() });
    try {
      expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(first.url).not.toMatch(/:8080$/);
      const res = await post(first, 'b1', Date.now());
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ batch_id: 'b1', accepted: 1, duplicate: false });
    } finally {
      await first.close();
      await first.close(); // twice is fine
    }

    // Restarted without the agent in the config: its token no longer works, the data is still there.
    const second = await startCollector(config({}, []), { logger: silentLogger() });
    try {
      expect((await post(second, 'b2', Date.now())).status).toBe(401);
      const list = (await (await fetch(`${second.url}${INSTRUMENTS_PATH}`)).json()) as InstrumentList;
      expect(list.instruments.map((i) => [i.id, i.state])).toEqual([['FCM-1', 'active']]);
    } finally {
      await second.close();
    }
  });

  describe.skipIf(requireOrSkip('influxd', influxdAvailable()))('with InfluxDB', () => {
    it('forwards what it ingests, woken by the ingest', async () => {
      const influxd = await startInfluxd();
      const c = await startCollector(config({ data_dir: 'data-influx', influx: { url: influxd.url, database: 'jishi_server' }, limits: { max_past_days: 3650 } }), {
        logger: silentLogger(),
      });
      try {
        expect((await post(c, 'b1', T0)).status).toBe(200);
        const deadline = Date.now() + 10_000;
        // Readings first, then the batch's agent_health point: wait for both.
        while ((c.forwarder!.status().forwarded < 1 || c.forwarder!.status().pending > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(c.forwarder!.status()).toMatchObject({ forwarded: 1, pending: 0 });
        const health = (await (await fetch(`${c.url}/healthz`)).json()) as { influx: unknown };
        expect(health.influx).toMatchObject({ pending: 0, forwarded: 1, last_error: null });
        const res = await fetch(`${influxd.url}/query?db=jishi_server&epoch=ms&q=${encodeURIComponent('SELECT power_w FROM reading')}`);
        expect(((await res.json()) as { results: { series: { values: unknown[] }[] }[] }).results[0]!.series[0]!.values).toEqual([[T0, 450]]);
      } finally {
        await c.close();
        await influxd.stop();
      }
    });
  });
});
