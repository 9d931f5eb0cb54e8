/**
 * The agent: one sampler per instrument feeding one outbox, one uplink sending it to the collector.
 * Everything is per instance (no module state), so tests and the demo can run several agents in one process.
 *
 * The outbox is the durable SqliteOutbox in config.stateDir unless the caller passes one. Samples reach it through
 * an OutboxAppender (./outbox.ts): a sample of a read that ended while no other read was running is appended at
 * once; the samples of reads that overlap in time (many instruments polled on one schedule) are appended together,
 * in one transaction, when the last of those reads ends, at the latest appendWindowMs (50 ms) after the first of
 * them ended. So besides a read in progress, a crash of the process can lose the samples read in those last
 * 50 ms at most. stop() appends everything waiting before the final send.
 *
 * A sample is in the outbox (committed to the file) before any listener sees it, unless the outbox fails (disk
 * full, I/O error): then the samples are kept in memory in order and appended again every second (listeners see
 * them at once); only beyond 10 000 waiting samples, or at stop, are they counted as lost and logged (a crash
 * meanwhile loses them too).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { systemClock, type Clock } from '../common/clock.ts';
import { silentLogger, type Logger } from '../common/log.ts';
import type { AgentStatusReport, Sample } from '../common/wire.ts';
import type { AgentConfig } from './config.ts';
import type { PolledDriver } from './drivers/driver.ts';
import { SharedResources } from './drivers/shared.ts';
import type { HttpPost } from '../common/http-post.ts';
import { startHealthServer, type HealthServer } from './health-server.ts';
import { createDriver as defaultCreateDriver } from './drivers/index.ts';
import { OutboxAppender, type Outbox, type OutboxStats } from './outbox.ts';
import { Sampler, type SamplerStatus } from './sampler.ts';
import { outboxFile, SqliteOutbox } from './sqlite-outbox.ts';
import { Uplink, type UplinkOptions, type UplinkStatus } from './uplink.ts';

export interface AgentOptions {
  /** Default systemClock. */
  clock?: Clock;
  /** Default a silent logger. */
  logger?: Logger;
  /** How the uplink sends; default node:http (common/http-post.ts). `fetch` fits too. */
  fetch?: HttpPost;
  /**
   * Default the durable SqliteOutbox in config.stateDir (opened here, closed by stop()). An outbox passed here
   * (e.g. a MemoryOutbox in tests) belongs to the caller: stop() does not close it.
   */
  outbox?: Outbox;
  /** Default ./drivers/index.ts createDriver; tests may substitute drivers. */
  createDriver?: typeof defaultCreateDriver;
  /** How long stop() keeps sending queued samples; default 2000 ms. */
  stopFlushMs?: number;
  /**
   * Longest a sample waits in memory for overlapping reads to end, so that their samples are appended in one
   * transaction; default DEFAULT_APPEND_WINDOW_MS (50 ms). See OutboxAppender.
   */
  appendWindowMs?: number;
  /** Uplink tuning (retry policy, request timeout, jitter source). */
  uplink?: Pick<UplinkOptions, 'retry' | 'requestTimeoutMs' | 'random'>;
  /**
   * Serve the local health endpoint on config.health (unless that is off); default false, so that several
   * agents in one process (tests, the demo) do not compete for one port. `jishi agent` turns it on.
   * startAgent fails when it cannot listen.
   */
  health?: boolean;
}

export interface AgentStatus {
  agentId: string;
  bootId: string;
  startedAt: number;
  instruments: SamplerStatus[];
  uplink: UplinkStatus;
  /** The outbox's own view: depth, oldest queued sample, dropped count, bytes. */
  outbox: OutboxStats;
  /** Samples read but not stored because the outbox failed (disk full, I/O error) for too long; logged. */
  lostSamples: number;
  /** Samples read but not yet committed to the outbox (waiting for overlapping reads, or for a failing outbox). */
  pendingSamples: number;
}

export interface RunningAgent {
  readonly agentId: string;
  /** Random per process; part of every batch id. */
  readonly bootId: string;
  /** Per instrument counters and uplink counters. */
  status(): AgentStatus;
  /** The health endpoint's address when it is served (options.health and config.health not off). */
  readonly health?: { host: string; port: number };
  /** Also hands every sample to `listener` (e.g. the demo's console). A throwing listener is logged by name. Returns an unsubscribe function. */
  onSample(listener: (sample: Sample) => void, name?: string): () => void;
  /**
   * Stops the samplers, sends what is queued for up to stopFlushMs, closes the drivers and the outbox it opened
   * (what was not sent stays in the file for the next start). Idempotent.
   */
  stop(): Promise<void>;
}

/** Starts an agent for a validated config (loadAgentConfig / agentConfigFromObject). Polling starts at once. */
export async function startAgent(config: AgentConfig, options: AgentOptions = {}): Promise<RunningAgent> {
  const clock = options.clock ?? systemClock;
  const logger = (options.logger ?? silentLogger()).child({ agent: config.agentId });
  const bootId = randomUUID().slice(0, 8);
  const startedAt = clock.now();
  let owned: SqliteOutbox | undefined;
  const outbox: Outbox = options.outbox ?? (owned = openOutbox(config, bootId, clock, logger));
  const uplink = new Uplink({
    agentId: config.agentId,
    collectorUrl: config.collector.url,
    token: config.collector.token,
    batchIntervalMs: config.batchIntervalMs,
    maxBatchSamples: config.maxBatchSamples,
    outbox,
    clock,
    logger,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...options.uplink,
    statusReport: () => statusReport(status()),
  });

  const listeners = new Map<(sample: Sample) => void, string>();
  const notify = (samples: readonly Sample[]): void => {
    if (listeners.size === 0) return;
    for (const sample of samples) {
      for (const [listener, name] of listeners) {
        try {
          listener(sample);
        } catch (err) {
          logger.error({ err, listener: name, instrument: sample.instrument_id }, `sample listener "${name}" threw`);
        }
      }
    }
  };
  const appender = new OutboxAppender({
    outbox,
    clock,
    logger,
    ...(options.appendWindowMs === undefined ? {} : { windowMs: options.appendWindowMs }),
    onSamples: notify,
  });
  const sink = (sample: Sample): void => appender.add(sample);
  const onPollStart = (): void => appender.readStarted();

  const create = options.createDriver ?? defaultCreateDriver;
  // One RS-485 port for all units on it, one connection per MQTT broker: shared by this agent's drivers only.
  const shared = new SharedResources();
  const drivers: PolledDriver[] = [];
  const samplers: Sampler[] = [];
  try {
    for (const instrument of config.instruments) {
      const driver = create(instrument, { clock, logger: logger.child({ instrument: instrument.id }), shared });
      drivers.push(driver);
      samplers.push(new Sampler({ instrumentId: instrument.id, driver, intervalMs: instrument.pollIntervalMs, clock, logger, sink, onPollStart }));
    }
  } catch (err) {
    owned?.close();
    throw err;
  }
  const status = (): AgentStatus => ({
    agentId: config.agentId,
    bootId,
    startedAt,
    instruments: samplers.map((s) => s.status()),
    uplink: uplink.status(),
    outbox: outbox.stats(),
    lostSamples: appender.stats().lost,
    pendingSamples: appender.stats().pending,
  });
  let health: HealthServer | undefined;
  if (options.health && config.health) {
    try {
      health = await startHealthServer({ listen: config.health, status, clock, logger });
    } catch (err) {
      await Promise.all(drivers.map((d) => d.close().catch(() => undefined)));
      owned?.close();
      throw err;
    }
  }
  for (const s of samplers) s.start();
  uplink.start();
  logger.info(
    { bootId, collector: config.collector.url, instruments: config.instruments.map((i) => `${i.id} ${i.target}`) },
    `agent started with ${config.instruments.length} instrument(s)`,
  );

  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    await Promise.all(samplers.map((s) => s.stop()));
    // Every read has ended: what waits for the append window goes into the outbox now, before the last send.
    appender.close();
    await uplink.stop();
    const flush = uplink.flush(options.stopFlushMs ?? 2000).catch((err: unknown) => {
      logger.error({ err }, 'sending the queued samples at stop failed');
      return false;
    });
    const [flushed] = await Promise.all([flush, ...drivers.map((d) => d.close())]);
    const left = outbox.stats().depth;
    owned?.close();
    await health?.close();
    if (flushed) logger.info('agent stopped; every sample was sent');
    else if (owned) logger.warn({ unsentSamples: left, outbox: owned.path }, `agent stopped with ${left} unsent sample(s), kept in the outbox for the next start`);
    else logger.warn({ unsentSamples: left }, `agent stopped with ${left} unsent sample(s)`);
  };

  return {
    agentId: config.agentId,
    bootId,
    status,
    ...(health ? { health: { host: health.host, port: health.port } } : {}),
    onSample(listener, name = 'listener') {
      listeners.set(listener, name);
      return () => {
        listeners.delete(listener);
      };
    },
    stop: () => (stopping ??= stop()),
  };
}

/** Opens the durable outbox of config.stateDir (creating the directory), and warns about other agents' outbox files there. */
function openOutbox(config: AgentConfig, bootId: string, clock: Clock, logger: Logger): SqliteOutbox {
  try {
    mkdirSync(config.stateDir, { recursive: true });
  } catch (err) {
    throw new Error(`cannot create the state_dir ${config.stateDir}: ${(err as Error).message}`, { cause: err });
  }
  const path = outboxFile(config.stateDir, config.agentId);
  const outbox = new SqliteOutbox({
    path,
    agentId: config.agentId,
    bootId,
    sync: config.outbox.sync,
    syncIntervalMs: config.outbox.syncIntervalMs,
    maxBytes: config.outbox.maxBytes,
    ...(config.outbox.maxSamples === undefined ? {} : { maxSamples: config.outbox.maxSamples }),
    clock,
    logger,
  });
  const others = readdirSync(config.stateDir).filter((f) => /^outbox-.+\.sqlite$/.test(f) && f !== basename(path));
  if (others.length > 0) {
    logger.warn(
      { stateDir: config.stateDir, files: others },
      `state_dir holds outbox files of other agent ids (${others.join(', ')}); readings queued there are not sent by agent ${config.agentId}`,
    );
  }
  return outbox;
}

/** The small summary sent to the collector with each batch (IngestBatch.agent_status). */
export function statusReport(s: AgentStatus): AgentStatusReport {
  return {
    started_at: s.startedAt,
    outbox_depth: s.outbox.depth,
    outbox_oldest_ts: s.outbox.oldestTs ?? null,
    dropped_samples: s.outbox.droppedSamples,
    lost_samples: s.lostSamples,
    device_errors: s.instruments.reduce((n, i) => n + i.errors, 0),
    failing_instruments: s.instruments.filter((i) => i.errorStreak > 0).map((i) => i.instrumentId).slice(0, 1000),
    uplink_failures: s.uplink.failures,
  };
}
