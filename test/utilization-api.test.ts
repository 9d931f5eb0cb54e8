/**
 * GET /api/v1/utilization and /api/v1/sessions on a hand-computed day, through the real ingest route:
 * an instrument commissioned on 2025-07-01, used once that morning.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock.ts';
import { silentLogger } from '../common/log.ts';
import { WIRE_VERSION, type Sample } from '../common/wire.ts';
import { buildApp, type CollectorApp } from '../collector/app.ts';
import { sha256Hex } from '../collector/auth.ts';
import { EngineRunner } from '../collector/engine-runner.ts';
import { resolveParams } from '../collector/engine/params.ts';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';

const TZ = 'Asia/Shanghai';
/** Shanghai wall time on a July 2025 day -> ms (UTC+8, no DST). */
const sh = (day: number, h: number, m = 0) => Date.UTC(2025, 6, day, h - 8, m);
const TOKEN = 'utilization-test-token';

/**
 * 2025-07-01, one sample a minute from 09:00 to 13:00: standby 09:00-10:00 (150 W), active 10:00-12:00
 * (450 W), standby 12:00-12:10, off from 12:10. Nothing after 13:00.
 */
function day1(): Sample[] {
  const out: Sample[] = [];
  for (let t = sh(1, 9); t <= sh(1, 13); t += 60_000) {
    const w = t < sh(1, 10) ? 150 : t < sh(1, 12) ? 450 : t < sh(1, 12, 10) ? 150 : 0;
    out.push({ instrument_id: 'FCM-1', ts: t, readings: { power_w: w } });
  }
  return out;
}

describe('utilization API', () => {
  const clock = new ManualClock(sh(2, 12)); // 2025-07-02 12:00
  const store = openSqliteStore(':memory:');
  let app: CollectorApp;

  beforeAll(async () => {
    store.upsertAgent('lab-pc-1', sha256Hex(TOKEN));
    const params = resolveParams({ off_w: 20, active_w: 300 }); // dwell 30 s, merge 15 min, warm-up 30, post 15
    const engine = new EngineRunner({ store: store.engine, params: () => params, timeZone: TZ, clock, logger: silentLogger() });
    app = buildApp({
      store,
      clock,
      engine,
      registry: [{ id: 'FCM-1', name: '流式细胞仪', rated_hours: 1400, commissioned: '2025-07-01' }],
    });
    const samples = day1();
    for (let k = 0; k < samples.length; k += 60) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/ingest',
        headers: { authorization: `Bearer ${TOKEN}` },
        payload: { wire_version: WIRE_VERSION, agent_id: 'lab-pc-1', batch_id: `b${k}`, seq: k, sent_at: clock.now(), samples: samples.slice(k, k + 60) },
      });
      expect(res.statusCode).toBe(200);
    }
  });
  afterAll(async () => {
    await app.close();
    store.close();
  });

  it('gives the hand-computed hours, coverage, rated hours and utilization rate per day', async () => {
    const res = await app.inject({ url: '/api/v1/utilization?from=2025-06-30&to=2025-07-02&group=day&instrument=FCM-1' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.time_zone).toBe(TZ);
    const [jun30, jul1, jul2] = body.instruments[0].periods;
    // Before commissioning: no rated hours, and the day does not count against coverage.
    expect(jun30).toMatchObject({ period: '2025-06-30', rated_h: 0, days_in_service: 0, effective_h: 0, utilization_rate: null });
    // 2025-07-01: known from 09:00 to 13:15 (the last sample holds for max_gap, 15 min), unknown otherwise.
    expect(jul1.period_h).toBe(24);
    expect(jul1.standby_h).toBeCloseTo(70 / 60, 9); // 09:00-10:00 and 12:00-12:10
    expect(jul1.active_h).toBeCloseTo(2, 9); // 10:00-12:00
    expect(jul1.off_h).toBeCloseTo(65 / 60, 9); // 12:10-13:15
    expect(jul1.unknown_h).toBeCloseTo(24 - 255 / 60, 9);
    expect(jul1.powered_on_h).toBeCloseTo(190 / 60, 9);
    // One session: 30 min of warm-up (capped), 2 h active, 10 min post-processing = 2 h 40 min.
    expect(jul1.effective_h).toBeCloseTo(160 / 60, 9);
    expect(jul1.sessions).toBe(1);
    expect(jul1.coverage).toBeCloseTo(255 / 60 / 24, 9);
    expect(jul1.rated_h).toBeCloseTo(1400 / 365, 9);
    expect(jul1.utilization_rate).toBeCloseTo(160 / 60 / (1400 / 365), 9);
    // 2025-07-02 until now (12:00): nothing known.
    expect(jul2).toMatchObject({ period: '2025-07-02', period_h: 12, unknown_h: 12, effective_h: 0, coverage: 0 });
  });

  it('sums a month up to today: rated hours for the elapsed days in service only', async () => {
    const res = await app.inject({ url: '/api/v1/utilization?from=2025-07-01&to=2025-07-31&group=month' });
    const [july] = res.json().instruments[0].periods;
    expect(july).toMatchObject({ period: '2025-07', from: '2025-07-01', to: '2025-07-31', sessions: 1, days_in_service: 2 });
    expect(july.rated_h).toBeCloseTo((1400 * 2) / 365, 9);
    expect(july.effective_h).toBeCloseTo(160 / 60, 9);
    expect(july.utilization_rate).toBeCloseTo(160 / 60 / ((1400 * 2) / 365), 9);
    // Known 4 h 15 min of 36 elapsed in-service hours.
    expect(july.coverage).toBeCloseTo(4.25 / 36, 9);
    // 1 and 2 July 2025 are a Tuesday and a Wednesday: 2 working days of 7 opening hours.
    expect(july).toMatchObject({ working_days: 2, opening_h: 14 });
    expect(july.opening_utilization_rate).toBeCloseTo(160 / 60 / 14, 9);
  });

  it('lists the session with its evidence', async () => {
    const res = await app.inject({ url: '/api/v1/sessions?from=2025-07-01&to=2025-07-01' });
    expect(res.statusCode).toBe(200);
    expect(res.json().sessions).toEqual([
      {
        instrument_id: 'FCM-1',
        start: sh(1, 9, 30),
        end: sh(1, 12, 10),
        duration_s: 9600,
        active_s: 7200,
        warmup_s: 1800,
        post_s: 600,
        energy_kwh: expect.closeTo(0.15 * 0.5 + 0.45 * 2 + 0.15 / 6, 6),
      },
    ]);
  });

  it('never shows an open session ending after now', async () => {
    // SEQ-1 runs from 11:00 on 2 July; at 12:00 (now) its session is still open.
    const samples: Sample[] = [];
    for (let t = sh(2, 11); t <= sh(2, 11, 59); t += 60_000) samples.push({ instrument_id: 'SEQ-1', ts: t, readings: { power_w: 450 } });
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/ingest',
      headers: { authorization: `Bearer ${TOKEN}` },
      payload: { wire_version: WIRE_VERSION, agent_id: 'lab-pc-1', batch_id: 'seq', seq: 999, sent_at: clock.now(), samples },
    });
    expect(res.statusCode).toBe(200);
    const sessions = (await app.inject({ url: '/api/v1/sessions?from=2025-07-02&to=2025-07-02&instrument=SEQ-1' })).json().sessions;
    expect(sessions).toHaveLength(1);
    expect(sessions[0].start).toBe(sh(2, 11));
    expect(sessions[0].end).toBe(clock.now());
    expect(sessions[0].active_s).toBe(3600);
  });

  it('answers bad queries with stable error codes', async () => {
    const bad = async (url: string) => {
      const res = await app.inject({ url });
      return [res.statusCode, res.json().code];
    };
    expect(await bad('/api/v1/utilization?group=week')).toEqual([400, 'JISHI_ERR_VALIDATION']);
    expect(await bad('/api/v1/utilization?from=2025-13-01')).toEqual([400, 'JISHI_ERR_VALIDATION']);
    expect(await bad('/api/v1/utilization?from=2025-07-02&to=2025-07-01')).toEqual([400, 'JISHI_ERR_VALIDATION']);
    expect(await bad('/api/v1/utilization?instrument=NOPE')).toEqual([404, 'JISHI_ERR_NOT_FOUND']);
    expect(await bad('/api/v1/sessions?colour=red')).toEqual([400, 'JISHI_ERR_VALIDATION']);
    expect(await bad('/api/v1/utilization?from=2025-02-30')).toEqual([400, 'JISHI_ERR_VALIDATION']);
  });
});
