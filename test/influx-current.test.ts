/**
 * The forwarder's agent_health, instrument_live and instrument_info measurements against a real influxd:
 * agent reports follow a durable cursor like readings; live states and the registry are written when they
 * change (and live states again after LIVE_REFRESH_MS).
 */
import { InfluxDB } from 'influx';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock.ts';
import type { AgentStatusReport } from '../common/wire.ts';
import type { InstrumentState } from '../collector/engine/types.ts';
import { createInfluxForwarder, LIVE_REFRESH_MS, type InfluxForwarder } from '../collector/influx/forwarder.ts';
import type { InfoSource } from '../collector/influx/points.ts';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';
import type { Store } from '../collector/store/store.ts';
import { batch, T0 } from './helpers/batches.ts';
import { influxdAvailable, requireOrSkip, startInfluxd, type RunningInfluxd } from './helpers/influxd.ts';
import { until } from './helpers/wait.ts';

const STATUS: AgentStatusReport = {
  started_at: T0 - 3_600_000,
  outbox_depth: 12,
  outbox_oldest_ts: T0 - 30_000,
  dropped_samples: 0,
  lost_samples: 1,
  device_errors: 7,
  failing_instruments: ['PCR-2'],
  uplink_failures: 2,
};

describe.skipIf(requireOrSkip('influxd', influxdAvailable()))('forwarder: agent health, live states and registry in a real influxd', () => {
  let influxd: RunningInfluxd;
  let client: InfluxDB;
  let store: Store;
  let forwarder: InfluxForwarder | undefined;
  beforeAll(async () => {
    influxd = await startInfluxd();
    client = new InfluxDB({ host: '127.0.0.1', port: influxd.port });
  });
  afterEach(async () => {
    await forwarder?.stop();
    store?.close();
  });
  afterAll(async () => {
    await influxd?.stop();
  });

  const rows = async (q: string, database: string) => [...((await client.query(q, { database })) as unknown as Array<Record<string, unknown>>)];

  it('writes one agent_health point per accepted batch, with the status fields when the batch had them', async () => {
    store = openSqliteStore(':memory:');
    const sample = { instrument_id: 'FCM-1', ts: T0, readings: { power_w: 1 } };
    store.ingest({ ...batch('a1', [sample], { sentAt: T0 - 2000 }), agent_status: STATUS }, T0, { clockOffsetMs: 0 });
    store.ingest(batch('a2', [sample, { ...sample, ts: T0 + 1000 }], { seq: 2, sentAt: T0 + 5000 }), T0 + 5500, { clockOffsetMs: 600_000 });
    store.ingest(batch('a2', [sample], { seq: 2 }), T0 + 6000); // a duplicate: no report
    forwarder = createInfluxForwarder({ store, url: influxd.url, database: 'health', intervalMs: 50, retryBaseMs: 50 });
    forwarder.start();
    await until('two agent_health points', async () => (await rows('SELECT * FROM agent_health', 'health').catch(() => [])).length === 2);
    const [first, second] = await rows('SELECT * FROM agent_health ORDER BY time ASC', 'health');
    expect((first!.time as Date).getTime()).toBe(T0);
    expect(first).toMatchObject({
      agent_id: 'lab-pc-1',
      samples: 1,
      delay_s: 2,
      clock_offset_s: 0,
      outbox_depth: 12,
      outbox_oldest_age_s: 28,
      dropped_samples: 0,
      lost_samples: 1,
      device_errors: 7,
      failing_instruments: 1,
      uplink_failures: 2,
    });
    expect(second).toMatchObject({ samples: 2, delay_s: 0.5, clock_offset_s: 600, outbox_depth: null, device_errors: null });
    await until('the backlog to drain', () => forwarder!.status().pending === 0);
  });

  it('writes instrument_live on a change and again after the refresh time, and instrument_info when the registry changes', async () => {
    store = openSqliteStore(':memory:');
    const clock = new ManualClock(T0);
    let live: Array<{ instrument_id: string; state: InstrumentState; since: number | null }> = [
      { instrument_id: 'FCM-1', state: 'active', since: T0 - 60_000 },
      { instrument_id: 'XRD-2', state: 'unknown', since: null },
    ];
    let registry: InfoSource[] = [{ id: 'FCM-1', name: '流式细胞仪', lab: '细胞平台', owner_unit: '生命科学学院', rated_hours: 1400, original_value_cny: 1_850_000 }];
    forwarder = createInfluxForwarder({ store, url: influxd.url, database: 'live', clock, intervalMs: 50, retryBaseMs: 50, liveStates: () => live, registry: () => registry });
    forwarder.start();
    const liveRows = () => rows('SELECT * FROM instrument_live ORDER BY time ASC', 'live').catch(() => []);
    await until('two live points', async () => (await liveRows()).length === 2);
    expect(await liveRows()).toEqual([
      expect.objectContaining({ instrument_id: 'FCM-1', state: 'active', state_code: 2, since_s: 60 }),
      expect.objectContaining({ instrument_id: 'XRD-2', state: 'unknown', state_code: 4, since_s: 0 }),
    ]);
    const info = await rows('SELECT * FROM instrument_info', 'live');
    expect(info).toEqual([
      expect.objectContaining({ instrument_id: 'FCM-1', name: '流式细胞仪', lab: '细胞平台', owner_unit: '生命科学学院', rated_hours: 1400, original_value_cny: 1_850_000, shared: true }),
    ]);
    const tags = (await client.query('SHOW TAG VALUES FROM instrument_info WITH KEY = "lab"', { database: 'live' })) as unknown as Array<{ value: string }>;
    expect(tags.map((t) => t.value)).toEqual(['细胞平台']);

    // No change: nothing new, whatever the forwarder's loop does meanwhile.
    clock.advance(1000);
    forwarder.wake();
    await new Promise((r) => setTimeout(r, 300));
    expect(await liveRows()).toHaveLength(2);
    // A change of one instrument: one point; the registry gains an entry (no lab: tag '-').
    live = [{ ...live[0]!, state: 'standby', since: T0 + 1000 }, live[1]!];
    registry = [...registry, { id: 'XRD-2', rated_hours: 800 }];
    forwarder.wake();
    await until('the standby point', async () => (await liveRows()).length === 3);
    expect((await liveRows())[2]).toMatchObject({ instrument_id: 'FCM-1', state: 'standby', state_code: 1 });
    await until('XRD-2 info', async () => (await rows('SELECT * FROM instrument_info', 'live')).length === 2);
    expect((await rows("SELECT * FROM instrument_info WHERE instrument_id = 'XRD-2'", 'live'))[0]).toMatchObject({ name: 'XRD-2', lab: '-', owner_unit: '-', rated_hours: 800 });
    // After LIVE_REFRESH_MS both are written again, unchanged.
    clock.advance(LIVE_REFRESH_MS);
    forwarder.wake();
    await until('the refresh', async () => (await liveRows()).length === 5);
  });
});
