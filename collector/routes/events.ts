/**
 * The web console's live feed.
 *
 *   GET /api/v1/board    one board snapshot as JSON (what the event stream sends, for scripts and checks)
 *   GET /api/v1/events   text/event-stream of board snapshots:
 *                          event: snapshot   on connect, then after ingests (at most one a second), and on the
 *                                            periodic tick when something changed (live states age into
 *                                            `unknown` without any ingest)
 *                          event: heartbeat  on the periodic tick when nothing changed ({"server_time": ms})
 *
 * A snapshot is every instrument as GET /api/v1/instruments shows it plus its effective hours today, every agent
 * as GET /api/v1/agents shows it, and the live-state changes since the previous snapshot. Ingests are noticed
 * through an onResponse hook on POST /api/v1/ingest (after the batch was stored and the engine ran), so the
 * ingest route knows nothing of the console. Streams end when the client goes away and when the app closes.
 * Readable without a token, like /instruments.
 */
import type { ServerResponse } from 'node:http';
import type { Clock } from '../../common/clock.ts';
import { JishiError } from '../../common/errors.ts';
import { API_PREFIX, INGEST_PATH, type InstrumentState, type InstrumentView } from '../../common/wire.ts';
import type { CollectorApp } from '../app.ts';
import type { EngineRunner } from '../engine-runner.ts';
import { localDay } from '../engine/time-zone.ts';
import type { AgentView } from '../store/store.ts';
import { instrumentViews } from './instruments.ts';

export const EVENTS_PATH = `${API_PREFIX}/events`;
export const BOARD_PATH = `${API_PREFIX}/board`;

/** Periodic tick: a snapshot when something changed, else a heartbeat (ms). */
export const DEFAULT_HEARTBEAT_MS = 15_000;
/** Snapshots caused by ingests are at least this far apart (ms). */
export const DEFAULT_MIN_INTERVAL_MS = 1_000;
/** Open streams allowed at once; more are answered 503. */
export const DEFAULT_MAX_STREAMS = 200;
/** Unsent bytes a stream may hold before it is dropped (a client that stopped reading). */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** A browser reconnects after this long when a stream drops (ms, the SSE `retry` field). */
const RETRY_MS = 3_000;

export interface BoardInstrument extends InstrumentView {
  /** Effective working hours of the collector's local day so far. */
  effective_today_h: number;
}

export interface BoardAgent extends AgentView {
  /** Seconds since its latest batch; null before the first. */
  silent_s: number | null;
}

export interface BoardChange {
  instrument_id: string;
  from: InstrumentState;
  to: InstrumentState;
  /** When the new state began (ms), or the snapshot time when unknown. */
  at: number;
}

export interface BoardSnapshot {
  server_time: number;
  time_zone: string;
  /** The collector's local day (YYYY-MM-DD). */
  today: string;
  instruments: BoardInstrument[];
  agents: BoardAgent[];
  /** Live-state changes since the previous snapshot sent on the stream (empty in the first and in GET /board). */
  changes: BoardChange[];
}

export interface EventsRouteOptions {
  clock: Clock;
  engine: EngineRunner;
  instruments: ReadonlyArray<{ id: string; name?: string }>;
  heartbeatMs?: number;
  minIntervalMs?: number;
  maxStreams?: number;
}

/** Builds one board snapshot (without changes). */
export function boardSnapshot(app: CollectorApp, o: Pick<EventsRouteOptions, 'clock' | 'engine' | 'instruments'>): BoardSnapshot {
  const now = o.clock.now();
  const tz = o.engine.timeZone;
  const today = localDay(now, tz);
  const effectiveToday = (id: string): number => {
    const rollup = o.engine.rollups(id, today, today, now)[0];
    return rollup === undefined ? 0 : rollup.effective_s / 3600;
  };
  const instruments = instrumentViews(app, o.engine, o.instruments, now).map(
    (v): BoardInstrument => ({ ...v, effective_today_h: effectiveToday(v.id) }),
  );
  const agents = app.store.listAgents().map((a) => ({ ...a, silent_s: a.last_batch_at === null ? null : (now - a.last_batch_at) / 1000 }));
  return { server_time: now, time_zone: tz, today, instruments, agents, changes: [] };
}

/** What decides whether a tick has news: everything but the clock-driven fields. */
function contentKey(s: BoardSnapshot): string {
  return JSON.stringify({
    instruments: s.instruments.map((i) => [i.id, i.state, i.state_since, i.last_seen, Math.round(i.effective_today_h * 3600)]),
    agents: s.agents.map((a) => [a.id, a.last_batch_at, a.status]),
  });
}

export function registerEventsRoutes(app: CollectorApp, options: EventsRouteOptions): void {
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const minIntervalMs = options.minIntervalMs ?? DEFAULT_MIN_INTERVAL_MS;
  const maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS;
  const streams = new Set<ServerResponse>();
  let lastStates = new Map<string, InstrumentState>();
  let lastKey = '';
  let lastSentAt = 0;
  let pending: ReturnType<typeof setTimeout> | undefined;
  let ticker: ReturnType<typeof setInterval> | undefined;
  let closed = false;

  const write = (res: ServerResponse, event: string, data: unknown): void => {
    if (res.writableEnded || res.destroyed) return;
    // A client that stopped reading is dropped rather than buffered for; its browser reconnects.
    if (res.writableLength > MAX_BUFFERED_BYTES) {
      res.destroy();
      return;
    }
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };

  /** A snapshot with the changes since the previous broadcast; remembers it as the new baseline. */
  const nextSnapshot = (): BoardSnapshot => {
    const snap = boardSnapshot(app, options);
    const states = new Map(snap.instruments.map((i) => [i.id, i.state]));
    for (const i of snap.instruments) {
      const before = lastStates.get(i.id);
      if (before !== undefined && before !== i.state) {
        snap.changes.push({ instrument_id: i.id, from: before, to: i.state, at: i.state_since ?? snap.server_time });
      }
    }
    lastStates = states;
    return snap;
  };

  const broadcast = (force: boolean): void => {
    if (streams.size === 0 || closed) return;
    let snap: BoardSnapshot;
    try {
      snap = nextSnapshot();
    } catch (err) {
      app.log.error({ err }, 'web console: cannot build the board snapshot');
      return;
    }
    const key = contentKey(snap);
    const news = key !== lastKey || snap.changes.length > 0;
    lastKey = key;
    lastSentAt = options.clock.now();
    for (const res of streams) {
      if (force || news) write(res, 'snapshot', snap);
      else write(res, 'heartbeat', { server_time: snap.server_time });
    }
  };

  /** After an ingest: soon, but at most one snapshot per minIntervalMs. */
  const schedule = (): void => {
    if (pending !== undefined || streams.size === 0 || closed) return;
    const wait = Math.max(50, lastSentAt + minIntervalMs - options.clock.now());
    pending = setTimeout(() => {
      pending = undefined;
      broadcast(false);
    }, wait);
    pending.unref();
  };

  const stopTicker = (): void => {
    if (ticker !== undefined) clearInterval(ticker);
    ticker = undefined;
    if (pending !== undefined) clearTimeout(pending);
    pending = undefined;
  };

  app.addHook('onResponse', async (request, reply) => {
    if (request.method === 'POST' && request.routeOptions.url === INGEST_PATH && reply.statusCode === 200) schedule();
  });

  // Open streams would keep the HTTP server from closing: end them first.
  app.addHook('preClose', async () => {
    closed = true;
    stopTicker();
    for (const res of streams) res.end();
    streams.clear();
  });

  app.get(BOARD_PATH, { schema: { summary: 'The web console board: instruments with effective hours today, agents', tags: ['live'] } }, async () =>
    boardSnapshot(app, options),
  );

  app.get(EVENTS_PATH, {
    schema: {
      summary: 'Live board snapshots as server-sent events (text/event-stream)',
      description: 'event: snapshot (as GET /api/v1/board, plus the state changes since the previous one) on connect and after ingests; event: heartbeat every 15 s when nothing changed.',
      tags: ['live'],
    },
  }, async (request, reply) => {
    // HEAD (Fastify answers it with this handler): the headers only, never an open stream.
    if (request.method === 'HEAD') return reply.type('text/event-stream; charset=utf-8').header('cache-control', 'no-cache').send();
    if (closed) throw new JishiError('JISHI_ERR_OVERLOADED', 'the collector is shutting down');
    if (streams.size >= maxStreams) {
      throw new JishiError('JISHI_ERR_OVERLOADED', `too many open event streams (${maxStreams}); try again later`);
    }
    const snap = boardSnapshot(app, options);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx and similar proxies: do not buffer the stream.
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    // Long-lived: no socket timeout (heartbeats keep intermediaries from dropping it).
    request.raw.socket.setTimeout(0);
    res.write(`retry: ${RETRY_MS}\n\n`);
    write(res, 'snapshot', snap);
    if (streams.size === 0) {
      // The first stream sets the baseline for change detection.
      lastStates = new Map(snap.instruments.map((i) => [i.id, i.state]));
      lastKey = contentKey(snap);
    }
    streams.add(res);
    if (ticker === undefined) {
      ticker = setInterval(() => broadcast(false), heartbeatMs);
      ticker.unref();
    }
    const done = (): void => {
      streams.delete(res);
      if (streams.size === 0) stopTicker();
    };
    request.raw.on('close', done);
    res.on('close', done);
    res.on('error', done);
  });
}
