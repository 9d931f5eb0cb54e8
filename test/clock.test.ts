import { describe, expect, it } from 'vitest';
import { ManualClock, sleep } from '../common/clock.ts';

describe('ManualClock', () => {
  it('fires timers in due order while advancing', () => {
    const clock = new ManualClock(1_000);
    const fired: Array<[string, number]> = [];
    clock.setTimeout(() => fired.push(['b', clock.now()]), 200);
    clock.setTimeout(() => fired.push(['a', clock.now()]), 100);
    const c = clock.setTimeout(() => fired.push(['c', clock.now()]), 150);
    clock.clearTimeout(c);
    clock.advance(150);
    expect(fired).toEqual([['a', 1_100]]);
    clock.advance(100);
    expect(fired).toEqual([['a', 1_100], ['b', 1_200]]);
    expect(clock.now()).toBe(1_250);
  });

  it('runs timers scheduled by timers within the same advance', () => {
    const clock = new ManualClock(0);
    const ticks: number[] = [];
    const tick = (): void => {
      ticks.push(clock.now());
      clock.setTimeout(tick, 10);
    };
    clock.setTimeout(tick, 10);
    clock.advance(35);
    expect(ticks).toEqual([10, 20, 30]);
  });

  it('sleep resolves on advance and rejects on abort', async () => {
    const clock = new ManualClock(0);
    const done = sleep(clock, 50);
    clock.advance(50);
    await expect(done).resolves.toBeUndefined();
    const ac = new AbortController();
    const aborted = sleep(clock, 50, ac.signal);
    ac.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
  });
});
