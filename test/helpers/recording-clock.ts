import { ManualClock, type TimerHandle } from '../../common/clock.ts';

/** A ManualClock that records the delay of every timer set on it (a driver's pauses and open timeouts). */
export class RecordingClock extends ManualClock {
  readonly delays: number[] = [];
  override setTimeout(fn: () => void, ms: number): TimerHandle {
    this.delays.push(ms);
    return super.setTimeout(fn, ms);
  }
}
