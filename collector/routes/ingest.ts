/**
 * POST /api/v1/ingest: an agent delivers a batch of samples.
 * Bearer token -> agent (401), batch agent_id must be that agent (403), body schema (400), then one store
 * transaction; the IngestAck is sent only after it committed (503 + Retry-After when the store fails).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../../common/clock.ts';
import { JishiError } from '../../common/errors.ts';
import { INGEST_PATH, IngestAck, IngestBatch } from '../../common/wire.ts';
import type { CollectorApp } from '../app.ts';
import { bearerToken, sha256Hex } from '../auth.ts';
import type { EngineRunner, StateChange } from '../engine-runner.ts';

/** What the collector reports after each accepted ingest request. */
export interface IngestEvent {
  agent_id: string;
  batch_id: string;
  seq: number;
  accepted: number;
  duplicate: boolean;
  changes: StateChange[];
  /** Collector clock when the batch was stored. */
  received_at: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The agent authenticated by the bearer token (ingest route only). */
    agentId: string | undefined;
  }
}

export function registerIngestRoute(
  app: CollectorApp,
  options: { clock: Clock; engine: EngineRunner; clockSkewThresholdMs: number; onIngest?: (event: IngestEvent) => void },
): void {
  /** Agents whose latest batch was corrected, to log only when that changes. */
  const correcting = new Map<string, boolean>();
  if (!app.hasRequestDecorator('agentId')) app.decorateRequest('agentId', undefined);

  async function authenticate(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const token = bearerToken(request.headers.authorization);
    if (token === undefined) throw new JishiError('JISHI_ERR_UNAUTHORIZED', 'Missing bearer token (Authorization: Bearer <token>)');
    const agentId = app.store.agentForTokenHash(sha256Hex(token));
    if (agentId === undefined) throw new JishiError('JISHI_ERR_UNAUTHORIZED', 'Unknown bearer token');
    request.agentId = agentId;
  }

  app.post(
    INGEST_PATH,
    { schema: { body: IngestBatch, response: { 200: IngestAck } }, onRequest: authenticate },
    async (request) => {
      const batch = request.body;
      if (batch.agent_id !== request.agentId) {
        throw new JishiError(
          'JISHI_ERR_AGENT_MISMATCH',
          `The batch names agent ${JSON.stringify(batch.agent_id)} but the token belongs to ${JSON.stringify(request.agentId)}`,
        );
      }
      const receivedAt = options.clock.now();
      // Lab PCs often have wrong clocks: beyond the threshold, sample times move by the measured offset.
      const skew = receivedAt - batch.sent_at;
      const offset = Math.abs(skew) > options.clockSkewThresholdMs ? skew : 0;
      const corrected = offset === 0 ? batch : { ...batch, samples: batch.samples.map((s) => ({ ...s, ts: Math.max(0, s.ts + offset) })) };
      const result = app.store.ingest(corrected, receivedAt, { clockOffsetMs: offset });
      if ((offset !== 0) !== (correcting.get(batch.agent_id) ?? false)) {
        correcting.set(batch.agent_id, offset !== 0);
        if (offset !== 0) request.log.warn({ agent_id: batch.agent_id, clock_skew_ms: skew }, 'agent clock is off: correcting its sample times');
        else request.log.info({ agent_id: batch.agent_id, clock_skew_ms: skew }, 'agent clock is within the threshold again');
      }
      // The utilization engine runs after the commit: its failures never lose the batch (recompute rebuilds).
      const changes = result.duplicate ? [] : options.engine.ingest(corrected.samples);
      request.log.debug(
        { agent_id: batch.agent_id, batch_id: batch.batch_id, accepted: result.accepted, duplicate: result.duplicate },
        'batch stored',
      );
      for (const c of changes) {
        request.log.info({ instrument_id: c.instrument_id, from: c.from, to: c.to, at: c.at }, 'live state changed');
      }
      if (options.onIngest !== undefined) {
        try {
          options.onIngest({
            agent_id: batch.agent_id,
            batch_id: batch.batch_id,
            seq: batch.seq,
            accepted: result.accepted,
            duplicate: result.duplicate,
            changes,
            received_at: receivedAt,
          });
        } catch (err) {
          request.log.error({ err }, 'onIngest listener threw (the batch is stored)');
        }
      }
      return { batch_id: batch.batch_id, accepted: result.accepted, duplicate: result.duplicate, server_time: options.clock.now() };
    },
  );
}
