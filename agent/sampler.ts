/**
 * The sampler: polls one instrument's driver on the injected clock and turns each read into a Sample.
 *
 * - One poll every `intervalMs`, measured from the start of the previous read (a slow read delays the next
 *   one, reads never overlap). `ts` is clock.now() at read start.
 * - A failed read yields a Sample with `readings: {}` and `error: <code>` (the collector shows 'unknown'),
 *   then retries with capped exponential backoff (never faster than the interval).
 * - It logs once per error streak (again only when the error code changes) and once on recovery.
 * - The sink is wrapped: a throwing sink is logged with the instrument's name and never stops polling.
 */
import type { Clock, TimerHandle } from '../common/clock.ts';
import { JishiError, type ErrorCode } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { Sample } from '../common/wire.ts';
import { backoffDelay, type BackoffPolicy } from './backoff.ts';
import type { PolledDriver } from './drivers/driver.ts';

export interface SamplerOptions {
  instrumentId: string;
  driver: PolledDriver;
  intervalMs: number;
  clock: Clock;
  logger: Logger;
  /** Receives every sample, successful or not: exactly one per poll. */
  sink: (sample: Sample) => void;
  /** Called when a poll starts, before the read; its sample follows through `sink` (the agent groups appends). */
  onPollStart?: () => void;
  /** Retry delays after failed reads; default from the interval up to max(interval, 60 s). */
  backoff?: Partial<BackoffPolicy>;
}

export interface SamplerStatus {
  instrumentId: string;
  target: string;
  running: boolean;
  /** Successful reads. */
  reads: number;
  /** Failed reads. */
  errors: number;
  /** Failed reads since the last successful one. */
  errorStreak: number;
  lastError?: { code: string; message: string; at: number };
  /** ts of the last successful read. */
  lastReadingAt?: number;
  /** Driver reconnects (see DriverStats). */
  reconnects: number;
  connected: boolean;
}

/** Default backoff cap: one minute, or the interval when that is longer. */
export const DEFAULT_SAMPLER_BACKOFF_MAX_MS = 60_000;

/** Polls one instrument. Create, then start(); stop() waits for a read in progress. */
export class Sampler {
  readonly #o: SamplerOptions;
  readonly #policy: BackoffPolicy;
  readonly #log: Logger;
  #timer: TimerHandle | undefined;
  #inflight: Promise<void> | undefined;
  #running = false;
  #opened = false;
  #reads = 0;
  #errors = 0;
  #streak = 0;
  #streakCode: string | undefined;
  #lastError: SamplerStatus['lastError'];
  #lastReadingAt: number | undefined;
  /** Fields that were non-finite in the latest reads (logged once). */
  readonly #nonFinite = new Set<string>();

  constructor(options: SamplerOptions) {
    this.#o = options;
    this.#policy = {
      initialMs: options.backoff?.initialMs ?? options.intervalMs,
      maxMs: options.backoff?.maxMs ?? Math.max(options.intervalMs, DEFAULT_SAMPLER_BACKOFF_MAX_MS),
      factor: options.backoff?.factor ?? 2,
      jitter: options.backoff?.jitter ?? 0,
    };
    this.#log = options.logger.child({ instrument: options.instrumentId, target: options.driver.target });
  }

  /** Starts polling; the first read happens at once (on the next timer turn). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(0);
  }

  /** Stops polling and waits for a read in progress. Does not close the driver. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#inflight;
  }

  status(): SamplerStatus {
    const stats = this.#o.driver.stats();
    return {
      instrumentId: this.#o.instrumentId,
      target: this.#o.driver.target,
      running: this.#running,
      reads: this.#reads,
      errors: this.#errors,
      errorStreak: this.#streak,
      ...(this.#lastError ? { lastError: { ...this.#lastError } } : {}),
      ...(this.#lastReadingAt === undefined ? {} : { lastReadingAt: this.#lastReadingAt }),
      reconnects: stats.reconnects,
      connected: stats.connected,
    };
  }

  #schedule(delayMs: number): void {
    if (!this.#running) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#inflight = this.#poll().finally(() => {
        this.#inflight = undefined;
      });
    }, Math.max(0, delayMs));
  }

  async #poll(): Promise<void> {
    const { clock, driver, instrumentId, intervalMs, onPollStart } = this.#o;
    const ts = clock.now();
    if (onPollStart) this.#announce(onPollStart);
    let sample: Sample;
    try {
      if (!this.#opened) {
        await driver.open();
        this.#opened = true;
      }
      const result = await driver.read();
      const readings = this.#finite(result.readings);
      sample = { instrument_id: instrumentId, ts, readings, ...(result.status === undefined ? {} : { status: result.status }) };
      this.#succeeded(ts);
    } catch (err) {
      const code = this.#failed(err, ts);
      sample = { instrument_id: instrumentId, ts, readings: {}, error: code };
    }
    this.#emit(sample);
    const next = this.#streak === 0 ? ts + intervalMs : ts + Math.max(intervalMs, backoffDelay(this.#streak, this.#policy));
    this.#schedule(next - clock.now());
  }

  /**
   * The readings without NaN/Infinity (a device answering garbage, a float32 NaN register): JSON cannot carry
   * them, and the collector would refuse the whole batch. Logged once per field and streak.
   */
  #finite(readings: Sample['readings']): Sample['readings'] {
    let bad: string[] | undefined;
    for (const k in readings) if (!Number.isFinite(readings[k])) (bad ??= []).push(k);
    if (bad === undefined) {
      if (this.#nonFinite.size > 0) this.#nonFinite.clear();
      return readings;
    }
    const fresh = bad.filter((k) => !this.#nonFinite.has(k));
    if (fresh.length > 0) this.#log.warn({ fields: fresh }, `device gave non-finite values for ${fresh.join(', ')}; those fields are left out of the sample`);
    for (const k of bad) this.#nonFinite.add(k);
    return Object.fromEntries(Object.entries(readings).filter(([k]) => !bad.includes(k)));
  }

  #succeeded(ts: number): void {
    this.#reads++;
    this.#lastReadingAt = ts;
    if (this.#streak > 0) {
      this.#log.info({ failedReads: this.#streak, lastError: this.#streakCode }, 'device readable again');
    }
    this.#streak = 0;
    this.#streakCode = undefined;
  }

  /** Counts and logs a failed read; returns the code for the sample. */
  #failed(err: unknown, ts: number): ErrorCode {
    const code: ErrorCode = err instanceof JishiError ? err.code : 'JISHI_ERR_INTERNAL';
    const message = err instanceof Error ? err.message : String(err);
    this.#errors++;
    this.#streak++;
    this.#lastError = { code, message, at: ts };
    if (code !== this.#streakCode) {
      const fields = { code, ...(this.#streak > 1 ? { failedReads: this.#streak } : {}) };
      if (code === 'JISHI_ERR_INTERNAL') this.#log.error({ ...fields, err }, `driver failed unexpectedly: ${message}`);
      else this.#log.warn(fields, `device read failed: ${message} (retrying with backoff; logged again on recovery or another error)`);
      this.#streakCode = code;
    }
    return code;
  }

  #announce(onPollStart: () => void): void {
    try {
      onPollStart();
    } catch (err) {
      this.#log.error({ err }, `poll start hook for instrument ${this.#o.instrumentId} threw`);
    }
  }

  #emit(sample: Sample): void {
    try {
      this.#o.sink(sample);
    } catch (err) {
      this.#log.error({ err }, `sample sink for instrument ${this.#o.instrumentId} threw; sample lost`);
    }
  }
}
