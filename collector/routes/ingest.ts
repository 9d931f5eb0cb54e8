/**
 * POST /api/v1/ingest: an agent delivers a batch of samples.
 * Load shedding first (more than maxConcurrentIngest requests in flight: 503 + Retry-After, before the body is
 * read), then bearer token -> agent (401; 429 after too many failures from one address), batch agent_id must be
 * that agent (403), body schema (400). Samples are then checked one by one: an instrument another agent owns,
 * an unknown instrument (with unknown_instruments: reject), a time too far ahead or behind, a non-finite reading
 * are refused and listed in the ack's `rejected`, the rest of the batch is stored (422 when nothing is left).
 * One store transaction; the IngestAck is sent only after it committed (503 + Retry-After when the store fails).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../../common/clock.ts';
import { JishiError, type ErrorCode } from '../../common/errors.ts';
import { INGEST_PATH, IngestAck, IngestBatch, type Sample } from '../../common/wire.ts';
import type { Access } from '../access.ts';
import type { CollectorApp } from '../app.ts';
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

/** What the ingest route accepts, beyond the schema. */
export interface IngestPolicy {
  /** An instrument's owner from the config (`instruments[].agent`); others are owned by their first agent. */
  owners: ReadonlyMap<string, string>;
  /** Instruments the config lists (for unknownInstruments: reject). */
  configured: ReadonlySet<string>;
  unknownInstruments: 'accept' | 'reject';
  maxFutureMs: number;
  maxPastMs: number;
  maxConcurrentIngest: number;
  retryAfterS: number;
}

export const DEFAULT_INGEST_POLICY: IngestPolicy = {
  owners: new Map(),
  configured: new Set(),
  unknownInstruments: 'accept',
  maxFutureMs: 300_000,
  maxPastMs: 400 * 86_400_000,
  maxConcurrentIngest: 32,
  retryAfterS: 5,
};

/** An ISO time for messages, or the raw number when it is beyond what a Date can hold. */
function isoTime(ts: number): string {
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? `${ts} ms` : d.toISOString();
}

type Rejection = { instrument_id: string; code: ErrorCode; message: string; count: number };

export function registerIngestRoute(
  app: CollectorApp,
  options: {
    clock: Clock;
    engine: EngineRunner;
    clockSkewThresholdMs: number;
    access: Access;
    policy?: IngestPolicy;
    onIngest?: (event: IngestEvent) => void;
  },
): void {
  const policy = options.policy ?? DEFAULT_INGEST_POLICY;
  /** Agents whose latest batch was corrected, to log only when that changes. */
  const correcting = new Map<string, boolean>();
  if (!app.hasRequestDecorator('agentId')) app.decorateRequest('agentId', undefined);
  let inFlight = 0;
  let shedding = false;
  const counted = new WeakSet<FastifyRequest>();

  async function admit(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    // Before the body is read: a collector under a catch-up storm answers at once instead of buffering bodies.
    if (inFlight >= policy.maxConcurrentIngest) {
      if (!shedding) request.log.warn({ in_flight: inFlight, limit: policy.maxConcurrentIngest }, 'shedding ingest load: answering 503 + Retry-After');
      shedding = true;
      throw Object.assign(
        new JishiError('JISHI_ERR_OVERLOADED', `${inFlight} ingest requests are being handled (limit ${policy.maxConcurrentIngest}); retry in ${policy.retryAfterS} s`),
        { retryAfterS: policy.retryAfterS },
      );
    }
    if (shedding) request.log.info('ingest load is back under the limit');
    shedding = false;
    const who = options.access.require(request, ['agent'], 'sending readings');
    request.agentId = who.id;
    inFlight++;
    counted.add(request);
  }

  /** Ends a counted request (answered, failed, or aborted by the client). */
  async function release(request: FastifyRequest): Promise<void> {
    if (counted.delete(request)) inFlight--;
  }

  /** Splits the samples into those to store and the refused ones, grouped by instrument and reason. */
  function screen(samples: readonly Sample[], agentId: string, now: number): { keep: Sample[]; rejected: Rejection[] } {
    const keep: Sample[] = [];
    const groups = new Map<string, Rejection>();
    const owners = new Map<string, string | null | undefined>();
    const storedOwner = (id: string): string | null | undefined => {
      if (!owners.has(id)) owners.set(id, app.store.instrumentAgent(id));
      return owners.get(id);
    };
    const refuse = (s: Sample, code: ErrorCode, message: string): void => {
      const key = `${s.instrument_id}\u0000${code}`;
      const g = groups.get(key);
      if (g) g.count++;
      else groups.set(key, { instrument_id: s.instrument_id, code, message, count: 1 });
    };
    for (const s of samples) {
      const owner = policy.owners.get(s.instrument_id) ?? storedOwner(s.instrument_id) ?? undefined;
      if (owner !== undefined && owner !== null && owner !== agentId) {
        refuse(s, 'JISHI_ERR_INSTRUMENT_NOT_OWNED', `instrument ${s.instrument_id} belongs to agent ${owner}`);
      } else if (policy.unknownInstruments === 'reject' && !policy.configured.has(s.instrument_id)) {
        refuse(s, 'JISHI_ERR_UNKNOWN_INSTRUMENT', `instrument ${s.instrument_id} is not in the collector config (unknown_instruments: reject)`);
      } else if (s.ts > now + policy.maxFutureMs) {
        refuse(s, 'JISHI_ERR_SAMPLE_TIME', `sample time ${isoTime(s.ts)} is more than ${policy.maxFutureMs / 1000} s ahead of the collector clock`);
      } else if (s.ts < now - policy.maxPastMs) {
        refuse(s, 'JISHI_ERR_SAMPLE_TIME', `sample time ${isoTime(s.ts)} is more than ${Math.round(policy.maxPastMs / 86_400_000)} days old`);
      } else if (Object.values(s.readings).some((v) => !Number.isFinite(v))) {
        refuse(s, 'JISHI_ERR_NON_FINITE', `a reading of ${s.instrument_id} is not a finite number`);
      } else {
        keep.push(s);
      }
    }
    return { keep, rejected: [...groups.values()] };
  }

  app.post(
    INGEST_PATH,
    { schema: { body: IngestBatch, response: { 200: IngestAck } }, onRequest: admit, onResponse: release, onRequestAbort: release },
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
      const shifted = offset === 0 ? batch.samples : batch.samples.map((s) => ({ ...s, ts: Math.max(0, s.ts + offset) }));
      const { keep, rejected } = screen(shifted, batch.agent_id, receivedAt);
      if (rejected.length > 0) {
        request.log.warn({ agent_id: batch.agent_id, batch_id: batch.batch_id, rejected }, `refused ${rejected.reduce((n, r) => n + r.count, 0)} sample(s) of the batch`);
      }
      if (keep.length === 0 && rejected.length > 0) {
        app.metrics.rejectedSamples(rejected);
        throw new JishiError(
          'JISHI_ERR_SAMPLES_REJECTED',
          `no sample of batch ${batch.batch_id} could be accepted: ${rejected.map((r) => `${r.count} x ${r.code} (${r.message})`).join('; ')}`,
        );
      }
      const corrected = { ...batch, samples: keep };
      const result = app.store.ingest(corrected, receivedAt, { clockOffsetMs: offset });
      app.metrics.ingest({ duplicate: result.duplicate, samples: result.accepted, ...(result.duplicate ? {} : { rejected }) });
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
      return {
        batch_id: batch.batch_id,
        accepted: result.accepted,
        duplicate: result.duplicate,
        server_time: options.clock.now(),
        ...(rejected.length > 0 && !result.duplicate ? { rejected } : {}),
      };
    },
  );
}
