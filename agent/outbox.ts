/**
 * The outbox: samples waiting to be sent, cut into batches with stable ids.
 *
 * Two implementations: the durable SqliteOutbox (./sqlite-outbox.ts, what the agent runs on) and MemoryOutbox
 * here (bounded, drops the oldest samples when full, loses everything on restart; for tests and library use).
 * The interface is synchronous on purpose: better-sqlite3 is.
 */
import type { Logger } from '../common/log.ts';
import type { Sample } from '../common/wire.ts';

/** One batch as the outbox cut it. Re-sent unchanged (same id, seq, samples) until acked or discarded. */
export interface OutboxBatch {
  id: string;
  seq: number;
  samples: readonly Sample[];
}

export interface OutboxStats {
  /** Samples not yet acked, including the batch in flight. */
  depth: number;
  /** Samples dropped because the outbox was full (oldest first). The SQLite outbox keeps this across restarts. */
  droppedSamples: number;
  /** `ts` of the oldest sample not yet acked (the head of the queue); undefined when empty. */
  oldestTs?: number;
  /** Size of the queued samples as the quota counts it; undefined for an outbox bounded by count only. */
  bytes?: number;
}

export interface Outbox {
  /** Queues samples, in order. */
  append(samples: readonly Sample[]): void;
  /**
   * The batch to send now: the pending (sent but not acked) batch if there is one, whatever `max` is;
   * else a new batch of at most `max` of the oldest samples; undefined when nothing is queued.
   */
  nextBatch(max: number): OutboxBatch | undefined;
  /** The collector stored the batch: forget it. Unknown ids are ignored. */
  ack(batchId: string): void;
  /** The collector rejected the batch for good: forget it without it being stored. Unknown ids are ignored. */
  discard(batchId: string): void;
  stats(): OutboxStats;
}

export interface MemoryOutboxOptions {
  agentId: string;
  /** Distinguishes this process's batch ids from earlier runs' (the memory outbox forgets its seq on restart). */
  bootId: string;
  /** First batch seq. The agent passes its clock's now() in ms, so seq keeps growing across restarts. */
  firstSeq: number;
  /** Most samples kept; beyond it the oldest queued samples are dropped. */
  maxSamples: number;
  logger: Logger;
}

/** Bounded in-memory outbox. Loses its content on restart. */
export class MemoryOutbox implements Outbox {
  readonly #opts: MemoryOutboxOptions;
  readonly #idPrefix: string;
  #queue: Sample[] = [];
  #pending: OutboxBatch | undefined;
  #seq: number;
  #dropped = 0;
  #dropping = false;

  constructor(options: MemoryOutboxOptions) {
    this.#opts = options;
    this.#seq = options.firstSeq;
    // batch ids are at most 80 characters: keep room for the boot id and a 16-digit seq.
    this.#idPrefix = `${options.agentId.slice(0, 48)}-${options.bootId.slice(0, 12)}`;
  }

  append(samples: readonly Sample[]): void {
    for (const s of samples) this.#queue.push(s);
    const overflow = this.#depth() - this.#opts.maxSamples;
    if (overflow <= 0) return;
    const n = Math.min(overflow, this.#queue.length);
    this.#queue.splice(0, n);
    this.#dropped += n;
    if (!this.#dropping) {
      this.#dropping = true;
      this.#opts.logger.warn(
        { maxSamples: this.#opts.maxSamples, droppedSamples: this.#dropped },
        'outbox full: dropping the oldest samples until the collector accepts batches again',
      );
    }
  }

  nextBatch(max: number): OutboxBatch | undefined {
    if (this.#pending) return this.#pending;
    if (this.#queue.length === 0) return undefined;
    const samples = this.#queue.splice(0, Math.max(1, max));
    const seq = this.#seq++;
    this.#pending = { id: `${this.#idPrefix}-${seq}`, seq, samples };
    return this.#pending;
  }

  ack(batchId: string): void {
    if (this.#pending?.id !== batchId) return;
    this.#pending = undefined;
    this.#dropping = false;
  }

  discard(batchId: string): void {
    if (this.#pending?.id !== batchId) return;
    this.#pending = undefined;
  }

  stats(): OutboxStats {
    const oldest = this.#pending?.samples[0] ?? this.#queue[0];
    return { depth: this.#depth(), droppedSamples: this.#dropped, ...(oldest ? { oldestTs: oldest.ts } : {}) };
  }

  #depth(): number {
    return this.#queue.length + (this.#pending?.samples.length ?? 0);
  }
}
