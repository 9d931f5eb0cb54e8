/**
 * The engine's results reach a real InfluxDB with the documented schema (instrument_state, instrument_session,
 * instrument_daily), and a recompute (late readings) leaves InfluxDB equal to the store again.
 */
import { InfluxDB } from 'influx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock.ts';
import { silentLogger } from '../common/log.ts';
import type { Sample } from '../common/wire.ts';
import { EngineRunner } from '../collector/engine-runner.ts';
import { resolveParams } from '../collector/engine/params.ts';
import { createInfluxForwarder } from '../collector/influx/forwarder.ts';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';
import { batch } from './helpers/batches.ts';
import { influxdAvailable, requireOrSkip, startInfluxd, type RunningInfluxd } from './helpers/influxd.ts';
import { until } from './helpers/wait.ts';

const TZ = 'Asia/Shanghai';
const START = Date.UTC(2025, 2, 3, 15, 0, 0); // 23:00 in Shanghai
const params = resolveParams({ off_w: 20, active_w: 300, min_dwell_s: 0, merge_gap_s: 300, warmup_max_s: 600, post_max_s: 300, max_gap_s: 120 });

/** 10 s samples: 20 min off, 30 min standby, 40 min active, 20 min standby, 30 min off (crosses midnight). */
function trace(): Sample[] {
  const plan: Array<[number, number]> = [[120, 0], [180, 150], [240, 450], [120, 150], [180, 0]];
  const out: Sample[] = [];
  let t = START;
  for (const [n, w] of plan) {
    for (let i = 0; i < n; i++, t += 10_000) out.push({ instrument_id: 'FCM-1', ts: t, readings: { power_w: w } });
  }
  return out;
}

describe.skipIf(requireOrSkip('influxd', influxdAvailable()))('engine results in InfluxDB', () => {
  let influxd: RunningInfluxd;
  beforeAll(async () => {
    influxd = await startInfluxd();
  });
  afterAll(async () => {
    await influxd?.stop();
  });

  it('writes states, sessions and daily rollups, and keeps InfluxDB equal to the store after a recompute', async () => {
    const samples = trace();
    const clock = new ManualClock(samples[samples.length - 1]!.ts + 10_000);
    const store = openSqliteStore(':memory:');
    const runner = new EngineRunner({ store: store.engine, params: () => params, timeZone: TZ, clock, logger: silentLogger() });
    // Deliver everything except a late batch in the active period.
    const lateFrom = 320;
    const late = samples.slice(lateFrom, lateFrom + 60).map((s) => ({ ...s, readings: { power_w: 0 } }));
    const onTime = [...samples.slice(0, lateFrom), ...samples.slice(lateFrom + 60)];
    for (let k = 0; k < onTime.length; k += 50) {
      const chunk = onTime.slice(k, k + 50);
      store.ingest(batch(`b${k}`, chunk), clock.now());
      runner.ingest(chunk);
    }

    const db = 'jishi_results';
    const client = new InfluxDB({ host: '127.0.0.1', port: influxd.port, database: db });
    const forwarder = createInfluxForwarder({ store, url: influxd.url, database: db, logger: silentLogger(), intervalMs: 20 });
    forwarder.start();
    try {
      const compare = async () => {
        await until('forwarder drained', () => forwarder.status().pending === 0, 15_000).catch((e: Error) => { throw new Error(`${e.message}: ${JSON.stringify(forwarder.status())}`); });
        const states = await client.query<{ time: Date; state: string; duration_s: number }>(
          `SELECT duration_s, "state" FROM instrument_state WHERE instrument_id = 'FCM-1' ORDER BY time`,
        );
        const stored = store.engine.intervals('FCM-1', 0, Number.MAX_SAFE_INTEGER);
        expect(states.map((p) => [p.time.getTime(), p.state, p.duration_s])).toEqual(
          stored.map((i) => [i.start, i.state, (i.end - i.start) / 1000]),
        );
        const sessions = await client.query<{ time: Date; duration_s: number; active_s: number }>(
          `SELECT duration_s, active_s FROM instrument_session WHERE instrument_id = 'FCM-1' ORDER BY time`,
        );
        const storedSessions = store.engine.sessions(['FCM-1'], 0, Number.MAX_SAFE_INTEGER);
        expect(sessions.map((p) => [p.time.getTime(), p.duration_s, p.active_s])).toEqual(
          storedSessions.map((s) => [s.start, (s.end - s.start) / 1000, s.active_s]),
        );
        return { stored, storedSessions };
      };

      const before = await compare();
      // Without the late batch, a 10-minute hole (longer than max_gap) splits the run: it is unknown, and the
      // first session's active time is held only up to its last sample before the hole.
      expect(before.stored.some((i) => i.state === 'unknown')).toBe(true);
      expect(before.storedSessions.map((s) => s.active_s)).toEqual([190, 1600]);

      // The late batch says the instrument was off in the hole: a recompute from its day replaces the unknown
      // interval by an off one (another tag value at the same time: InfluxDB must drop the old point).
      store.ingest(batch('late', late), clock.now());
      runner.ingest(late);
      const after = await compare();
      expect(after.stored.some((i) => i.state === 'unknown')).toBe(false);
      expect(after.storedSessions.map((s) => s.active_s)).toEqual([200, 1600]);

      // Daily rollups: 2025-03-03 is final and forwarded, at local midnight of its day; before the first
      // sample (23:00) the day is unknown; off: 20 min from 23:00 plus 400 s of the late batch (from 23:53:20).
      const daily = await client.query<{ time: Date; period_s: number; unknown_s: number; off_s: number; effective_s: number }>(
        `SELECT period_s, unknown_s, off_s, effective_s FROM instrument_daily WHERE instrument_id = 'FCM-1' ORDER BY time`,
      );
      expect(daily).toHaveLength(1);
      expect(daily[0]!.time.getTime()).toBe(Date.UTC(2025, 2, 2, 16, 0, 0));
      expect([daily[0]!.period_s, daily[0]!.unknown_s, daily[0]!.off_s]).toEqual([86_400, 82_800, 1600]);
      const fields = await client.query<{ fieldKey: string; fieldType: string }>('SHOW FIELD KEYS FROM instrument_daily');
      expect(new Set(fields.map((f) => f.fieldType))).toEqual(new Set(['float']));
      const tags = await client.query<{ tagKey: string }>('SHOW TAG KEYS FROM instrument_state');
      expect(tags.map((t) => t.tagKey).sort()).toEqual(['instrument_id', 'state']);
    } finally {
      await forwarder.stop();
      store.close();
    }
  });
});
