/**
 * Forwards readings, the engine's results and agent health from the store to InfluxDB (1.x, or 2.x/3.x through
 * an InfluxSink), in insertion order, from durable cursors; and, as they change, the live state of every
 * instrument and the registry (instrument_live, instrument_info: current values, not history).
 *
 * The store is the system of record: the cursor (`influx` by default) advances only after InfluxDB accepted a
 * write, so an InfluxDB outage loses nothing; the forwarder retries with capped exponential backoff and
 * catches up in order. InfluxDB writes are idempotent (same series and time overwrite), so a batch re-sent after
 * a crash between write and cursor update is harmless. A point InfluxDB rejects as malformed (HTTP 400) is
 * isolated, logged, counted in `skipped` and passed over, so one bad reading cannot stall forwarding.
 */
import type { IPoint } from 'influx';
import { sleep, systemClock, type Clock, type TimerHandle } from '../../common/clock.ts';
import { silentLogger, type Logger } from '../../common/log.ts';
import type { Store } from '../store/store.ts';
import type { InstrumentState } from '../engine/types.ts';
import { agentReportPoint, deleteTargets, infoPoint, livePoint, readingToPoint, resultToPoint, type InfoSource } from './points.ts';
import { createInfluxV1Sink, type InfluxSink } from './sink.ts';

/** instrument_live is written again after this long without a change, so last() over a 5 min range finds it. */
export const LIVE_REFRESH_MS = 5 * 60_000;

export const DEFAULT_FORWARDER_CURSOR = 'influx';

export interface InfluxForwarderOptions {
  store: Store;
  /** Where to write; default an InfluxDB 1.x sink from url/database/username/password. */
  sink?: InfluxSink;
  /** InfluxDB 1.x base URL, e.g. `http://127.0.0.1:8086` (a URL without a port means 80/443); without `sink`. */
  url?: string;
  database?: string;
  username?: string;
  password?: string;
  /** The live state of every instrument now (instrument_live); none when absent. */
  liveStates?: (now: number) => ReadonlyArray<{ instrument_id: string; state: InstrumentState; since: number | null }>;
  /** The registry as instrument_info needs it; none when absent. */
  registry?: () => readonly InfoSource[];
  clock?: Clock;
  logger?: Logger;
  /** Readings per write (default 5000). */
  batchSize?: number;
  /** How long to wait when there is nothing to forward, unless woken (default 1000 ms). */
  intervalMs?: number;
  /** First retry delay after a failure (default 1000 ms), doubling up to retryMaxMs (default 60 000 ms). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** HTTP request timeout (default 10 000 ms). */
  requestTimeoutMs?: number;
  /** Store cursor name (default `influx`). */
  cursorName?: string;
}

export interface ForwarderStatus {
  /** Readings and engine results in the store not yet forwarded. */
  pending: number;
  /** Message of the last failure; null after a success. */
  lastError: string | null;
  /** Collector clock of the last successful write. */
  lastSuccessAt: number | null;
  /** Readings forwarded by this forwarder since it was created (skipped ones excluded). */
  forwarded: number;
  /** Readings InfluxDB rejected as malformed and that were passed over. */
  skipped: number;
}

export interface InfluxForwarder {
  /** Starts the forwarding loop (no-op when running). */
  start(): void;
  /** Stops the loop, waiting for an in-flight write to finish. */
  stop(): Promise<void>;
  /** New readings are in the store: forward now instead of at the next interval (does not cut a retry delay short). */
  wake(): void;
  status(): ForwarderStatus;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message || (err as NodeJS.ErrnoException).code || err.name;
  return String(err);
}

/** Batches of readings written to InfluxDB at the same time while a backlog is worked off. */
const READING_PIPELINE = 4;
/** Batches of readings forwarded in one pass before the results, agent reports and live states get their turn. */
const READING_BATCHES_PER_PASS = 20;

export function createInfluxForwarder(options: InfluxForwarderOptions): InfluxForwarder {
  const { store } = options;
  const clock = options.clock ?? systemClock;
  const log = options.logger ?? silentLogger();
  const batchSize = options.batchSize ?? 5000;
  const intervalMs = options.intervalMs ?? 1000;
  const retryBaseMs = options.retryBaseMs ?? 1000;
  const retryMaxMs = options.retryMaxMs ?? 60_000;
  const cursorName = options.cursorName ?? DEFAULT_FORWARDER_CURSOR;
  const resultsCursor = `${cursorName}:results`;

  const sink =
    options.sink ??
    createInfluxV1Sink({
      url: options.url ?? 'http://127.0.0.1:8086',
      database: options.database ?? 'jishi',
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    });
  const target = sink.target;
  const agentsCursor = `${cursorName}:agents`;
  /** What was last written to instrument_live / instrument_info, to write only changes (and live refreshes). */
  const lastLive = new Map<string, { state: InstrumentState; since: number | null; at: number }>();
  const lastInfo = new Map<string, string>();

  let running = false;
  let loop: Promise<void> | undefined;
  let abort = new AbortController();
  let wakePending = false;
  let wakeIdle: (() => void) | undefined;
  let databaseReady = false;
  let lastError: string | null = null;
  let lastSuccessAt: number | null = null;
  let forwarded = 0;
  let skipped = 0;
  let lastPending = 0;
  let lastCurrentAt: number | undefined;

  const write = (points: IPoint[]): Promise<void> => sink.write(points);

  async function ensureDatabase(): Promise<void> {
    if (databaseReady) return;
    await sink.ensureReady();
    databaseReady = true;
  }

  /** Writes the points; when InfluxDB rejects the batch, writes them one by one and passes over the bad ones. */
  async function writeIsolating(points: { id: number; point: IPoint }[]): Promise<number> {
    try {
      await write(points.map((p) => p.point));
      return 0;
    } catch (err) {
      if (!sink.isRejected(err)) throw err;
      log.warn({ target, err: describe(err) }, 'InfluxDB rejected a batch; writing its points one by one');
    }
    let bad = 0;
    for (const p of points) {
      try {
        await write([p.point]);
      } catch (err) {
        if (!sink.isRejected(err)) throw err;
        bad++;
        log.error({ target, reading_id: p.id, err: describe(err) }, 'InfluxDB rejected a reading; it stays in the store only');
      }
    }
    return bad;
  }

  /**
   * Forwards one batch of the engine's results (states, sessions, daily rollups) in log order; a `delete` entry
   * (a recompute removed rows) becomes DELETE statements, run after the points logged before it.
   * Returns true when more are waiting.
   */
  async function forwardResults(): Promise<boolean> {
    const entries = store.engine.resultsAfter(store.getCursor(resultsCursor), batchSize);
    if (entries.length === 0) return false;
    let points: { id: number; point: IPoint }[] = [];
    const flush = async (): Promise<void> => {
      if (points.length === 0) return;
      const bad = await writeIsolating(points);
      forwarded += points.length - bad;
      skipped += bad;
      points = [];
    };
    for (const entry of entries) {
      const point = resultToPoint(entry);
      if (point) {
        points.push({ id: entry.id, point });
        continue;
      }
      await flush();
      for (const d of deleteTargets(entry)) {
        if (!(await sink.deleteFrom(d.measurement, entry.instrument_id, d.fromMs))) {
          log.warn(
            { target, instrument: entry.instrument_id, measurement: d.measurement, from: d.fromMs },
            'this InfluxDB cannot delete points: rebuilt states or sessions may leave stale points there (the store is right)',
          );
        }
      }
    }
    await flush();
    store.setCursor(resultsCursor, entries[entries.length - 1]!.id);
    lastSuccessAt = clock.now();
    return entries.length === batchSize;
  }

  /** Forwards one batch of readings, one of results and one of agent reports, and what changed of live states and the registry; true when more are waiting. */
  async function forwardOnce(): Promise<boolean> {
    await ensureDatabase();
    const moreReadings = await forwardReadings();
    const moreResults = await forwardResults();
    const moreReports = await forwardAgentReports();
    const more = moreReadings || moreResults || moreReports;
    // Live states and the registry: after every drain, and at most once per interval while a backlog is worked
    // off (each pass reads every instrument's live state and registry entry).
    const now = clock.now();
    if (!more || lastCurrentAt === undefined || now - lastCurrentAt >= intervalMs) {
      await forwardCurrent();
      lastCurrentAt = now;
    }
    return more;
  }

  async function forwardAgentReports(): Promise<boolean> {
    const reports = store.agentReportsAfter(store.getCursor(agentsCursor), batchSize);
    if (reports.length === 0) return false;
    const bad = await writeIsolating(reports.map((r) => ({ id: r.id, point: agentReportPoint(r) })));
    store.setCursor(agentsCursor, reports[reports.length - 1]!.id);
    skipped += bad;
    lastSuccessAt = clock.now();
    return reports.length === batchSize;
  }

  /** instrument_live and instrument_info: the changed ones, and live states not written for LIVE_REFRESH_MS. */
  async function forwardCurrent(): Promise<void> {
    const now = clock.now();
    const points: { id: number; point: IPoint }[] = [];
    const liveWritten: Array<[string, { state: InstrumentState; since: number | null; at: number }]> = [];
    for (const l of options.liveStates?.(now) ?? []) {
      const prev = lastLive.get(l.instrument_id);
      if (prev && prev.state === l.state && prev.since === l.since && now - prev.at < LIVE_REFRESH_MS) continue;
      points.push({ id: -1, point: livePoint(l.instrument_id, l.state, l.since, now) });
      liveWritten.push([l.instrument_id, { state: l.state, since: l.since, at: now }]);
    }
    const infoWritten: Array<[string, string]> = [];
    for (const i of options.registry?.() ?? []) {
      const key = JSON.stringify(i);
      if (lastInfo.get(i.id) === key) continue;
      points.push({ id: -1, point: infoPoint(i, now) });
      infoWritten.push([i.id, key]);
    }
    if (points.length === 0) return;
    await writeIsolating(points);
    for (const [id, v] of liveWritten) lastLive.set(id, v);
    for (const [id, key] of infoWritten) lastInfo.set(id, key);
  }

  /**
   * Forwards readings in batches, READING_PIPELINE of them in flight at a time: as soon as the oldest write is
   * done the next batch is read and encoded, so InfluxDB always has writes to work on while a backlog drains (and
   * the collector reads the next batch while InfluxDB writes). At most READING_BATCHES_PER_PASS batches per call,
   * so results, agent reports and live states get their turn. The cursor moves past a batch only when it and every
   * batch before it are written; after a failure the later batches are written again (InfluxDB keeps one point per
   * series and time, so a point written twice is stored once). True when more are waiting.
   */
  async function forwardReadings(): Promise<boolean> {
    let cursor = store.getCursor(cursorName);
    const writes: Array<{ last: number; points: number; empty: number; done: Promise<number> }> = [];
    let more = true;
    let started = 0;
    const startNext = (): void => {
      const readings = store.readingsAfter(cursor, batchSize);
      more = readings.length === batchSize;
      if (readings.length === 0) return;
      const points: { id: number; point: IPoint }[] = [];
      let empty = 0;
      for (const r of readings) {
        const { point, dropped } = readingToPoint(r);
        if (dropped.length > 0) {
          log.warn({ reading_id: r.id, instrument_id: r.instrument_id, fields: dropped }, 'reading fields with reserved names not forwarded');
        }
        if (point) points.push({ id: r.id, point });
        else empty++;
      }
      cursor = readings[readings.length - 1]!.id;
      const done = points.length > 0 ? writeIsolating(points) : Promise.resolve(0);
      done.catch(() => undefined); // awaited below, in order
      writes.push({ last: cursor, points: points.length, empty, done });
      started++;
    };
    // Stopped: no new batch (stop() waits for the writes in flight, not for the rest of the pass).
    const canStart = (): boolean => running && more && started < READING_BATCHES_PER_PASS && writes.length < READING_PIPELINE;
    while (canStart()) startNext();
    while (writes.length > 0) {
      const w = writes.shift()!;
      let bad: number;
      try {
        bad = await w.done;
      } catch (err) {
        // The cursor stays after the last batch written before this one. The later writes are let finish first,
        // so that the retry never has more than READING_PIPELINE writes in flight.
        await Promise.allSettled(writes.map((x) => x.done));
        throw err;
      }
      store.setCursor(cursorName, w.last);
      forwarded += w.points - bad;
      skipped += bad + w.empty;
      lastSuccessAt = clock.now();
      log.debug({ target, points: w.points - bad, cursor: w.last }, 'forwarded readings');
      while (canStart()) startNext();
    }
    return more;
  }

  /** Waits `ms`, or less when woken or stopped. */
  function idle(ms: number): Promise<void> {
    // Stopped during the pass: an abort listener added now would never fire (the signal has fired already).
    if (abort.signal.aborted) return Promise.resolve();
    if (wakePending) {
      wakePending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let handle: TimerHandle | undefined;
      const done = (): void => {
        if (handle !== undefined) clock.clearTimeout(handle);
        abort.signal.removeEventListener('abort', done);
        wakeIdle = undefined;
        resolve();
      };
      handle = clock.setTimeout(done, ms);
      abort.signal.addEventListener('abort', done, { once: true });
      wakeIdle = done;
    });
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (running) {
      try {
        const more = await forwardOnce();
        if (failures > 0) log.info({ target, failures }, 'InfluxDB reachable again; forwarding resumed');
        failures = 0;
        lastError = null;
        if (!more) await idle(intervalMs);
      } catch (err) {
        if (!running) break;
        failures++;
        databaseReady = false; // the server may have come back empty: check the database again
        lastError = describe(err);
        const delay = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.min(failures - 1, 30));
        const message = 'forwarding to InfluxDB failed; readings stay in the store and will be retried';
        if (failures === 1) log.warn({ target, err: lastError, retry_in_ms: delay }, message);
        else log.debug({ target, err: lastError, failures, retry_in_ms: delay }, message);
        try {
          await sleep(clock, delay, abort.signal);
        } catch {
          break; // stopped
        }
      }
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      abort = new AbortController();
      loop = run().catch((err: unknown) => {
        log.error({ err }, 'InfluxDB forwarder stopped by an unexpected error');
        running = false;
      });
      log.info({ target }, 'InfluxDB forwarder started');
    },
    async stop() {
      if (!running) {
        await loop;
        return;
      }
      running = false;
      abort.abort(new Error('forwarder stopped'));
      await loop;
      loop = undefined;
      log.info({ target, forwarded }, 'InfluxDB forwarder stopped');
    },
    wake() {
      if (wakeIdle) wakeIdle();
      else wakePending = true;
    },
    status() {
      try {
        lastPending = store.pendingCount(cursorName) + store.engine.pendingResults(resultsCursor) + store.pendingAgentReports(agentsCursor);
      } catch {
        // Store closed or failing: report the last count we had.
      }
      return { pending: lastPending, lastError, lastSuccessAt, forwarded, skipped };
    },
  };
}
