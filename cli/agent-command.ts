/** `jishi agent`: runs the agent from its config file until Ctrl-C / SIGTERM. */
import { formatTransport } from '../common/transport-url.ts';
import { createLogger, type LogLevel } from '../common/log.ts';
import { loadAgentConfig, type AgentConfig } from '../agent/config.ts';
import { startAgent } from '../agent/agent.ts';
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
  const agent = await startAgent(config, { logger });
  const signal = await untilSignal();
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
