/** Capped exponential backoff, shared by the sampler (device retries) and the uplink (collector retries). */

export interface BackoffPolicy {
  /** Delay before the first retry. */
  initialMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
  /** Growth per attempt; default 2. */
  factor?: number;
  /**
   * Fraction of the delay randomised away (0 = none, 0.5 = uniformly between half and all of it), so many
   * agents retrying after the same outage spread out. Default 0.
   */
  jitter?: number;
}

/**
 * Delay before retry number `attempt` (1 = first retry): min(maxMs, initialMs * factor^(attempt-1)),
 * minus up to `jitter` of it. `random` returns a number in [0, 1).
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const factor = policy.factor ?? 2;
  const exp = Math.max(0, attempt - 1);
  const base = Math.min(policy.maxMs, policy.initialMs * factor ** Math.min(exp, 64));
  const jitter = Math.min(1, Math.max(0, policy.jitter ?? 0));
  return Math.round(base * (1 - jitter * random()));
}
