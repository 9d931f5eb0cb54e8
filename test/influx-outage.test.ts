/**
 * InfluxDB down while readings keep coming: the collector acknowledges every batch (the store is the system of
 * record), /healthz shows the backlog and the error, and when the same influxd comes back every reading reaches
 * it, in order, exactly once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfluxDB } from 'influx';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../common/log.ts';
import { INGEST_PATH, WIRE_VERSION, type Sample } from '../common/wire.ts';
import { sha256Hex } from '../collector/auth.ts';
import { collectorConfigFromObject } from '../collector/config.ts';
import { startCollector } from '../collector/server.ts';
import { influxdAvailable, requireOrSkip, startInfluxd } from './helpers/influxd.ts';
import { until } from './helpers/wait.ts';

const TOKEN = 'jishi_outage-test-token';

interface Health {
  influx: { pending: number; last_error: string | null; forwarded: number };
}

describe.skipIf(requireOrSkip('influxd', influxdAvailable()))('InfluxDB outage', () => {
  it('keeps every reading in the store while InfluxDB is down and forwards all of them, in order, when it is back', async () => {
    const influxd = await startInfluxd();
    const dir = await mkdtemp(join(tmpdir(), 'jishi-outage-'));
    const collector = await startCollector(
      collectorConfigFromObject(
        {
          listen: { port: 0 },
          data_dir: dir,
          influx: { url: influxd.url, database: 'jishi_outage' },
          agents: [{ id: 'lab-pc-1', token_sha256: sha256Hex(TOKEN) }],
        },
        'outage-test',
      ),
      { logger: silentLogger() },
    );
    const client = new InfluxDB({ host: '127.0.0.1', port: influxd.port, database: 'jishi_outage' });
    const health = async (): Promise<Health> => (await (await fetch(`${collector.url}/healthz`)).json()) as Health;
    let seq = 0;
    let t = Date.now() - 600_000;
    const send = async (n: number): Promise<void> => {
      const samples: Sample[] = [];
      for (let i = 0; i < n; i++, t += 1000) samples.push({ instrument_id: 'FCM-1', ts: t, readings: { power_w: 100 + (seq % 7) } });
      seq++;
      const res = await fetch(`${collector.url}${INGEST_PATH}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ wire_version: WIRE_VERSION, agent_id: 'lab-pc-1', batch_id: `b${seq}`, seq, sent_at: Date.now(), samples }),
      });
      expect(res.status).toBe(200);
    };
    try {
      await send(10);
      await until('the first batch forwarded', async () => (await health()).influx.pending === 0 && (await health()).influx.forwarded >= 10);

      await influxd.halt(); // the outage
      for (let k = 0; k < 20; k++) await send(25);
      const during = await until('the backlog to show', async () => {
        const h = await health();
        return h.influx.pending > 0 && h.influx.last_error !== null ? h : undefined;
      });
      expect(during.influx.pending).toBeGreaterThanOrEqual(1);

      await influxd.restart(); // the same server, the same data, back again
      await until('the backlog to drain', async () => (await health()).influx.pending === 0, 60_000);
      const after = await health();
      expect(after.influx.last_error).toBeNull();

      const rows = await client.query<{ time: Date }>(`SELECT power_w FROM reading WHERE instrument_id = 'FCM-1' ORDER BY time`);
      const stored = collector.store.readingsAfter(0, 10_000);
      expect(stored).toHaveLength(10 + 20 * 25);
      expect(rows.map((r) => r.time.getTime())).toEqual(stored.map((r) => r.ts));
    } finally {
      await collector.close();
      await influxd.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
