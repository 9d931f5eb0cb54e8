/** `jishi collector`: runs the collector from a config file, with command-line overrides. */
import { join, resolve } from 'node:path';
import { ConfigError } from '../common/errors.ts';
import { createLogger } from '../common/log.ts';
import {
  COLLECTOR_DEFAULTS,
  STORE_FILE,
  collectorConfigFromObject,
  loadCollectorConfig,
  type CollectorConfig,
} from '../collector/config.ts';
import { startCollector } from '../collector/server.ts';
import { untilSignal } from './signals.ts';

export interface CollectorCommandOptions {
  config?: string;
  host?: string;
  port?: number;
  data?: string;
  influxUrl?: string;
  influxDb?: string;
  check?: boolean;
  logLevel?: string;
}

/** Applies command-line overrides to a resolved config; a bad value is a ConfigError naming the option. */
export function applyOverrides(config: CollectorConfig, opts: CollectorCommandOptions): CollectorConfig {
  const out: CollectorConfig = { ...config, listen: { ...config.listen } };
  if (opts.host !== undefined) out.listen.host = opts.host;
  if (opts.port !== undefined) out.listen.port = opts.port;
  if (opts.data !== undefined) {
    out.dataDir = resolve(opts.data);
    out.storePath = join(out.dataDir, STORE_FILE);
  }
  if (opts.influxUrl !== undefined) {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(opts.influxUrl).protocol);
    } catch {
      ok = false;
    }
    if (!ok) {
      throw new ConfigError('command line', [
        { path: '--influx-url', value: opts.influxUrl, message: 'must be an http(s) URL such as http://127.0.0.1:8086' },
      ]);
    }
    out.influx = { ...(config.influx ?? { database: COLLECTOR_DEFAULTS.influx_database }), url: opts.influxUrl.replace(/\/+$/, '') };
  }
  if (opts.influxDb !== undefined) {
    if (!out.influx) {
      throw new ConfigError('command line', [{ path: '--influx-db', value: opts.influxDb, message: 'needs --influx-url or influx.url in the config' }]);
    }
    out.influx = { ...out.influx, database: opts.influxDb };
  }
  return out;
}

export function describeCollectorConfig(c: CollectorConfig): string {
  return [
    `config: ${c.source}`,
    `listen: http://${c.listen.host}:${c.listen.port}`,
    `store: ${c.storePath}`,
    `influx: ${c.influx ? `${c.influx.url} database ${c.influx.database}` : 'not configured (embedded store only)'}`,
    `agents: ${c.agents.length === 0 ? 'none (every ingest will be refused)' : c.agents.map((a) => a.id).join(', ')}`,
    `instruments configured: ${c.instruments.length}`,
    `max_gap: ${c.maxGapMs / 1000} s`,
  ].join('\n');
}

export async function runCollectorCommand(opts: CollectorCommandOptions): Promise<void> {
  const base = opts.config
    ? await loadCollectorConfig(opts.config)
    : collectorConfigFromObject({}, 'defaults (no --config)', { baseDir: process.cwd() });
  const config = applyOverrides(base, opts);
  if (opts.check) {
    process.stdout.write(`${describeCollectorConfig(config)}\nconfig OK\n`);
    return;
  }
  const level = (opts.logLevel as CollectorConfig['logLevel'] | undefined) ?? config.logLevel;
  const logger = createLogger({ level, name: 'collector' });
  const collector = await startCollector(config, { logger });
  process.stderr.write(`jishi collector listening on ${collector.url} (store ${config.storePath})\n`);
  const signal = await untilSignal();
  logger.info({ signal }, 'stopping');
  await collector.close();
}
