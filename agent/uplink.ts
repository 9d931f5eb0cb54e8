/**
 * The uplink: every batch interval, sends the outbox's next batch to the collector
 * (`POST <collector>/api/v1/ingest`, bearer token) and acks it only on a 200 IngestAck.
 *
 * Outcomes of one send:
 * - 200 with a valid IngestAck: ack (the samples leave the outbox); if more is queued, send again at once.
 * - network error, timeout, 5xx, 408, 429, or a 200 that is not an IngestAck: retry the SAME batch
 *   (same id, so the collector stores it once) with exponential backoff and jitter.
 * - 401/403/404: the agent's setup is wrong, not the batch: logged with the ErrorBody code and message,
 *   retried with backoff (capped) so nothing is lost once the token or URL is fixed.
 * - any other 4xx (400 validation, 413 too large, 415 ...): the batch can never succeed; it is discarded,
 *   logged at error level and counted, so one bad batch does not block the rest.
 * - the outbox itself throws (disk full, I/O error): logged, retried with the same backoff.
 */
import { Value } from '@sinclair/typebox/value';
import { httpPost, type HttpPost } from '../common/http-post.ts';
import type { Clock, TimerHandle } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import { ErrorBody, IngestAck, INGEST_PATH, WIRE_VERSION, type AgentStatusReport, type IngestBatch } from '../common/wire.ts';
import { backoffDelay, type BackoffPolicy } from './backoff.ts';
import type { Outbox, OutboxBatch } from './outbox.ts';

export interface UplinkOptions {
  agentId: string;
  /** Collector base URL, e.g. `http://127.0.0.1:8080` (no trailing slash). */
  collectorUrl: string;
  token: string;
  batchIntervalMs: number;
  maxBatchSamples: number;
  outbox: Outbox;
  clock: Clock;
  logger: Logger;
  /** How requests are sent; default httpPost (node:http, see common/http-post.ts). `fetch` fits too. */
  fetch?: HttpPost;
  /** Per-request timeout; default 10 s. */
  requestTimeoutMs?: number;
  /** Retry delays; default 1 s doubling up to 60 s with 50 % jitter. */
  retry?: Partial<BackoffPolicy>;
  /** For the jitter; default Math.random. */
  random?: () => number;
  /**
   * The agent's health summary, sent as `agent_status` with every batch. Should a collector refuse the field
   * (400, an older collector), the batch is sent again at once without it, and it is not sent again.
   */
  statusReport?: () => AgentStatusReport;
}

export interface UplinkStatus {
  sentBatches: number;
  sentSamples: number;
  /** Batches the collector had already stored (resent after a lost answer). */
  duplicateBatches: number;
  /** Batches the collector rejected for good (4xx), and their samples. */
  discardedBatches: number;
  discardedSamples: number;
  /** Samples of acknowledged batches the collector refused one by one (wrong instrument owner, time far off...). */
  rejectedSamples: number;
  /** Samples the outbox dropped because it was full. */
  droppedSamples: number;
  queueDepth: number;
  /** Failed attempts since the last success. */
  failures: number;
  lastSuccessAt?: number;
  lastError?: { code: string; message: string; at: number; status?: number };
  /** The collector's clock minus ours when its latest ack arrived (its `server_time`); undefined before the first. */
  clockSkewMs?: number;
}

type SendOutcome =
  | { kind: 'ok'; ack: IngestAck }
  | { kind: 'retry' | 'discard'; code: string; message: string; status?: number; retryAfterMs?: number };

/** Longest Retry-After the agent honours (a wrong header must not stall delivery for hours). */
export const MAX_RETRY_AFTER_MS = 300_000;

/** A Retry-After header (seconds, or an HTTP date) in ms from `now`; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const text = header.trim();
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - now;
  return Number.isFinite(ms) ? Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms)) : undefined;
}

export const DEFAULT_UPLINK_RETRY: BackoffPolicy = { initialMs: 1000, maxMs: 60_000, factor: 2, jitter: 0.5 };
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

const SETUP_ERRORS = new Set([401, 403, 404]);
const RETRY_STATUSES = new Set([408, 429]);

/** Sends the outbox to the collector. Create, start(); stop() then flush(). */
export class Uplink {
  readonly #o: UplinkOptions;
  readonly #retry: BackoffPolicy;
  readonly #fetch: HttpPost;
  readonly #url: string;
  #timer: TimerHandle | undefined;
  #inflight: Promise<void> | undefined;
  #running = false;
  #failures = 0;
  #loggedFailure: string | undefined;
  #s = { sentBatches: 0, sentSamples: 0, duplicateBatches: 0, discardedBatches: 0, discardedSamples: 0, rejectedSamples: 0 };
  /** The Retry-After of the last failed send, when the collector gave one. */
  #retryAfterMs: number | undefined;
  #lastSuccessAt: number | undefined;
  #lastError: UplinkStatus['lastError'];
  #clockSkewMs: number | undefined;
  /** The collector refused a batch carrying agent_status (400): send batches without it. */
  #statusRefused = false;

  constructor(options: UplinkOptions) {
    this.#o = options;
    this.#retry = { ...DEFAULT_UPLINK_RETRY, ...options.retry };
    this.#fetch = options.fetch ?? httpPost;
    this.#url = `${options.collectorUrl.replace(/\/+$/, '')}${INGEST_PATH}`;
  }

  /** Starts sending every batch interval. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(this.#o.batchIntervalMs);
  }

  /** Stops the timer and waits for a send in progress. Queued samples stay in the outbox. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#inflight;
  }

  /**
   * Sends what is queued, batch after batch, until the outbox is empty, a send fails, or `deadlineMs`
   * (from now) passes; for shutdown. Resolves true when everything was sent.
   */
  async flush(deadlineMs: number): Promise<boolean> {
    await this.#inflight;
    const end = this.#o.clock.now() + deadlineMs;
    for (;;) {
      const left = end - this.#o.clock.now();
      if (left <= 0) return this.#o.outbox.stats().depth === 0;
      const batch = this.#o.outbox.nextBatch(this.#o.maxBatchSamples);
      if (!batch) return true;
      const outcome = await this.#sendAndSettle(batch, Math.min(left, this.#o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS));
      if (outcome === 'retry') return false;
    }
  }

  status(): UplinkStatus {
    const outbox = this.#o.outbox.stats();
    return {
      ...this.#s,
      droppedSamples: outbox.droppedSamples,
      queueDepth: outbox.depth,
      failures: this.#failures,
      ...(this.#lastSuccessAt === undefined ? {} : { lastSuccessAt: this.#lastSuccessAt }),
      ...(this.#lastError ? { lastError: { ...this.#lastError } } : {}),
      ...(this.#clockSkewMs === undefined ? {} : { clockSkewMs: this.#clockSkewMs }),
    };
  }

  #schedule(delayMs: number): void {
    if (!this.#running) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#inflight = this.#tick()
        .catch((err: unknown) => this.#outboxFailed(err))
        .finally(() => {
          this.#inflight = undefined;
        });
    }, Math.max(0, delayMs));
  }

  /** The outbox threw (disk or file error): logged once per streak, retried with backoff like a failed send. */
  #outboxFailed(err: unknown): void {
    this.#failures++;
    const message = err instanceof Error ? err.message : String(err);
    this.#lastError = { code: 'OUTBOX', message, at: this.#o.clock.now() };
    if (this.#loggedFailure !== 'OUTBOX') {
      this.#loggedFailure = 'OUTBOX';
      this.#o.logger.error({ err }, `the outbox failed, retrying with backoff: ${message}`);
    }
    this.#schedule(backoffDelay(this.#failures, this.#retry, this.#o.random));
  }

  async #tick(): Promise<void> {
    for (;;) {
      const batch = this.#o.outbox.nextBatch(this.#o.maxBatchSamples);
      if (!batch) {
        this.#schedule(this.#o.batchIntervalMs);
        return;
      }
      const result = await this.#sendAndSettle(batch, this.#o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
      if (result === 'retry') {
        // A collector shedding load says when to come back (503 + Retry-After): never sooner than that.
        this.#schedule(Math.max(backoffDelay(this.#failures, this.#retry, this.#o.random), this.#retryAfterMs ?? 0));
        return;
      }
      // A full batch or more still waiting (catching up after an outage): keep sending without waiting.
      if (!this.#running || this.#o.outbox.stats().depth < this.#o.maxBatchSamples) {
        this.#schedule(this.#o.batchIntervalMs);
        return;
      }
    }
  }

  /** Sends one batch and applies the outcome to the outbox and the counters. */
  async #sendAndSettle(batch: OutboxBatch, timeoutMs: number): Promise<'ok' | 'retry' | 'discard'> {
    const outcome = await this.#send(batch, timeoutMs);
    const now = this.#o.clock.now();
    const log = this.#o.logger;
    this.#retryAfterMs = outcome.kind === 'ok' ? undefined : outcome.retryAfterMs;
    if (outcome.kind === 'ok') {
      this.#o.outbox.ack(batch.id);
      const rejected = outcome.ack.rejected ?? [];
      if (rejected.length > 0) {
        this.#s.rejectedSamples += rejected.reduce((n, r) => n + r.count, 0);
        log.error(
          { batchId: batch.id, rejected },
          `the collector refused ${rejected.map((r) => `${r.count} sample(s) of ${r.instrument_id} (${r.code}: ${r.message})`).join('; ')}; the rest of batch ${batch.id} was stored`,
        );
      }
      this.#s.sentBatches++;
      this.#s.sentSamples += batch.samples.length;
      if (outcome.ack.duplicate) this.#s.duplicateBatches++;
      this.#lastSuccessAt = now;
      this.#clockSkewMs = outcome.ack.server_time - now;
      if (this.#failures > 0) log.info({ batchId: batch.id, failedAttempts: this.#failures }, 'collector reachable again');
      this.#failures = 0;
      this.#loggedFailure = undefined;
      return 'ok';
    }
    const { code, message, status } = outcome;
    this.#lastError = { code, message, at: now, ...(status === undefined ? {} : { status }) };
    const fields = { batchId: batch.id, seq: batch.seq, samples: batch.samples.length, code, ...(status === undefined ? {} : { status }) };
    if (outcome.kind === 'discard') {
      this.#o.outbox.discard(batch.id);
      this.#s.discardedBatches++;
      this.#s.discardedSamples += batch.samples.length;
      log.error(fields, `collector rejected batch ${batch.id} for good, discarding ${batch.samples.length} samples: ${code} ${message}`);
      return 'discard';
    }
    this.#failures++;
    const key = `${status ?? ''}${code}`;
    if (key !== this.#loggedFailure) {
      this.#loggedFailure = key;
      log.warn(fields, `sending batch ${batch.id} failed, retrying with backoff: ${code} ${message}`);
    }
    return 'retry';
  }

  async #send(batch: OutboxBatch, timeoutMs: number): Promise<SendOutcome> {
    const report = this.#report();
    const outcome = await this.#post(batch, timeoutMs, report);
    if (report !== undefined && outcome.kind === 'discard' && outcome.status === 400) {
      // An older collector does not know agent_status: readings matter more than the summary.
      this.#statusRefused = true;
      this.#o.logger.warn(
        { batchId: batch.id, code: outcome.code },
        `the collector refused the agent_status field (${outcome.message}); sending batches without it (upgrade the collector)`,
      );
      return this.#post(batch, timeoutMs, undefined);
    }
    return outcome;
  }

  /** The health summary for the next batch, unless the collector refused it or building it fails. */
  #report(): AgentStatusReport | undefined {
    if (this.#statusRefused || this.#o.statusReport === undefined) return undefined;
    try {
      return this.#o.statusReport();
    } catch (err) {
      this.#o.logger.error({ err }, 'building the agent_status summary failed; sending the batch without it');
      return undefined;
    }
  }

  async #post(batch: OutboxBatch, timeoutMs: number, report: AgentStatusReport | undefined): Promise<SendOutcome> {
    const { clock, agentId, token } = this.#o;
    const body: IngestBatch = {
      wire_version: WIRE_VERSION,
      agent_id: agentId,
      batch_id: batch.id,
      seq: batch.seq,
      sent_at: clock.now(),
      samples: [...batch.samples],
      ...(report === undefined ? {} : { agent_status: report }),
    };
    const ac = new AbortController();
    const timer = clock.setTimeout(() => ac.abort(), timeoutMs);
    try {
      const res = await this.#fetch(this.#url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
        signal: ac.signal,
      });
      const text = await res.text();
      const outcome = classify(res.status, text, batch.id);
      const after = retryAfterMs(res.headers.get('retry-after'), clock.now());
      return outcome.kind !== 'ok' && after !== undefined ? { ...outcome, retryAfterMs: after } : outcome;
    } catch (err) {
      if (ac.signal.aborted) return { kind: 'retry', code: 'TIMEOUT', message: `no answer from ${this.#url} within ${timeoutMs} ms` };
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return {
        kind: 'retry',
        code: cause?.code ?? 'NETWORK',
        message: `cannot reach ${this.#url}: ${cause?.message ?? (err as Error).message}`,
      };
    } finally {
      clock.clearTimeout(timer);
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Turns an HTTP answer into an outcome. */
function classify(status: number, text: string, batchId: string): SendOutcome {
  const json = parseJson(text);
  if (status === 200) {
    if (Value.Check(IngestAck, json) && json.batch_id === batchId) return { kind: 'ok', ack: json };
    return { kind: 'retry', code: 'BAD_ACK', status, message: `the collector answered 200 without an IngestAck for ${batchId}: ${text.slice(0, 200)}` };
  }
  const body = Value.Check(ErrorBody, json) ? json : undefined;
  const code = body?.code ?? `HTTP_${status}`;
  const message = body?.message ?? (text.slice(0, 200) || `HTTP ${status}`);
  if (status >= 500 || RETRY_STATUSES.has(status) || SETUP_ERRORS.has(status) || status < 400) {
    return { kind: 'retry', code, message, status };
  }
  return { kind: 'discard', code, message, status };
}
