/** `jishi recompute` and `jishi calibrate` as real processes on a collector data directory. */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sample } from '../common/wire.ts';
import { LOCK_FILE } from '../collector/store/lock.ts';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';
import { batch } from './helpers/batches.ts';

const BIN = fileURLToPath(new URL('../bin/jishi.mjs', import.meta.url));
const jishi = (args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

// 2025-03-10 in Shanghai, 10 s samples: off 2 h, standby (~150 W) 2 h, active (~450 W) 3 h, standby 1 h, off 2 h.
const START = Date.UTC(2025, 2, 10, 0, 0, 0);
function trace(): Sample[] {
  const plan: Array<[number, number]> = [[2, 0], [2, 150], [3, 450], [1, 150], [2, 0]];
  const out: Sample[] = [];
  let t = START;
  let k = 0;
  for (const [hours, w] of plan) {
    for (let i = 0; i < hours * 360; i++, t += 10_000, k++) {
      const noise = w === 0 ? 0 : ((k * 7919) % 21) - 10;
      out.push({ instrument_id: 'FCM-1', ts: t, readings: { power_w: w + noise } });
    }
  }
  return out;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jishi-cli-engine-'));
  // A store filled by ingest alone, as after an upgrade: readings, no derived results yet.
  const store = openSqliteStore(join(dir, 'jishi.sqlite'));
  const samples = trace();
  for (let k = 0; k < samples.length; k += 500) store.ingest(batch(`b${k}`, samples.slice(k, k + 500)), START);
  store.close();
  await writeFile(join(dir, 'collector.yaml'), `data_dir: .\ninstruments:\n  - { id: FCM-1, off_w: 20, active_w: 300 }\n`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('jishi recompute', () => {
  it('derives states, sessions and rollups from stored readings, idempotently', () => {
    const first = jishi(['recompute', '--config', join(dir, 'collector.yaml')]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/FCM-1: 3,600 readings replayed from the first reading/);
    const read = () => {
      const store = openSqliteStore(join(dir, 'jishi.sqlite'));
      try {
        return {
          intervals: store.engine.intervals('FCM-1', 0, Number.MAX_SAFE_INTEGER),
          sessions: store.engine.sessions(['FCM-1'], 0, Number.MAX_SAFE_INTEGER),
        };
      } finally {
        store.close();
      }
    };
    const once = read();
    expect(once.intervals.map((i) => i.state)).toEqual(['off', 'standby', 'active', 'standby']);
    // warm-up 30 min + 3 h active + 15 min post-processing
    expect(once.sessions.map((s) => (s.end - s.start) / 1000)).toEqual([1800 + 3 * 3600 + 900]);
    const again = jishi(['recompute', '--config', join(dir, 'collector.yaml'), '--from', '2025-03-10', '--instrument', 'FCM-1']);
    expect(again.code, again.stderr).toBe(0);
    expect(read()).toEqual(once);
  });

  it('rebuilds from the first reading when the thresholds changed, even with --from', async () => {
    // With active at 500 W the ~450 W run is standby: no active time, no session.
    const stricter = join(dir, 'stricter.yaml');
    await writeFile(stricter, `data_dir: .\ninstruments:\n  - { id: FCM-1, off_w: 20, active_w: 500 }\n`);
    const r = jishi(['recompute', '--config', stricter, '--from', '2025-03-10']);
    expect(r.code, r.stderr).toBe(0);
    const store = openSqliteStore(join(dir, 'jishi.sqlite'));
    try {
      expect(store.engine.intervals('FCM-1', 0, Number.MAX_SAFE_INTEGER).map((i) => i.state)).toEqual(['off', 'standby']);
      expect(store.engine.sessions(['FCM-1'], 0, Number.MAX_SAFE_INTEGER)).toEqual([]);
    } finally {
      store.close();
    }
    // And back: the original thresholds give the original result again.
    expect(jishi(['recompute', '--config', join(dir, 'collector.yaml'), '--from', '2025-03-10']).code).toBe(0);
  });

  it('refuses to run while a live process holds the data directory, and names unknown instruments', async () => {
    await writeFile(join(dir, LOCK_FILE), `${process.pid}\n`);
    try {
      const r = jishi(['recompute', '--data', dir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`in use by process ${process.pid}`);
    } finally {
      await rm(join(dir, LOCK_FILE));
    }
    const unknown = jishi(['recompute', '--data', dir, '--instrument', 'NOPE']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no readings for instrument NOPE \(known: FCM-1\)/);
  });
});

describe('jishi calibrate', () => {
  it('proposes thresholds between the observed levels and shows the histogram', () => {
    const r = jishi(['calibrate', 'FCM-1', '--data', dir, '--from', '2025-03-10', '--to', '2025-03-10']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/3,600 power readings from 2025-03-10 to 2025-03-10/);
    expect(r.stdout).toContain('<- off_w');
    expect(r.stdout).toContain('<- active_w');
    const off = Number(/off_w: (\d+(\.\d+)?)\n/.exec(r.stdout)?.[1]);
    const active = Number(/active_w: (\d+(\.\d+)?)\n/.exec(r.stdout)?.[1]);
    expect(off).toBeGreaterThan(5);
    expect(off).toBeLessThan(140);
    expect(active).toBeGreaterThan(160);
    expect(active).toBeLessThan(440);
    const json = JSON.parse(jishi(['calibrate', 'FCM-1', '--data', dir, '--from', '2025-03-10', '--to', '2025-03-10', '--json']).stdout);
    expect(json.proposal).toEqual({ off_w: off, active_w: active });
    expect(json.clusters.map((c: { label: string }) => c.label)).toEqual(['off', 'standby', 'active']);
  });
});
