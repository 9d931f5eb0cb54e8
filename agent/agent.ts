/**
 * The agent: one sampler per instrument feeding one outbox, one uplink sending it to the collector.
 * Everything is per instance (no module state), so tests and the demo can run several agents in one process.
 */
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../common/clock.ts';
import { silentLogger, type Logger } from '../common/log.ts';
import type { Sample } from '../common/wire.ts';
import type { AgentConfig } from './config.ts';
import type { PolledDriver } from './drivers/driver.ts';
import { createDriver as defaultCreateDriver } from './drivers/index.ts';
import { MemoryOutbox, type Outbox } from './outbox.ts';
import { Sampler, type SamplerStatus } from './sampler.ts';
import { Uplink, type UplinkOptions, type UplinkStatus } from './uplink.ts';

export interface AgentOptions {
  /** Default systemClock. */
  clock?: Clock;
  /** Default a silent logger. */
  logger?: Logger;
  /** Default the global fetch. */
  fetch?: typeof fetch;
  /** Default a MemoryOutbox bounded by config.maxQueueSamples. */
  outbox?: Outbox;
  /** Default ./drivers/index.ts createDriver; tests may substitute drivers. */
  createDriver?: typeof defaultCreateDriver;
  /** How long stop() keeps sending queued samples; default 2000 ms. */
  stopFlushMs?: number;
  /** Uplink tuning (retry policy, request timeout, jitter source). */
  uplink?: Pick<UplinkOptions, 'retry' | 'requestTimeoutMs' | 'random'>;
}

export interface AgentStatus {
  agentId: string;
  bootId: string;
  startedAt: number;
  instruments: SamplerStatus[];
  uplink: UplinkStatus;
}

export interface RunningAgent {
  readonly agentId: string;
  /** Random per process; part of every batch id. */
  readonly bootId: string;
  /** Per instrument counters and uplink counters. */
  status(): AgentStatus;
  /** Also hands every sample to `listener` (e.g. the demo's console). A throwing listener is logged by name. Returns an unsubscribe function. */
  onSample(listener: (sample: Sample) => void, name?: string): () => void;
  /** Stops the samplers, sends what is queued for up to stopFlushMs, closes the drivers. Idempotent. */
  stop(): Promise<void>;
}

/** Starts an agent for a validated config (loadAgentConfig / agentConfigFromObject). Polling starts at once. */
export async function startAgent(config: AgentConfig, options: AgentOptions = {}): Promise<RunningAgent> {
  const clock = options.clock ?? systemClock;
  const logger = (options.logger ?? silentLogger()).child({ agent: config.agentId });
  const bootId = randomUUID().slice(0, 8);
  const startedAt = clock.now();
  const outbox =
    options.outbox ??
    new MemoryOutbox({ agentId: config.agentId, bootId, firstSeq: startedAt, maxSamples: config.maxQueueSamples, logger });
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
  });

  const listeners = new Map<(sample: Sample) => void, string>();
  const sink = (sample: Sample): void => {
    outbox.append([sample]);
    for (const [listener, name] of listeners) {
      try {
        listener(sample);
      } catch (err) {
        logger.error({ err, listener: name, instrument: sample.instrument_id }, `sample listener "${name}" threw`);
      }
    }
  };

  const create = options.createDriver ?? defaultCreateDriver;
  const drivers: PolledDriver[] = [];
  const samplers: Sampler[] = [];
  for (const instrument of config.instruments) {
    const driver = create(instrument, { clock, logger: logger.child({ instrument: instrument.id }) });
    drivers.push(driver);
    samplers.push(new Sampler({ instrumentId: instrument.id, driver, intervalMs: instrument.pollIntervalMs, clock, logger, sink }));
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
    await uplink.stop();
    const [flushed] = await Promise.all([uplink.flush(options.stopFlushMs ?? 2000), ...drivers.map((d) => d.close())]);
    const left = outbox.stats().depth;
    if (flushed) logger.info('agent stopped; every sample was sent');
    else logger.warn({ unsentSamples: left }, `agent stopped with ${left} unsent sample(s)`);
  };

  return {
    agentId: config.agentId,
    bootId,
    status: () => ({
      agentId: config.agentId,
      bootId,
      startedAt,
      instruments: samplers.map((s) => s.status()),
      uplink: uplink.status(),
    }),
    onSample(listener, name = 'listener') {
      listeners.set(listener, name);
      return () => {
        listeners.delete(listener);
      };
    },
    stop: () => (stopping ??= stop()),
  };
}
