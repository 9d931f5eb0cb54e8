import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { JishiError } from '../common/errors.ts';
import type { Sample } from '../common/wire.ts';
import { MIGRATIONS } from '../collector/store/migrations.ts';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';
import type { Store } from '../collector/store/store.ts';
import { batch, T0 } from './helpers/batches.ts';

const sample = (ts: number, power: number, extra: Partial<Sample> = {}): Sample => ({
  instrument_id: 'FCM-1',
  ts,
  readings: { power_w: power, energy_kwh: 12.5 },
  ...extra,
});

describe('sqlite store', () => {
  const open: Store[] = [];
  const dirs: string[] = [];
  const mem = (): Store => {
    const s = openSqliteStore(':memory:');
    open.push(s);
    return s;
  };
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('stores a batch and registers its instruments on first sight', () => {
    const store = mem();
    const result = store.ingest(
      batch('b1', [sample(T0, 5), sample(T0 + 1000, 150), { instrument_id: 'SEQ-7', ts: T0, readings: { power_w: 1200, power_l2_w: 3 } }]),
      T0 + 5000,
    );
    expect(result).toEqual({ accepted: 3, duplicate: false });
    // No state: the live state is the utilization engine's (see collector-api.test.ts).
    const views = store.listInstruments();
    expect(views).toEqual([
      {
        id: 'FCM-1',
        agent_id: 'lab-pc-1',
        name: null,
        last_seen: T0 + 1000,
        last_reading: { ts: T0 + 1000, readings: { power_w: 150, energy_kwh: 12.5 } },
      },
      {
        id: 'SEQ-7',
        agent_id: 'lab-pc-1',
        name: null,
        last_seen: T0,
        // power_l2_w is not a column: it round-trips through the extra JSON.
        last_reading: { ts: T0, readings: { power_w: 1200, power_l2_w: 3 } },
      },
    ]);
  });

  it('stores a re-sent batch once and reports it as a duplicate', () => {
    const store = mem();
    const b = batch('b1', [sample(T0, 400)]);
    expect(store.ingest(b, T0).duplicate).toBe(false);
    expect(store.ingest(b, T0 + 10)).toEqual({ accepted: 0, duplicate: true });
    expect(store.readingsAfter(0, 100)).toHaveLength(1);
    // The same batch id from another agent is a different batch.
    expect(store.ingest(batch('b1', [sample(T0 + 1, 400)], { seq: 1, agentId: 'lab-pc-2' }), T0).duplicate).toBe(false);
  });

  it('moves the last reading and agent to newer samples only; late ones are stored', () => {
    const store = mem();
    store.ingest(batch('b1', [sample(T0 + 10_000, 500), sample(T0 + 5_000, 400)]), T0);
    expect(store.listInstruments()[0]).toMatchObject({ last_seen: T0 + 10_000, last_reading: { readings: { power_w: 500 } } });
    // Of two samples at the same time, the later in the batch is the last reading.
    store.ingest(batch('b2', [sample(T0 + 20_000, 1), sample(T0 + 20_000, 2)], { seq: 2 }), T0);
    expect(store.listInstruments()[0]).toMatchObject({ last_seen: T0 + 20_000, last_reading: { readings: { power_w: 2 } } });
    const late = store.ingest(batch('b1', [sample(T0, 1)], { agentId: 'lab-pc-2' }), T0);
    expect(late).toEqual({ accepted: 1, duplicate: false });
    expect(store.listInstruments()[0]).toMatchObject({ agent_id: 'lab-pc-1', last_seen: T0 + 20_000 });
    store.ingest(batch('b2', [sample(T0 + 30_000, 3)], { seq: 2, agentId: 'lab-pc-2' }), T0);
    expect(store.listInstruments()[0]).toMatchObject({ agent_id: 'lab-pc-2', last_seen: T0 + 30_000 });
    expect(store.readingsAfter(0, 10).map((x) => x.ts)).toEqual([T0 + 10_000, T0 + 5_000, T0 + 20_000, T0 + 20_000, T0, T0 + 30_000]);
    // The light lookups agree with listInstruments.
    store.ingest(batch('b3', [{ ...sample(T0, 1), instrument_id: 'AAA-0' }], { seq: 3 }), T0);
    expect(store.instrumentIds()).toEqual(['AAA-0', 'FCM-1']);
    expect(store.instrumentAgent('FCM-1')).toBe('lab-pc-2');
    expect(store.instrumentAgent('AAA-0')).toBe('lab-pc-1');
    expect(store.instrumentAgent('NOPE')).toBeUndefined();
  });

  it('stores every reading column, extra fields, status and error, and reads them back', () => {
    const store = mem();
    const readings = {
      power_w: 1.5, energy_kwh: 2, energy_export_kwh: 3, voltage_v: 230.5, current_a: 0.25, apparent_power_va: 7,
      reactive_power_var: -8, power_factor: 0.9, frequency_hz: 50.01, lamp_hours: 1234, temp_c: -20.5,
    };
    store.ingest(batch('b1', [sample(T0, 0, { readings, status: 'RUN', error: 'JISHI_ERR_X' })]), T0 + 7);
    const [r] = store.readingsAfter(0, 10);
    expect(r).toEqual({ id: 1, instrument_id: 'FCM-1', agent_id: 'lab-pc-1', ts: T0, readings, status: 'RUN', error: 'JISHI_ERR_X', received_at: T0 + 7 });
  });

  it('keeps status and error in the last reading', () => {
    const store = mem();
    store.ingest(batch('b1', [sample(T0, 500, { status: 'ALARM 12' })]), T0);
    expect(store.listInstruments()[0]).toMatchObject({ last_reading: { status: 'ALARM 12' } });
    store.ingest(batch('b2', [{ instrument_id: 'FCM-1', ts: T0 + 1, readings: {}, error: 'JISHI_ERR_DEVICE_TIMEOUT' }], { seq: 2 }), T0);
    expect(store.listInstruments()[0]).toMatchObject({ last_reading: { ts: T0 + 1, readings: {}, error: 'JISHI_ERR_DEVICE_TIMEOUT' } });
  });

  it('reads readings after a cursor in insertion order, with pending counts per cursor', () => {
    const store = mem();
    store.ingest(batch('b1', [sample(T0 + 2, 1), sample(T0 + 1, 2)]), T0 + 100);
    store.ingest(batch('b2', [sample(T0 + 3, 3)], { seq: 2 }), T0 + 200);
    const all = store.readingsAfter(0, 10);
    expect(all.map((r) => r.readings.power_w)).toEqual([1, 2, 3]);
    expect(all.map((r) => r.id)).toEqual([...all.map((r) => r.id)].sort((a, b) => a - b));
    expect(all[0]).toEqual({
      id: all[0]!.id,
      instrument_id: 'FCM-1',
      agent_id: 'lab-pc-1',
      ts: T0 + 2,
      readings: { power_w: 1, energy_kwh: 12.5 },
      received_at: T0 + 100,
    });
    expect(store.readingsAfter(all[0]!.id, 1).map((r) => r.readings.power_w)).toEqual([2]);
    expect(store.getCursor('influx')).toBe(0);
    expect(store.pendingCount('influx')).toBe(3);
    store.setCursor('influx', all[1]!.id);
    expect(store.getCursor('influx')).toBe(all[1]!.id);
    expect(store.pendingCount('influx')).toBe(1);
    expect(store.pendingCount('other')).toBe(3);
  });

  it('counts pending rows exactly after a failed ingest (its ids are rolled back, not skipped)', () => {
    const store = mem();
    store.ingest(batch('b1', [sample(T0, 1), sample(T0 + 1000, 2)]), T0 + 100);
    // The second sample cannot be stored (a ts that is not a whole number of ms): the whole batch is rolled back.
    expect(() => store.ingest(batch('b2', [sample(T0 + 2000, 3), sample(T0 + 2500.5, 4)], { seq: 2 }), T0 + 200)).toThrow();
    store.ingest(batch('b3', [sample(T0 + 3000, 5)], { seq: 3 }), T0 + 300);
    const all = store.readingsAfter(0, 10);
    expect(all.map((r) => r.readings.power_w)).toEqual([1, 2, 5]);
    expect(store.pendingCount('influx')).toBe(3);
    store.setCursor('influx', all[0]!.id);
    expect(store.pendingCount('influx')).toBe(2);
    store.setCursor('influx', all[2]!.id);
    expect(store.pendingCount('influx')).toBe(0);
    expect(store.pendingAgentReports('influx:agents')).toBe(2);
    expect(store.agentReportsAfter(0, 10)).toHaveLength(2);
  });

  it('reports its size, which grows with the readings', () => {
    const store = mem();
    const empty = store.size();
    expect(empty.bytes).toBeGreaterThan(0);
    store.ingest(batch('big', Array.from({ length: 2000 }, (_, i) => sample(T0 + i * 1000, i))), T0 + 1);
    expect(store.size().bytes).toBeGreaterThan(empty.bytes + 2000 * 50);
    expect(store.size().freeBytes).toBeGreaterThanOrEqual(0);
  });

  it("lists the instruments with readings for the engine, from the instruments table", () => {
    const store = mem();
    expect(store.engine.instrumentIds()).toEqual([]);
    store.ingest(batch('b1', [sample(T0, 1), { instrument_id: 'AAA-2', ts: T0, readings: { power_w: 3 } }]), T0 + 100);
    store.ingest(batch('b2', [sample(T0 + 1000, 2)], { seq: 2 }), T0 + 200);
    expect(store.engine.instrumentIds()).toEqual(['AAA-2', 'FCM-1']);
  });

  it('reads back status, error and fields outside the fixed columns', () => {
    const store = mem();
    store.ingest(
      batch('b1', [
        sample(T0, 7, { status: 'RUN', readings: { power_w: 7, power_l2_w: 3, energy_kwh: 1 } }),
        sample(T0 + 1000, 8, { error: 'timeout', readings: {} }),
      ]),
      T0 + 100,
    );
    const [a, b] = store.readingsAfter(0, 10);
    expect(a).toEqual({ id: a!.id, instrument_id: 'FCM-1', agent_id: 'lab-pc-1', ts: T0, readings: { power_w: 7, power_l2_w: 3, energy_kwh: 1 }, status: 'RUN', received_at: T0 + 100 });
    expect(b).toEqual({ id: b!.id, instrument_id: 'FCM-1', agent_id: 'lab-pc-1', ts: T0 + 1000, readings: {}, error: 'timeout', received_at: T0 + 100 });
  });

  it('maps token hashes to agents; a hash belongs to one agent', () => {
    const store = mem();
    const h1 = 'a'.repeat(64);
    const h2 = 'b'.repeat(64);
    store.upsertAgent('lab-pc-1', h1);
    store.upsertAgent('lab-pc-2', h2);
    expect(store.agentForTokenHash(h1)).toBe('lab-pc-1');
    expect(store.agentForTokenHash('A'.repeat(64))).toBe('lab-pc-1');
    store.upsertAgent('lab-pc-1', h2);
    expect(store.agentForTokenHash(h1)).toBeUndefined();
    expect(store.agentForTokenHash(h2)).toBe('lab-pc-1');
    store.upsertAgent('lab-pc-3', h1);
    expect(store.removeAgentsExcept(['lab-pc-3'])).toEqual(['lab-pc-1']);
    expect(store.agentForTokenHash(h2)).toBeUndefined();
    expect(store.agentForTokenHash(h1)).toBe('lab-pc-3');
  });

  it('keeps everything when a file store is reopened', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jishi-store-'));
    dirs.push(dir);
    const path = join(dir, 'jishi.sqlite');
    const first = openSqliteStore(path);
    first.upsertAgent('lab-pc-1', 'c'.repeat(64));
    first.ingest(batch('b1', [sample(T0, 500)]), T0);
    first.setCursor('influx', 1);
    first.close();

    const again = openSqliteStore(path);
    open.push(again);
    expect(again.agentForTokenHash('c'.repeat(64))).toBe('lab-pc-1');
    expect(again.listInstruments()).toHaveLength(1);
    expect(again.readingsAfter(0, 10)).toHaveLength(1);
    expect(again.getCursor('influx')).toBe(1);
    expect(again.ingest(batch('b1', [sample(T0, 500)]), T0).duplicate).toBe(true);
  });

  it('migrates a v2 file: the instruments keep their registration and last reading, not the old state columns', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jishi-store-'));
    dirs.push(dir);
    const path = join(dir, 'jishi.sqlite');
    const v2 = new Database(path);
    for (const sql of MIGRATIONS.slice(0, 2)) v2.exec(sql);
    v2.pragma('user_version = 2');
    v2.exec(`INSERT INTO readings (instrument_id, agent_id, ts, power_w, received_at) VALUES ('FCM-1', 'lab-pc-1', ${T0}, 500, ${T0})`);
    v2.exec(`INSERT INTO instruments (id, agent_id, first_seen, last_seen, last_reading_id, state, state_since)
             VALUES ('FCM-1', 'lab-pc-1', ${T0}, ${T0}, 1, 'active', ${T0})`);
    v2.close();

    const store = openSqliteStore(path);
    open.push(store);
    expect(store.listInstruments()).toEqual([
      { id: 'FCM-1', agent_id: 'lab-pc-1', name: null, last_seen: T0, last_reading: { ts: T0, readings: { power_w: 500 } } },
    ]);
    store.ingest(batch('b1', [sample(T0 + 1000, 10)]), T0);
    expect(store.listInstruments()[0]).toMatchObject({ last_seen: T0 + 1000 });
    store.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    const columns = (db.pragma('table_info(instruments)') as Array<{ name: string }>).map((c) => c.name);
    db.close();
    expect(columns).toEqual(['id', 'agent_id', 'name', 'first_seen', 'last_seen', 'last_reading_id']);
  });

  it('reports a closed store as unavailable', () => {
    const store = openSqliteStore(':memory:');
    store.close();
    expect(() => store.ingest(batch('b1', [sample(T0, 1)]), T0)).toThrowError(JishiError);
    try {
      store.ping();
    } catch (err) {
      expect((err as JishiError).code).toBe('JISHI_ERR_STORE_UNAVAILABLE');
    }
    expect.assertions(2);
  });
});
