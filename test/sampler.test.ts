import { describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock.ts';
import { JishiError, type ErrorCode } from '../common/errors.ts';
import type { Sample } from '../common/wire.ts';
import type { DriverStats, PolledDriver, ReadResult } from '../agent/drivers/driver.ts';
import { Sampler } from '../agent/sampler.ts';
import { capture } from './helpers/log-capture.ts';

const T0 = Date.UTC(2025, 2, 3, 8, 0, 0);

/** A driver that answers from a script: a number is a power reading, a code is a failure. */
class ScriptedDriver implements PolledDriver {
  readonly kind = 'polled';
  readonly target = 'modbus-tcp://192.0.2.1:502?unit=1';
  reads = 0;
  opens = 0;
  readonly #script: Array<number | ErrorCode | Error>;
  readonly #fallback: number | ErrorCode | Error;

  constructor(script: Array<number | ErrorCode | Error>, fallback: number | ErrorCode | Error = 100) {
    this.#script = script;
    this.#fallback = fallback;
  }

  async open(): Promise<void> {
    this.opens++;
  }

  async read(): Promise<ReadResult> {
    this.reads++;
    const step = this.#script.length > 0 ? this.#script.shift()! : this.#fallback;
    if (step instanceof Error) throw step;
    if (typeof step === 'string') throw new JishiError(step, `scripted ${step}`);
    return { readings: { power_w: step } };
  }

  async close(): Promise<void> {}

  stats(): DriverStats {
    return { connected: true, reconnects: 2 };
  }
}

/** Lets the promise chains started by fired timers run to completion. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Advances the manual clock in steps, settling after each so async polls reschedule in time. */
async function run(clock: ManualClock, ms: number, step = 100): Promise<void> {
  await settle();
  for (let t = 0; t < ms; t += step) {
    clock.advance(Math.min(step, ms - t));
    await settle();
  }
}

function setup(driver: PolledDriver, opts: { intervalMs?: number; backoffMaxMs?: number; sink?: (s: Sample) => void } = {}) {
  const clock = new ManualClock(T0);
  const { logger, lines } = capture();
  const samples: Sample[] = [];
  const sampler = new Sampler({
    instrumentId: 'FCM-1',
    driver,
    intervalMs: opts.intervalMs ?? 1000,
    clock,
    logger,
    sink: opts.sink ?? ((s) => samples.push(s)),
    ...(opts.backoffMaxMs === undefined ? {} : { backoff: { maxMs: opts.backoffMaxMs } }),
  });
  return { clock, lines, samples, sampler };
}

describe('Sampler', () => {
  it('polls every interval on the injected clock, stamping the read start', async () => {
    const driver = new ScriptedDriver([10, 20, 30]);
    const { clock, samples, sampler } = setup(driver);
    sampler.start();
    await run(clock, 2500);
    expect(samples).toEqual([
      { instrument_id: 'FCM-1', ts: T0, readings: { power_w: 10 } },
      { instrument_id: 'FCM-1', ts: T0 + 1000, readings: { power_w: 20 } },
      { instrument_id: 'FCM-1', ts: T0 + 2000, readings: { power_w: 30 } },
    ]);
    expect(driver.opens).toBe(1);
    expect(sampler.status()).toMatchObject({ reads: 3, errors: 0, errorStreak: 0, lastReadingAt: T0 + 2000, reconnects: 2, running: true });
    await sampler.stop();
    await run(clock, 5000);
    expect(samples).toHaveLength(3);
    expect(sampler.status().running).toBe(false);
  });

  it('emits error samples, backs off exponentially, and logs once per streak', async () => {
    const timeout = 'JISHI_ERR_DEVICE_TIMEOUT';
    const driver = new ScriptedDriver([timeout, timeout, timeout, 'JISHI_ERR_DEVICE_UNREACHABLE', 42]);
    const { clock, samples, sampler, lines } = setup(driver);
    sampler.start();
    await run(clock, 17_500);
    // retries after 1 s, 2 s, 4 s, 8 s; then back to the 1 s interval
    expect(samples.map((s) => [s.ts - T0, s.error ?? s.readings.power_w])).toEqual([
      [0, timeout],
      [1000, timeout],
      [3000, timeout],
      [7000, 'JISHI_ERR_DEVICE_UNREACHABLE'],
      [15_000, 42],
      [16_000, 100],
      [17_000, 100],
    ]);
    expect(samples[0]).toEqual({ instrument_id: 'FCM-1', ts: T0, readings: {}, error: timeout });
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings.map((l) => l.code)).toEqual([timeout, 'JISHI_ERR_DEVICE_UNREACHABLE']);
    expect(warnings[0]).toMatchObject({ instrument: 'FCM-1', target: driver.target });
    expect(String(warnings[0]!.msg)).toContain('scripted JISHI_ERR_DEVICE_TIMEOUT');
    const recovered = lines.filter((l) => l.msg === 'device readable again');
    expect(recovered).toEqual([expect.objectContaining({ failedReads: 4, lastError: 'JISHI_ERR_DEVICE_UNREACHABLE' })]);
    expect(sampler.status()).toMatchObject({
      reads: 3,
      errors: 4,
      errorStreak: 0,
      lastError: { code: 'JISHI_ERR_DEVICE_UNREACHABLE', at: T0 + 7000 },
    });
    await sampler.stop();
  });

  it('caps the backoff', async () => {
    const driver = new ScriptedDriver([], 'JISHI_ERR_DEVICE_UNREACHABLE');
    const { clock, samples, sampler, lines } = setup(driver, { backoffMaxMs: 5000 });
    sampler.start();
    await run(clock, 30_000);
    const gaps = samples.slice(1).map((s, i) => s.ts - samples[i]!.ts);
    expect(gaps).toEqual([1000, 2000, 4000, 5000, 5000, 5000, 5000]);
    expect(lines.filter((l) => l.level === 40)).toHaveLength(1);
    expect(sampler.status()).toMatchObject({ errors: 8, errorStreak: 8 });
    await sampler.stop();
  });

  it('starts the next read at once when a read takes longer than the interval', async () => {
    const clock = new ManualClock(T0);
    const starts: number[] = [];
    const ends: number[] = [];
    let busy = false;
    const slow: PolledDriver = {
      kind: 'polled',
      target: 'slow',
      open: async () => {},
      read: () =>
        new Promise<ReadResult>((resolve) => {
          expect(busy).toBe(false);
          busy = true;
          starts.push(clock.now());
          clock.setTimeout(() => {
            busy = false;
            ends.push(clock.now());
            resolve({ readings: { power_w: 1 } });
          }, 1500);
        }),
      close: async () => {},
      stats: () => ({ connected: true, reconnects: 0 }),
    };
    const sampler = new Sampler({ instrumentId: 'SLOW', driver: slow, intervalMs: 1000, clock, logger: capture().logger, sink: () => {} });
    sampler.start();
    await run(clock, 4000);
    // reads never overlap, and each one starts as soon as the previous (late) one ended
    expect(starts).toHaveLength(3);
    expect(starts.slice(1)).toEqual(ends.slice(0, 2));
    const stopped = sampler.stop();
    await run(clock, 1500);
    await stopped;
    expect(sampler.status().reads).toBe(3);
  });

  it('keeps a failing instrument from affecting the others; a throwing sink is named', async () => {
    const clock = new ManualClock(T0);
    const { logger, lines } = capture();
    const got: Sample[] = [];
    const healthy = new Sampler({ instrumentId: 'OK-1', driver: new ScriptedDriver([]), intervalMs: 1000, clock, logger, sink: (s) => got.push(s) });
    const broken = new Sampler({
      instrumentId: 'BAD-2',
      driver: new ScriptedDriver([], new TypeError('driver bug')),
      intervalMs: 1000,
      clock,
      logger,
      sink: (s) => got.push(s),
    });
    const throwing = new Sampler({
      instrumentId: 'SINK-3',
      driver: new ScriptedDriver([]),
      intervalMs: 1000,
      clock,
      logger,
      sink: () => {
        throw new Error('sink exploded');
      },
    });
    for (const s of [healthy, broken, throwing]) s.start();
    await run(clock, 5500);
    expect(got.filter((s) => s.instrument_id === 'OK-1').map((s) => s.ts - T0)).toEqual([0, 1000, 2000, 3000, 4000, 5000]);
    // a non-device error is a driver bug: reported as JISHI_ERR_INTERNAL, logged at error level once
    const bad = got.filter((s) => s.instrument_id === 'BAD-2');
    expect(bad.map((s) => s.error)).toEqual(['JISHI_ERR_INTERNAL', 'JISHI_ERR_INTERNAL', 'JISHI_ERR_INTERNAL']);
    expect(lines.filter((l) => l.instrument === 'BAD-2' && l.level === 50)).toHaveLength(1);
    const sinkErrors = lines.filter((l) => l.instrument === 'SINK-3' && l.level === 50);
    expect(sinkErrors).toHaveLength(6);
    expect(String(sinkErrors[0]!.msg)).toContain('sample sink for instrument SINK-3 threw');
    expect(throwing.status().reads).toBe(6);
    await Promise.all([healthy.stop(), broken.stop(), throwing.stop()]);
  });
});

describe('Sampler and non-finite values', () => {
  it('leaves NaN and Infinity out of the sample (JSON cannot carry them), keeps the other fields, and logs once', async () => {
    const values = [Number.NaN, Number.POSITIVE_INFINITY, 5, Number.NaN];
    const driver: PolledDriver = {
      kind: 'polled',
      target: 'modbus-tcp://192.0.2.1:502?unit=1',
      open: async () => undefined,
      read: async () => ({ readings: { power_w: values.shift() ?? 1, voltage_v: 230 } }),
      close: async () => undefined,
      stats: () => ({ connected: true, reconnects: 0 }),
    };
    const { clock, lines, samples, sampler } = setup(driver);
    sampler.start();
    await run(clock, 3500);
    await sampler.stop();
    expect(samples.map((s) => s.readings)).toEqual([{ voltage_v: 230 }, { voltage_v: 230 }, { power_w: 5, voltage_v: 230 }, { voltage_v: 230 }]);
    expect(samples.every((s) => s.error === undefined)).toBe(true);
    // Once for the first streak, once again after the good read in between.
    expect(lines.filter((l) => /non-finite values for power_w/.test(String(l.msg)))).toHaveLength(2);
  });
});
