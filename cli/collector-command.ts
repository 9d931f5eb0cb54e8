/** `jishi collector`: runs the collector from a config file, with command-line overrides. */
import { dirname, resolve } from 'node:path';
import { isRecord, parseConfigYaml, readConfigFile } from '../common/config-issues.ts';
import { createLogger } from '../common/log.ts';
import { collectorConfigFromObject, type CollectorConfig } from '../collector/config.ts';
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

/**
 * The config file's content with the command-line overrides merged in, so that one validation covers both
 * (a bad --influx-url is reported like a bad influx.url). --data resolves against the working directory.
 */
export function withOverrides(raw: unknown, opts: CollectorCommandOptions): unknown {
  if (!isRecord(raw)) return raw;
  const out: Record<string, unknown> = { ...raw };
  const listen = isRecord(raw.listen) ? { ...raw.listen } : {};
  if (opts.host !== undefined) listen.host = opts.host;
  if (opts.port !== undefined) listen.port = opts.port;
  if (Object.keys(listen).length > 0) out.listen = listen;
  if (opts.data !== undefined) out.data_dir = resolve(opts.data);
  if (opts.influxUrl !== undefined || opts.influxDb !== undefined) {
    const influx = isRecord(raw.influx) ? { ...raw.influx } : {};
    if (opts.influxUrl !== undefined) influx.url = opts.influxUrl;
    if (opts.influxDb !== undefined) influx.database = opts.influxDb;
    out.influx = influx;
  }
  return out;
}

export async function loadWithOverrides(opts: CollectorCommandOptions): Promise<CollectorConfig> {
  const raw = opts.config ? (parseConfigYaml(await readConfigFile(opts.config), opts.config) ?? {}) : {};
  const overridden = [opts.host, opts.port, opts.data, opts.influxUrl, opts.influxDb].some((v) => v !== undefined);
  const source = `${opts.config ?? 'defaults'}${overridden ? ' with command-line overrides' : ''}`;
  const baseDir = opts.config ? dirname(resolve(opts.config)) : process.cwd();
  return collectorConfigFromObject(withOverrides(raw, opts), source, { baseDir });
}

export function describeCollectorConfig(c: CollectorConfig): string {
  return [
    `config: ${c.source}`,
    `listen: http://${c.listen.host}:${c.listen.port}`,
    `store: ${c.storePath}`,
    `influx: ${c.influx ? (c.influx.version === 1 ? `${c.influx.url} database ${c.influx.database}` : `InfluxDB ${c.influx.version} ${c.influx.url} bucket ${c.influx.bucket}`) : 'not configured (embedded store only)'}`,
    `agents: ${c.agents.length === 0 ? 'none (every ingest will be refused)' : c.agents.map((a) => a.id).join(', ')}`,
    `instruments configured: ${c.instruments.length}${c.instruments.length > 0 ? ` (${c.instruments.map((i) => i.id).join(', ')})` : ''}`,
    `time zone: ${c.timeZone}; rated hours per year: ${c.ratedHours} (default)`,
    `max_gap: ${c.maxGapMs / 1000} s`,
  ].join('\n');
}

export async function runCollectorCommand(opts: CollectorCommandOptions): Promise<void> {
  const config = await loadWithOverrides(opts);
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
