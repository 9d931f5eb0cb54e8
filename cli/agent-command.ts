/** `jishi agent`: runs the agent from its config file until Ctrl-C / SIGTERM. */
import { formatTransport } from '../common/transport-url.ts';
import { createLogger, type LogLevel } from '../common/log.ts';
import { loadAgentConfig, loadHealthListen, type AgentConfig } from '../agent/config.ts';
import { startAgent } from '../agent/agent.ts';
import { formatListen, HEALTH_STATUS_PATH, type HealthStatus } from '../agent/health-server.ts';
import { displayWidth, formatAge } from './live-table.ts';
import { outboxFile } from '../agent/sqlite-outbox.ts';
import { untilSignal } from './signals.ts';

export interface AgentCommandOptions {
  config: string;
  check?: boolean;
  logLevel: string;
}

export function describeAgentConfig(c: AgentConfig): string {
  const lines = [
    `config: ${c.source}`,
    `agent: ${c.agentId} -> ${c.collector.url}`,
    `send every ${c.batchIntervalMs / 1000} s, at most ${c.maxBatchSamples} samples a batch`,
    `outbox: ${outboxFile(c.stateDir, c.agentId)}, ${
      c.outbox.sync === 'always' ? 'fsync every sample' : `fsync within ${c.outbox.syncIntervalMs / 1000} s of a write`
    }, at most ${c.outbox.maxBytes} bytes${c.outbox.maxSamples === undefined ? '' : ` and ${c.outbox.maxSamples} samples`}`,
    `health endpoint: ${c.health ? `http://${formatListen(c.health)}${HEALTH_STATUS_PATH}` : 'off'}`,
    `instruments (${c.instruments.length}):`,
  ];
  for (const i of c.instruments) {
    lines.push(`  ${i.id}${i.name ? ` (${i.name})` : ''}: ${i.profile.id} at ${formatTransport(i.transport)}, every ${i.pollIntervalMs / 1000} s`);
  }
  return lines.join('\n');
}

export async function runAgentCommand(opts: AgentCommandOptions): Promise<void> {
  const config = await loadAgentConfig(opts.config);
  if (opts.check) {
    process.stdout.write(`${describeAgentConfig(config)}\nconfig OK\n`);
    return;
  }
  const logger = createLogger({ level: opts.logLevel as LogLevel, name: 'agent' });
  logger.info({ config: config.source, instruments: config.instruments.length, collector: config.collector.url }, 'agent starting');
  let agent = await startAgent(config, { logger, health: true });
  let current = config;

  // SIGHUP: reload the config. The queued readings stay in the durable outbox while the agent restarts on it;
  // an invalid new config is logged and the running agent goes on unchanged.
  let reloading = Promise.resolve();
  const onHangup = (): void => {
    reloading = reloading.then(async () => {
      let next: AgentConfig;
      try {
        next = await loadAgentConfig(opts.config);
      } catch (err) {
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'reload refused: the config is invalid; the agent goes on with the previous one');
        return;
      }
      logger.info({ config: next.source, instruments: next.instruments.length }, 'reloading the config (queued readings stay in the outbox)');
      await agent.stop();
      try {
        agent = await startAgent(next, { logger, health: true });
        current = next;
      } catch (err) {
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'the new config did not start; going back to the previous one');
        agent = await startAgent(current, { logger, health: true });
      }
    });
  };
  process.on('SIGHUP', onHangup);
  const signal = await untilSignal();
  process.off('SIGHUP', onHangup);
  await reloading;
  logger.info({ signal }, 'stopping: sending what is queued');
  await agent.stop();
  const s = agent.status();
  logger.info(
    {
      sentSamples: s.uplink.sentSamples,
      duplicateBatches: s.uplink.duplicateBatches,
      discardedSamples: s.uplink.discardedSamples,
      queued: s.outbox.depth,
      droppedSamples: s.outbox.droppedSamples,
      lostSamples: s.lostSamples,
    },
    'agent stopped',
  );
}

export interface AgentStatusOptions {
  config: string;
  json?: boolean;
}

/** `jishi agent status`: asks the running agent's health endpoint and prints what it says. */
export async function runAgentStatus(opts: AgentStatusOptions): Promise<void> {
  const listen = await loadHealthListen(opts.config);
  if (listen === null) throw new Error(`the health endpoint is off in ${opts.config} (health.listen: off): cannot ask the agent`);
  const address = formatListen(listen);
  let res: Response;
  try {
    res = await fetch(`http://${address}${HEALTH_STATUS_PATH}`, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    throw new Error(`no agent answers on ${address}: is it running? (${cause})`);
  }
  const text = await res.text();
  if (res.status !== 200) throw new Error(`the agent on ${address} answered HTTP ${res.status}: ${text.slice(0, 200)}`);
  let status: HealthStatus;
  try {
    status = JSON.parse(text) as HealthStatus;
  } catch {
    throw new Error(`${address} answered, but not with the agent's status JSON: is it a jishi agent?`);
  }
  process.stdout.write(opts.json ? `${JSON.stringify(status, null, 2)}\n` : formatHealthStatus(status));
}

/** The readable form of GET /status: a table of instruments, then outbox, delivery and clock lines. */
export function formatHealthStatus(s: HealthStatus): string {
  const now = s.agent_time;
  const ago = (t: number | null): string => (t === null ? 'never' : `${formatAge(now - t)} ago`);
  const rows = [
    ['instrument', 'last reading', 'reads', 'errors', 'last error', 'reconnects'],
    ...s.instruments.map((i) => [
      i.id,
      ago(i.last_reading_at),
      String(i.reads),
      String(i.errors),
      i.last_error ? `${i.last_error.code}${i.error_streak > 0 ? ` (failing, ${i.error_streak}x)` : ` (${ago(i.last_error.at)})`}` : '-',
      String(i.reconnects),
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => displayWidth(r[c]!))));
  const right = new Set([2, 3, 5]);
  const table = rows.map((r) =>
    r
      .map((cell, c) => {
        const fill = ' '.repeat(widths[c]! - displayWidth(cell));
        return right.has(c) ? fill + cell : cell + fill;
      })
      .join('  ')
      .trimEnd(),
  );
  const u = s.uplink;
  const skew = s.clock_skew_ms;
  const lines = [
    `agent ${s.agent_id} (boot ${s.boot_id}), up ${formatAge(now - s.started_at)}`,
    '',
    ...table,
    '',
    `outbox backlog:  ${s.outbox.depth} sample(s)${s.outbox.oldest_ts === null ? '' : `, oldest pending ${ago(s.outbox.oldest_ts)}`}${
      (s.outbox.unsaved ?? 0) > 0 ? `; ${s.outbox.unsaved} read but not in the outbox yet` : ''
    }`,
    `dropped samples: ${s.outbox.dropped_samples} (outbox full)${s.lost_samples > 0 ? `, ${s.lost_samples} lost (outbox failed)` : ''}`,
    `last delivery:   ${ago(u.last_success_at)}, ${u.sent_samples} sample(s) in ${u.sent_batches} batch(es)${
      u.discarded_samples > 0 ? `, ${u.discarded_samples} discarded (rejected)` : ''
    }`,
    ...(u.failures > 0 && u.last_error
      ? [`delivery failing: ${u.failures} attempt(s), last ${u.last_error.code}: ${u.last_error.message}`]
      : []),
    `clock skew:      ${skew === null ? 'unknown (no delivery yet)' : `${skew >= 0 ? '+' : ''}${skew} ms (collector minus agent)`}`,
  ];
  return `${lines.join('\n')}\n`;
}
