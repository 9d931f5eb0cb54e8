/**
 * The outbox: samples waiting to be sent, cut into batches with stable ids.
 *
 * Two implementations: the durable SqliteOutbox (./sqlite-outbox.ts, what the agent runs on) and MemoryOutbox
 * here (bounded, drops the oldest samples when full, loses everything on restart; for tests and library use).
 * The interface is synchronous on purpose: better-sqlite3 is.
 *
 * The agent does not append sample by sample: an OutboxAppender (below) collects the samples of reads that
 * overlap in time and appends them in one call (one transaction in the SQLite outbox), see its comment for the
 * window and what a crash can lose.
 */
import type { Clock, TimerHandle } from '../common/clock.ts';
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
  /**
   * Queues samples, in order, all or none: when it throws, none of them was queued (so the caller may retry them;
   * the SQLite outbox appends them in one transaction).
   */
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

/** Default OutboxAppender window: the longest a sample waits in memory while other reads are still running. */
export const DEFAULT_APPEND_WINDOW_MS = 50;
/** Default cap of samples waiting for the window: more are appended at once. */
export const DEFAULT_APPEND_MAX_PENDING = 1000;
/** Default cap of samples kept in memory while the outbox fails; beyond it the oldest are lost (counted, logged). */
export const DEFAULT_APPEND_MAX_RETAINED = 10_000;
/** Default delay between two attempts while the outbox fails. */
export const DEFAULT_APPEND_RETRY_MS = 1000;

export interface OutboxAppenderOptions {
  outbox: Outbox;
  clock: Clock;
  logger: Logger;
  /** Longest a sample waits while other reads are running (ms); default DEFAULT_APPEND_WINDOW_MS. */
  windowMs?: number;
  /** Appended at once when this many samples wait; default DEFAULT_APPEND_MAX_PENDING. */
  maxPending?: number;
  /** Samples kept for another attempt while the outbox fails; default DEFAULT_APPEND_MAX_RETAINED. */
  maxRetained?: number;
  /** Delay between attempts while the outbox fails (ms); default DEFAULT_APPEND_RETRY_MS. */
  retryMs?: number;
  /**
   * Sees every sample once, in order, after the append that carried it was committed, or (while the outbox
   * fails) once it was kept for another attempt. A throw is the caller's to handle: wrap the listener.
   */
  onSamples?: (samples: readonly Sample[]) => void;
}

export interface OutboxAppenderStats {
  /** Samples not yet committed to the outbox: waiting for the window, or kept while the outbox fails. */
  pending: number;
  /** Samples that could not be stored: dropped from memory while the outbox failed, or left at close(). */
  lost: number;
  /** Append calls made (each one transaction in the SQLite outbox), failed ones included. */
  appends: number;
}

/**
 * Groups samples into few outbox appends, in order.
 *
 * - The sampler announces each read (readStarted()) and hands its sample over when it ends (add()). When no
 *   announced read is still running, everything waiting is appended at once, in one call; otherwise samples
 *   wait until the last running read ends, at most `windowMs` after the first of them arrived (or until
 *   `maxPending` wait). Reads that do not overlap in time are therefore appended one by one, as they come;
 *   the samples of reads that overlap (many instruments polled on the same schedule) go in one transaction.
 * - What a crash can lose: besides a read in progress, the samples of reads that ended less than `windowMs`
 *   before the crash while another read was still running (they were in memory only).
 * - The outbox throws (disk full, I/O error): the samples are kept in memory, in order, and appended again
 *   every `retryMs` together with the newer ones (listeners see new samples at once meanwhile). The first failure
 *   and the recovery are logged. Only when more than `maxRetained` samples wait are the oldest given up (counted
 *   in `lost`); close() makes a last attempt and counts what is still not stored as lost.
 */
export class OutboxAppender {
  readonly #outbox: Outbox;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #windowMs: number;
  readonly #maxPending: number;
  readonly #maxRetained: number;
  readonly #retryMs: number;
  readonly #onSamples: ((samples: readonly Sample[]) => void) | undefined;
  /** Samples never attempted yet, oldest first. */
  #fresh: Sample[] = [];
  /** Samples whose append failed, oldest first (older than every fresh one). */
  #retained: Sample[] = [];
  #running = 0;
  #timer: TimerHandle | undefined;
  #failing = false;
  #lost = 0;
  #appends = 0;
  #closed = false;

  constructor(options: OutboxAppenderOptions) {
    this.#outbox = options.outbox;
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#windowMs = options.windowMs ?? DEFAULT_APPEND_WINDOW_MS;
    this.#maxPending = Math.max(1, options.maxPending ?? DEFAULT_APPEND_MAX_PENDING);
    this.#maxRetained = Math.max(1, options.maxRetained ?? DEFAULT_APPEND_MAX_RETAINED);
    this.#retryMs = options.retryMs ?? DEFAULT_APPEND_RETRY_MS;
    this.#onSamples = options.onSamples;
  }

  /** A read started; its sample comes through add(). */
  readStarted(): void {
    this.#running++;
  }

  /** The sample of a read that ended (announced with readStarted() or not). */
  add(sample: Sample): void {
    if (this.#running > 0) this.#running--;
    if (this.#closed) {
      // Too late for the outbox (the agent is stopping): counted like a sample the outbox could not take.
      this.#lost++;
      this.#onSamples?.([sample]);
      return;
    }
    if (this.#failing) {
      // The retry timer is running: keep it in order behind the others, show it at once.
      this.#retain([sample]);
      this.#onSamples?.([sample]);
      return;
    }
    this.#fresh.push(sample);
    if (this.#running === 0 || this.#fresh.length >= this.#maxPending) this.flush();
    else this.#timer ??= this.#clock.setTimeout(() => this.#fire(), this.#windowMs);
  }

  /** Appends everything waiting now, in one call. Never throws (see the class comment for failures). */
  flush(): void {
    this.#cancelTimer();
    if (this.#fresh.length === 0 && this.#retained.length === 0) return;
    const fresh = this.#fresh;
    this.#fresh = [];
    const group = this.#retained.length === 0 ? fresh : this.#retained.concat(fresh);
    this.#appends++;
    try {
      this.#outbox.append(group);
      this.#retained = [];
      if (this.#failing) {
        this.#failing = false;
        this.#log.info({ samples: group.length }, `the outbox takes samples again; ${group.length} sample(s) kept in memory meanwhile were stored`);
      }
    } catch (err) {
      this.#retained = [];
      this.#retain(group);
      if (!this.#failing) {
        this.#failing = true;
        this.#log.error(
          { err, samples: this.#retained.length, retryMs: this.#retryMs },
          `cannot store samples in the outbox; keeping them in memory (at most ${this.#maxRetained}) and retrying: ${(err as Error).message}`,
        );
      }
      if (!this.#closed) this.#timer = this.#clock.setTimeout(() => this.#fire(), this.#retryMs);
    }
    if (fresh.length > 0) this.#onSamples?.(fresh);
  }

  /** Appends what waits (one last attempt) and stops; samples still not stored are counted as lost. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.flush();
    this.#cancelTimer();
    const left = this.#retained.length;
    if (left === 0) return;
    this.#retained = [];
    this.#lost += left;
    this.#log.error({ lostSamples: left }, `${left} sample(s) could not be stored in the outbox before the agent stopped; they are lost`);
  }

  stats(): OutboxAppenderStats {
    return { pending: this.#fresh.length + this.#retained.length, lost: this.#lost, appends: this.#appends };
  }

  #fire(): void {
    this.#timer = undefined;
    this.flush();
  }

  #cancelTimer(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Keeps samples for the next attempt, behind those kept already; gives up the oldest beyond maxRetained. */
  #retain(samples: readonly Sample[]): void {
    for (const s of samples) this.#retained.push(s);
    const over = this.#retained.length - this.#maxRetained;
    if (over <= 0) return;
    this.#retained.splice(0, over);
    const first = this.#lost === 0;
    this.#lost += over;
    if (first || this.#lost % this.#maxRetained < over) {
      this.#log.error(
        { lostSamples: this.#lost },
        `the outbox still fails: ${this.#lost} sample(s) lost so far (more than ${this.#maxRetained} waited in memory)`,
      );
    }
  }
}
