/** Opening the collector's store for offline commands (recompute, calibrate), from --config and/or --data. */
import { existsSync } from 'node:fs';
import { silentLogger, type Logger } from '../common/log.ts';
import { systemClock } from '../common/clock.ts';
import type { CollectorConfig } from '../collector/config.ts';
import { EngineRunner } from '../collector/engine-runner.ts';
import { openSqliteStore } from '../collector/store/sqlite-store.ts';
import type { Store } from '../collector/store/store.ts';
import { loadWithOverrides } from './collector-command.ts';

export interface StoreCommandOptions {
  config?: string;
  data?: string;
}

export interface OpenedStore {
  config: CollectorConfig;
  store: Store;
  engine: EngineRunner;
  close(): void;
}

/** Opens an existing store (never creates one) with the engine configured as the collector would. */
export async function openCollectorStore(opts: StoreCommandOptions, logger: Logger = silentLogger()): Promise<OpenedStore> {
  const config = await loadWithOverrides({ ...(opts.config ? { config: opts.config } : {}), ...(opts.data ? { data: opts.data } : {}) });
  if (!existsSync(config.storePath)) {
    throw new Error(`no store at ${config.storePath}: point --data (or data_dir in --config) at the collector's data directory`);
  }
  const store = openSqliteStore(config.storePath);
  const configured = new Map(config.instruments.map((i) => [i.id, i.params]));
  const engine = new EngineRunner({
    store: store.engine,
    params: (id) => configured.get(id) ?? config.defaultParams,
    timeZone: config.timeZone,
    clock: systemClock,
    logger,
  });
  return { config, store, engine, close: () => store.close() };
}

/** Instrument ids from repeated/comma-separated --instrument values, checked against the store. */
export function selectInstruments(store: Store, wanted: readonly string[] | undefined): string[] {
  const known = store.engine.instrumentIds();
  if (wanted === undefined || wanted.length === 0) return known;
  const ids = wanted.flatMap((w) => w.split(',')).filter((w) => w !== '');
  const unknown = ids.filter((id) => !known.includes(id));
  if (unknown.length > 0) {
    throw new Error(`no readings for instrument ${unknown.join(', ')} (known: ${known.join(', ') || 'none'})`);
  }
  return ids;
}
