/**
 * The agent's local health endpoint (config `health.listen`, default 127.0.0.1:9475), read by
 * `jishi agent status` and by monitoring on the lab PC:
 *
 * - `GET /status`: HealthStatus as JSON (per instrument, outbox, uplink, clock skew);
 * - `GET /healthz`: 200 `{ "status": "ok" }` while the agent runs.
 *
 * No authentication: it shows counters and device addresses, no readings and no token. Keep it on loopback
 * unless the network around the PC is trusted.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import type { AgentStatus } from './agent.ts';
import type { HealthListen } from './config-checks.ts';

export const HEALTH_STATUS_PATH = '/status';
export const HEALTH_HEALTHZ_PATH = '/healthz';

/** The JSON of `GET /status`. Times are ms since the epoch on the agent's clock; null when not known yet. */
export interface HealthStatus {
  agent_id: string;
  boot_id: string;
  started_at: number;
  /** The agent's clock when it answered: ages are relative to it. */
  agent_time: number;
  instruments: Array<{
    id: string;
    target: string;
    running: boolean;
    connected: boolean;
    /** Successful and failed reads since start. */
    reads: number;
    errors: number;
    /** Failed reads since the last successful one. */
    error_streak: number;
    last_reading_at: number | null;
    last_error: { code: string; message: string; at: number } | null;
    reconnects: number;
  }>;
  outbox: {
    /** Samples waiting to be sent. */
    depth: number;
    /** ts of the oldest waiting sample. */
    oldest_ts: number | null;
    dropped_samples: number;
    bytes: number | null;
    /**
     * Samples read but not in the outbox yet: waiting up to 50 ms to be written with overlapping reads, or kept in
     * memory (at most 10,000) while the outbox fails. Above a few, the outbox is failing: see lost_samples.
     */
    unsaved: number;
  };
  /** Samples read but not stored because the outbox failed. */
  lost_samples: number;
  uplink: {
    sent_batches: number;
    sent_samples: number;
    duplicate_batches: number;
    discarded_batches: number;
    discarded_samples: number;
    /** Failed send attempts since the last success. */
    failures: number;
    last_success_at: number | null;
    last_error: { code: string; message: string; at: number; status?: number } | null;
  };
  /** The collector's clock minus the agent's, from the latest ack (`server_time`); null before the first. */
  clock_skew_ms: number | null;
}

/** AgentStatus as the endpoint shows it. */
export function healthStatus(s: AgentStatus, now: number): HealthStatus {
  return {
    agent_id: s.agentId,
    boot_id: s.bootId,
    started_at: s.startedAt,
    agent_time: now,
    instruments: s.instruments.map((i) => ({
      id: i.instrumentId,
      target: i.target,
      running: i.running,
      connected: i.connected,
      reads: i.reads,
      errors: i.errors,
      error_streak: i.errorStreak,
      last_reading_at: i.lastReadingAt ?? null,
      last_error: i.lastError ?? null,
      reconnects: i.reconnects,
    })),
    outbox: {
      depth: s.outbox.depth,
      oldest_ts: s.outbox.oldestTs ?? null,
      dropped_samples: s.outbox.droppedSamples,
      bytes: s.outbox.bytes ?? null,
      unsaved: s.pendingSamples,
    },
    lost_samples: s.lostSamples,
    uplink: {
      sent_batches: s.uplink.sentBatches,
      sent_samples: s.uplink.sentSamples,
      duplicate_batches: s.uplink.duplicateBatches,
      discarded_batches: s.uplink.discardedBatches,
      discarded_samples: s.uplink.discardedSamples,
      failures: s.uplink.failures,
      last_success_at: s.uplink.lastSuccessAt ?? null,
      last_error: s.uplink.lastError ?? null,
    },
    clock_skew_ms: s.uplink.clockSkewMs ?? null,
  };
}

export interface HealthServer {
  /** The address it listens on (the real port when 0 was asked for). */
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface HealthServerOptions {
  listen: HealthListen;
  status: () => AgentStatus;
  clock: Clock;
  logger: Logger;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i;

/** Starts the endpoint. @throws when it cannot listen (address in use: another agent runs with this address). */
export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const { listen, logger } = options;
  const send = (res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
    res.end(`${JSON.stringify(body)}\n`);
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== HEALTH_STATUS_PATH && path !== HEALTH_HEALTHZ_PATH) {
      send(res, 404, { error: 'not found', paths: [HEALTH_STATUS_PATH, HEALTH_HEALTHZ_PATH] });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' });
      return;
    }
    try {
      if (path === HEALTH_HEALTHZ_PATH) send(res, 200, { status: 'ok' });
      else send(res, 200, healthStatus(options.status(), options.clock.now()));
    } catch (err) {
      logger.error({ err }, 'the health endpoint failed to build the status');
      send(res, 500, { error: (err as Error).message });
    }
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: listen.host, port: listen.port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: NodeJS.ErrnoException) => {
    const hint = err.code === 'EADDRINUSE' ? ' (another agent already runs with this health.listen? set a different one or off)' : '';
    throw new Error(`cannot serve the health endpoint on ${formatListen(listen)}: ${err.code ?? err.message}${hint}`, { cause: err });
  });
  server.on('error', (err) => logger.error({ err }, 'health endpoint error'));
  const port = (server.address() as AddressInfo).port;
  if (!LOOPBACK.test(listen.host)) {
    logger.warn({ host: listen.host, port }, 'the health endpoint listens beyond loopback and has no authentication');
  }
  logger.info({ url: `http://${formatListen({ host: listen.host, port })}${HEALTH_STATUS_PATH}` }, 'health endpoint listening');
  let closing: Promise<void> | undefined;
  return {
    host: listen.host,
    port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

/** host:port, brackets around an IPv6 address. */
export function formatListen(listen: HealthListen): string {
  return `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`;
}
