/**
 * Runs a collector from a resolved config: opens the store in data_dir, registers the configured agents,
 * builds the app, listens, and starts the InfluxDB forwarder when influx is configured.
 * The process entry point (CLI) and the demo both use this; tests may too (port 0).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../common/clock.ts';
import { createLogger, type Logger } from '../common/log.ts';
import { buildApp, type CollectorApp, type IngestEvent } from './app.ts';
import { EngineRunner } from './engine-runner.ts';
import type { CollectorConfig } from './config.ts';
import { createInfluxForwarder, type InfluxForwarder } from './influx/forwarder.ts';
import { acquireLock } from './store/lock.ts';
import { openSqliteStore } from './store/sqlite-store.ts';
import { registryInfo, syncRegistryFromConfig } from './sharing/registry.ts';
import { createInfluxSink } from './influx/create-sink.ts';
import type { Store } from './store/store.ts';

export interface StartCollectorOptions {
  clock?: Clock;
  /** Default: a pino logger on stderr at config.logLevel, named `collector`. */
  logger?: Logger;
  /** Called after every stored ingest (after the forwarder was woken). */
  onIngest?: (event: IngestEvent) => void;
}

export interface RunningCollector {
  /** Base URL it listens on, with the real port (e.g. `http://127.0.0.1:41234`). */
  url: string;
  app: CollectorApp;
  store: Store;
  forwarder?: InfluxForwarder;
  /** Stops the forwarder, closes the HTTP server and then the store. Safe to call twice. */
  close(): Promise<void>;
}

function formatUrl(address: AddressInfo, https = false): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${https ? 'https' : 'http'}://${host}:${address.port}`;
}

/** The PEM files of `tls`, read at start; a missing or unreadable file stops the start with its path. */
function readTls(tls: { cert: string; key: string }): { cert: Buffer; key: Buffer } {
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`cannot read the TLS ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
  };
  return { cert: read('certificate', tls.cert), key: read('key', tls.key) };
}

export async function startCollector(config: CollectorConfig, options: StartCollectorOptions = {}): Promise<RunningCollector> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger({ level: config.logLevel, name: 'collector' });
  mkdirSync(config.dataDir, { recursive: true });
  const releaseLock = acquireLock(config.dataDir, 'the collector');
  let store: Store;
  try {
    store = openSqliteStore(config.storePath);
  } catch (err) {
    releaseLock();
    throw err;
  }
  let forwarder: InfluxForwarder | undefined;
  let app: CollectorApp | undefined;
  try {
    const removed = store.removeAgentsExcept(config.agents.map((a) => a.id));
    if (removed.length > 0) logger.info({ agents: removed }, 'agents no longer in the config were removed');
    for (const a of config.agents) store.upsertAgent(a.id, a.tokenSha256);
    if (config.agents.length === 0) logger.warn('no agents configured: every ingest will be refused (401)');

    const synced = syncRegistryFromConfig(store.sharing, config.instruments, clock.now(), logger.child({ component: 'registry' }));
    if (synced > 0) logger.debug({ fields: synced }, 'registry fields written from the config');
    const configured = new Map(config.instruments.map((i) => [i.id, i.params]));
    const engine = new EngineRunner({
      store: store.engine,
      params: (id) => configured.get(id) ?? config.defaultParams,
      timeZone: config.timeZone,
      clock,
      logger: logger.child({ component: 'engine' }),
    });
    if (config.influx) {
      const st = store;
      const knownIds = (): string[] => [...new Set([...config.instruments.map((i) => i.id), ...st.instrumentIds()])];
      forwarder = createInfluxForwarder({
        store,
        sink: createInfluxSink(config.influx),
        liveStates: (now) => knownIds().map((id) => ({ instrument_id: id, ...engine.live(id, now) })),
        registry: () => registryInfo(st, knownIds(), config.ratedHours),
        clock,
        logger: logger.child({ component: 'influx-forwarder' }),
      });
    }
    const fwd = forwarder;
    app = buildApp({
      engine,
      registry: config.instruments,
      clockSkewThresholdMs: config.clockSkewThresholdMs,
      ...(fwd ? { forwarderStatus: () => fwd.status() } : {}),
      defaultRatedHours: config.ratedHours,
      sharing: { admins: config.admins, thresholdCny: config.largeInstrumentThresholdCny },
      access: { viewers: config.viewers, readAccess: config.readAccess, authFailuresPerMinute: config.limits.authFailuresPerMinute },
      ingestPolicy: {
        owners: new Map(config.instruments.filter((i) => i.asset.agent !== undefined).map((i) => [i.id, i.asset.agent!])),
        configured: new Set(config.instruments.map((i) => i.id)),
        unknownInstruments: config.unknownInstruments,
        maxFutureMs: config.limits.maxFutureMs,
        maxPastMs: config.limits.maxPastMs,
        maxConcurrentIngest: config.limits.maxConcurrentIngest,
        retryAfterS: config.limits.retryAfterS,
      },
      ...(config.tls ? { https: readTls(config.tls) } : {}),
      trustProxy: config.trustProxy,
      store,
      ownsStore: true,
      clock,
      logger,
      onIngest: (event) => {
        if (event.accepted > 0) fwd?.wake();
        options.onIngest?.(event);
      },
    });
    await app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (err) {
    if (app) await app.close();
    store.close();
    releaseLock();
    throw err;
  }
  const url = formatUrl(app.server.address() as AddressInfo, config.tls !== undefined);
  forwarder?.start();
  logger.info({ url, store: config.storePath, influx: config.influx?.url ?? null }, 'collector listening');

  let closing: Promise<void> | undefined;
  const running: RunningCollector = {
    url,
    app,
    store,
    close() {
      closing ??= (async () => {
        await forwarder?.stop();
        await running.app.close();
        releaseLock();
        logger.info('collector stopped');
      })();
      return closing;
    },
  };
  if (forwarder) running.forwarder = forwarder;
  return running;
}
