/**
 * The durable outbox on real files in a temporary directory: batches, restarts (in-process reopen and a child
 * process killed with SIGKILL), the quota, the sync modes (where the data is on disk, and the fsyncs a child
 * process makes, seen through strace when it is available), and files it must refuse to open.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock.ts';
import type { Sample } from '../common/wire.ts';
import { OutboxError, outboxFile, SAMPLE_OVERHEAD_BYTES, SqliteOutbox, type SqliteOutboxOptions } from '../agent/sqlite-outbox.ts';
import { capture } from './helpers/log-capture.ts';
import { requireOrSkip } from './helpers/influxd.ts';

const T0 = Date.UTC(2025, 4, 6, 9, 0, 0);
const MODULE = fileURLToPath(new URL('../agent/sqlite-outbox.ts', import.meta.url));

let dir: string;
let n = 0;
const open: SqliteOutbox[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jishi-outbox-'));
});
afterEach(() => {
  for (const o of open.splice(0)) o.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A new file path in the temporary directory. */
function freshPath(): string {
  return join(dir, `outbox-${++n}.sqlite`);
}

function sample(i: number, extra: Partial<Sample> = {}): Sample {
  return { instrument_id: 'FCM-1', ts: T0 + i * 1000, readings: { power_w: i }, ...extra };
}

function samples(count: number, from = 0): Sample[] {
  return Array.from({ length: count }, (_, i) => sample(from + i));
}

/** What the quota counts for a sample. */
const size = (s: Sample): number => Buffer.byteLength(JSON.stringify(s)) + SAMPLE_OVERHEAD_BYTES;

function outbox(path: string, options: Partial<SqliteOutboxOptions> = {}): SqliteOutbox {
  const o = new SqliteOutbox({ path, agentId: 'lab-pc-1', bootId: 'boot1', maxBytes: 1e9, firstSeq: 100, clock: new ManualClock(T0), ...options });
  open.push(o);
  return o;
}

function close(o: SqliteOutbox): void {
  open.splice(open.indexOf(o), 1);
  o.close();
}

const power = (list: readonly Sample[]) => list.map((s) => s.readings.power_w);

/** Runs `code` (an ES module body with `SqliteOutbox` imported) in a child node process; resolves with its result. */
function child(code: string, env: Record<string, string> = {}, wrap: string[] = []) {
  const script = `import { SqliteOutbox } from ${JSON.stringify(MODULE)};\n${code}`;
  const [cmd, ...pre] = wrap.length > 0 ? wrap : [process.execPath];
  const args = [...pre, ...(wrap.length > 0 ? [process.execPath] : []), '--import', 'tsx', '--input-type=module', '-e', script];
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve, reject) => {
    const p = spawn(cmd!, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('SqliteOutbox: batches', () => {
  it('cuts batches with stable ids, resends the pending one whatever max is, and deletes samples only on ack', () => {
    const path = freshPath();
    const o = outbox(path);
    expect(o.nextBatch(10)).toBeUndefined();
    o.append(samples(5));
    expect(o.stats()).toMatchObject({ depth: 5, droppedSamples: 0, oldestTs: T0, bytes: samples(5).reduce((a, s) => a + size(s), 0) });

    const b1 = o.nextBatch(2)!;
    expect(b1).toMatchObject({ id: 'lab-pc-1-boot1-100', seq: 100 });
    expect(power(b1.samples)).toEqual([0, 1]);
    expect(o.nextBatch(500)).toEqual(b1); // the pending batch, unchanged
    expect(o.stats()).toMatchObject({ depth: 5, inFlightBatch: b1.id });

    o.ack('somebody-else-1'); // unknown ids are ignored
    expect(o.stats().depth).toBe(5);
    o.ack(b1.id);
    expect(o.stats()).toMatchObject({ depth: 3, oldestTs: T0 + 2000 });
    expect(o.stats().inFlightBatch).toBeUndefined();

    const b2 = o.nextBatch(500)!;
    expect(b2).toMatchObject({ id: 'lab-pc-1-boot1-101', seq: 101 });
    expect(power(b2.samples)).toEqual([2, 3, 4]);
    o.discard(b2.id);
    expect(o.stats()).toMatchObject({ depth: 0, bytes: 0 });
    expect(o.stats().oldestTs).toBeUndefined();
    expect(o.nextBatch(500)).toBeUndefined();
  });

  it('keeps the samples exactly (status, error, non-ASCII, float values)', () => {
    const o = outbox(freshPath());
    const odd: Sample[] = [
      { instrument_id: 'SEQ-2021-003', ts: T0, readings: { power_w: Math.fround(452.1), energy_kwh: 1234.5678901234 }, status: '运行 RUN' },
      { instrument_id: 'SEQ-2021-003', ts: T0 + 1, readings: {}, error: 'JISHI_ERR_DEVICE_TIMEOUT' },
    ];
    o.append(odd);
    expect(o.nextBatch(10)!.samples).toEqual(odd);
    expect(o.stats().bytes).toBe(size(odd[0]!) + size(odd[1]!));
  });

  it('after a reopen: the same batch (id, seq, samples) is in flight, and seq continues', () => {
    const path = freshPath();
    const first = outbox(path);
    first.append(samples(6));
    const b1 = first.nextBatch(4)!;
    close(first);

    const second = outbox(path, { bootId: 'boot2' });
    expect(second.stats()).toMatchObject({ depth: 6, inFlightBatch: b1.id });
    expect(second.inFlight()).toEqual(b1);
    expect(second.nextBatch(1)).toEqual(b1);
    second.ack(b1.id);
    const b2 = second.nextBatch(10)!;
    expect(b2).toMatchObject({ id: 'lab-pc-1-boot2-101', seq: 101 });
    expect(power(b2.samples)).toEqual([4, 5]);
    second.ack(b2.id);
    close(second);

    // an empty outbox still remembers its seq
    const third = outbox(path, { bootId: 'boot3' });
    third.append(samples(1, 6));
    expect(third.nextBatch(10)).toMatchObject({ id: 'lab-pc-1-boot3-102', seq: 102 });
  });

  it('a new file starts seq at the clock (ms), so seq keeps rising when a state_dir is wiped', () => {
    const o = new SqliteOutbox({ path: freshPath(), agentId: 'a', bootId: 'b', maxBytes: 1e9, clock: new ManualClock(T0) });
    open.push(o);
    o.append(samples(1));
    expect(o.nextBatch(1)!.seq).toBe(T0);
  });

  it.each(['interval', 'always'] as const)('sync %s: a process killed with SIGKILL loses nothing it appended; the batch in flight survives', async (sync) => {
    const path = freshPath();
    const r = await child(
      `const o = new SqliteOutbox({ path: process.env.OUTBOX, agentId: 'lab-pc-1', bootId: 'crashed', sync: process.env.SYNC, syncIntervalMs: 60000, maxBytes: 1e9, firstSeq: 7 });
       const T0 = ${T0};
       for (let i = 0; i < 50; i++) o.append([{ instrument_id: 'FCM-1', ts: T0 + i * 1000, readings: { power_w: i } }]);
       const b = o.nextBatch(20);
       o.append([{ instrument_id: 'FCM-1', ts: T0 + 50000, readings: { power_w: 50 } }]);
       process.stdout.write(JSON.stringify({ id: b.id, n: b.samples.length }));
       process.kill(process.pid, 'SIGKILL');`,
      { OUTBOX: path, SYNC: sync },
    );
    expect(r.signal, r.stderr).toBe('SIGKILL');
    expect(JSON.parse(r.stdout)).toEqual({ id: 'lab-pc-1-crashed-7', n: 20 });
    expect(existsSync(`${path}-wal`)).toBe(true); // not checkpointed: the WAL is recovered at open

    const o = outbox(path, { bootId: 'after' });
    expect(o.stats()).toMatchObject({ depth: 51, inFlightBatch: 'lab-pc-1-crashed-7' });
    expect(power(o.queuedSamples())).toEqual(Array.from({ length: 51 }, (_, i) => i));
    const again = o.nextBatch(500)!;
    expect(again).toMatchObject({ id: 'lab-pc-1-crashed-7', seq: 7 });
    expect(power(again.samples)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    o.ack(again.id);
    expect(o.nextBatch(500)).toMatchObject({ id: 'lab-pc-1-after-8', seq: 8 });
  });
});

describe('SqliteOutbox: quota', () => {
  it('drops the oldest unsent samples first, keeps the batch in flight, counts drops in the file and logs once', () => {
    const path = freshPath();
    const { logger, lines } = capture();
    const one = size(sample(10)); // samples 10..99 have the same size
    const o = outbox(path, { maxBytes: 10 * one, logger });
    o.append(samples(10, 10));
    const inFlight = o.nextBatch(3)!;
    expect(power(inFlight.samples)).toEqual([10, 11, 12]);

    o.append(samples(4, 20));
    expect(o.stats()).toMatchObject({ depth: 10, droppedSamples: 4, bytes: 10 * one });
    o.append(samples(5, 24));
    expect(o.stats()).toMatchObject({ depth: 10, droppedSamples: 9 });
    // the batch in flight, then the newest: 13..16 and 17, 18 ... went first
    expect(power(o.queuedSamples())).toEqual([10, 11, 12, 22, 23, 24, 25, 26, 27, 28]);
    expect(o.nextBatch(100)).toEqual(inFlight);
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ droppedSamples: 4, droppedTotal: 4, maxBytes: 10 * one, droppedFrom: T0 + 13_000, droppedTo: T0 + 16_000 });
    expect(String(warnings[0]!.msg)).toMatch(/^outbox full: dropping the oldest unsent samples/);

    o.ack(inFlight.id);
    expect(lines.some((l) => l.level === 30 && String(l.msg).startsWith('outbox below its quota again after dropping 9'))).toBe(true);
    close(o);
    expect(outbox(path).stats()).toMatchObject({ depth: 7, droppedSamples: 9 }); // the count survives a restart
  });

  it('max_samples bounds the count too; the batch in flight loses its oldest samples only when nothing else can go', () => {
    const path = freshPath();
    const first = outbox(path);
    first.append(samples(5));
    const b = first.nextBatch(5)!;
    close(first);

    // reopened with a smaller quota than the batch in flight
    const o = outbox(path, { maxSamples: 3 });
    o.append(samples(1, 5));
    expect(o.stats()).toMatchObject({ depth: 3, droppedSamples: 3, inFlightBatch: b.id });
    const shrunk = o.nextBatch(10)!;
    expect(shrunk).toMatchObject({ id: b.id, seq: b.seq });
    expect(power(shrunk.samples)).toEqual([2, 3, 4]);
    o.ack(b.id);
    expect(o.stats().depth).toBe(0);
  });

  it('a batch whose every sample was dropped is forgotten', () => {
    const path = freshPath();
    const first = outbox(path);
    first.append([sample(0, { status: 'x'.repeat(100) }), sample(1, { status: 'x'.repeat(100) })]);
    const b = first.nextBatch(2)!;
    close(first);
    // reopened with a quota smaller than one sample of the batch in flight
    const o = outbox(path, { maxBytes: 150 });
    o.append([sample(2)]);
    expect(o.stats()).toMatchObject({ depth: 0, droppedSamples: 3, bytes: 0 });
    expect(o.stats().inFlightBatch).toBeUndefined();
    o.append([sample(3)]);
    const next = o.nextBatch(10)!;
    expect(next).toMatchObject({ id: 'lab-pc-1-boot1-101', seq: 101 });
    expect(next.id).not.toBe(b.id);
    expect(power(next.samples)).toEqual([3]);
  });

  it('the file stays close to the counted bytes, and shrinks again once the queue is acked', () => {
    const path = freshPath();
    const o = outbox(path);
    const readings = { voltage_v: 229.8000030517578, current_a: 2.109999895095825, power_w: 452.1000061035156, energy_kwh: 1234.56005859375 };
    for (let i = 0; i < 20; i++) o.append(Array.from({ length: 1000 }, (_, j) => ({ instrument_id: 'FCM-2019-001', ts: T0 + i * 1000 + j, readings })));
    o.sync();
    const { bytes } = o.stats();
    const fileSize = statSync(path).size;
    expect(fileSize).toBeGreaterThan(bytes * 0.8);
    expect(fileSize).toBeLessThan(bytes * 1.25 + 64 * 1024);
    for (let b = o.nextBatch(5000); b; b = o.nextBatch(5000)) o.ack(b.id);
    close(o);
    expect(statSync(path).size).toBeLessThan(fileSize / 2);
  });
});

describe('SqliteOutbox: sync modes', () => {
  const marker = (i: number) => `marker-${i}-${'x'.repeat(20)}`;
  const inFile = (file: string, text: string) => existsSync(file) && readFileSync(file).includes(text);

  it('interval: a commit reaches the database file (checkpoint, fsync) within the sync interval, not before', () => {
    const path = freshPath();
    const clock = new ManualClock(T0);
    const o = outbox(path, { clock, sync: 'interval', syncIntervalMs: 1000 });
    clock.advance(5000);
    o.append([sample(1, { status: marker(1) })]);
    expect(inFile(`${path}-wal`, marker(1))).toBe(true);
    expect(inFile(path, marker(1))).toBe(false);
    // the first commit after a quiet period is synced on the next timer turn
    clock.advance(0);
    expect(inFile(path, marker(1))).toBe(true);
    expect(o.stats().lastSyncAt).toBe(T0 + 5000);

    o.append([sample(2, { status: marker(2) })]);
    clock.advance(999);
    expect(inFile(path, marker(2))).toBe(false);
    o.append([sample(3, { status: marker(3) })]); // no second timer: one sync covers both
    clock.advance(1);
    expect(inFile(path, marker(2)) && inFile(path, marker(3))).toBe(true);
    expect(o.stats().lastSyncAt).toBe(T0 + 6000);
  });

  it('always: no timer; the data is in the WAL, fsynced by the commit itself', () => {
    const path = freshPath();
    const clock = new ManualClock(T0);
    const o = outbox(path, { clock, sync: 'always' });
    o.append([sample(1, { status: marker(9) })]);
    expect(inFile(`${path}-wal`, marker(9))).toBe(true);
    clock.advance(60_000);
    expect(inFile(path, marker(9))).toBe(false); // left to SQLite's auto-checkpoint: the WAL is durable
    close(o);
    expect(inFile(path, marker(9))).toBe(true); // close checkpoints
  });

  // strace counts the fsync calls; .ci/run installs it, and under CI=true a missing strace fails instead of skipping.
  const strace = spawnSync('strace', ['-f', '-o', '/dev/null', 'true']).status === 0;
  it.skipIf(requireOrSkip('strace', strace))('fsyncs as configured: every append with always, none per append with interval, one per batch formed', async () => {
    const script = `
      const o = new SqliteOutbox({ path: process.env.OUTBOX, agentId: 'a', bootId: 'b', sync: process.env.SYNC, syncIntervalMs: 60000, maxBytes: 1e9 });
      const { writeSync } = await import('node:fs');
      writeSync(2, 'APPEND-START\\n');
      for (let i = 0; i < 20; i++) o.append([{ instrument_id: 'X', ts: i, readings: { power_w: i } }]);
      writeSync(2, 'APPEND-END\\n');
      o.nextBatch(5);
      writeSync(2, 'BATCH-END\\n');
      process.kill(process.pid, 'SIGKILL');`;
    const fsyncs = async (sync: string) => {
      const trace = join(dir, `strace-${sync}.txt`);
      await child(script, { OUTBOX: freshPath(), SYNC: sync }, ['strace', '-f', '-e', 'trace=fsync,fdatasync,write', '-o', trace]);
      const lines = readFileSync(trace, 'utf8').split('\n');
      const at = (m: string) => lines.findIndex((l) => l.includes(m));
      const count = (from: number, to: number) => lines.slice(from, to).filter((l) => /\b(fsync|fdatasync)\(/.test(l)).length;
      return { appends: count(at('APPEND-START'), at('APPEND-END')), batch: count(at('APPEND-END'), at('BATCH-END')) };
    };
    const always = await fsyncs('always');
    expect(always.appends).toBeGreaterThanOrEqual(20);
    expect(always.batch).toBeGreaterThanOrEqual(1);
    const interval = await fsyncs('interval');
    expect(interval.appends).toBe(0);
    expect(interval.batch).toBeGreaterThanOrEqual(1);
  });
});

describe('SqliteOutbox: files it must not use', () => {
  const refuse = (path: string, options: Partial<SqliteOutboxOptions> = {}): OutboxError => {
    try {
      outbox(path, options);
    } catch (err) {
      expect(err).toBeInstanceOf(OutboxError);
      expect((err as OutboxError).file).toBe(path);
      expect((err as Error).message.startsWith(`outbox ${path}: `)).toBe(true);
      return err as OutboxError;
    }
    throw new Error('expected an OutboxError');
  };

  it('a file that is not a database: a clear error naming it, and the file is left untouched', () => {
    const path = freshPath();
    const junk = Buffer.from('this is not a database, it is a lab notebook\n'.repeat(200));
    writeFileSync(path, junk);
    expect(refuse(path).message).toMatch(/is not a SQLite database .*left as it is/);
    expect(readFileSync(path).equals(junk)).toBe(true);
  });

  it('another SQLite file, e.g. the collector store', () => {
    const path = freshPath();
    const db = new Database(path);
    db.exec('CREATE TABLE readings (id INTEGER PRIMARY KEY)');
    db.close();
    expect(refuse(path).message).toMatch(/is a SQLite database but not a jishi agent outbox/);
  });

  it('a damaged outbox (overwritten pages) fails at open, not mid-run', () => {
    const path = freshPath();
    const o = outbox(path);
    for (let i = 0; i < 10; i++) o.append(samples(500, i * 500));
    close(o);
    const bytes = readFileSync(path);
    expect(bytes.length).toBeGreaterThan(20 * 4096);
    bytes.fill(0x5a, 8 * 4096, 12 * 4096);
    writeFileSync(path, bytes);
    expect(refuse(path).message).toMatch(/is damaged/);
  });

  it('an outbox from a newer version', () => {
    const path = freshPath();
    close(outbox(path));
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    expect(refuse(path).message).toMatch(/newer jishi \(outbox schema 99/);
  });

  it('a file another process holds: "in use", and the holder keeps working', () => {
    const path = freshPath();
    const holder = outbox(path);
    holder.append(samples(1));
    expect(refuse(path, { busyTimeoutMs: 50 }).message).toMatch(/in use by another process/);
    holder.append(samples(1, 1));
    expect(holder.stats().depth).toBe(2);
  });

  it('a missing or empty file is a new outbox, logged as such', () => {
    const path = freshPath();
    writeFileSync(path, '');
    const { logger, lines } = capture();
    outbox(path, { logger });
    expect(lines.some((l) => l.msg === 'created a new outbox' && l.outbox === path)).toBe(true);
  });

  it('names files by agent id, safe on every file system', () => {
    expect(outboxFile('/var/lib/jishi', 'lab-pc-1')).toBe(join('/var/lib/jishi', 'outbox-lab-pc-1.sqlite'));
    expect(outboxFile('/var/lib/jishi', 'site:lab.pc_1')).toBe(join('/var/lib/jishi', 'outbox-site%3Alab.pc_1.sqlite'));
  });

  it('a closed outbox refuses further use', () => {
    const o = outbox(freshPath());
    close(o);
    expect(() => o.append(samples(1))).toThrow(/is closed/);
    o.close(); // idempotent
  });
});
