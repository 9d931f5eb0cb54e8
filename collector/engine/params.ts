/**
 * Engine parameters: defaults (DOMAIN "Instrument states", "Missing data", "Hours"), resolution of a partial
 * registry entry, and validation that reports every problem at once.
 */
import { STATES, type EngineParams } from './types.ts';

/**
 * The `status_states` match value that means "the fault words of isFaultStatus (fault-words.ts)":
 * ERR/ERROR/FAULT/ALARM as words, not preceded by NO/NOT/NON. As a regex it could never match (`$` then text),
 * so reserving it takes nothing away from regex rules.
 */
export const FAULT_WORDS_MATCH = '$fault_words';

/** 15 min: DOMAIN's default `max_gap` when the sample interval is not known. */
export const DEFAULT_MAX_GAP_S = 900;

/** `max_gap` is this many sample intervals when the interval is known (DOMAIN "Missing data"). */
export const MAX_GAP_SAMPLE_INTERVALS = 5;

export const DEFAULT_ENGINE_PARAMS: Readonly<EngineParams> = Object.freeze({
  off_w: 10,
  active_w: 400,
  hysteresis: 0.1,
  min_dwell_s: 30,
  max_gap_s: DEFAULT_MAX_GAP_S,
  merge_gap_s: 900,
  warmup_max_s: 1800,
  post_max_s: 900,
  status_states: Object.freeze([Object.freeze({ match: FAULT_WORDS_MATCH, state: 'fault' as const })]),
});

const NUMERIC_KEYS = [
  'off_w',
  'active_w',
  'hysteresis',
  'min_dwell_s',
  'max_gap_s',
  'merge_gap_s',
  'warmup_max_s',
  'post_max_s',
] as const;

/**
 * Complete parameters from a partial registry entry: given fields win (undefined ones are ignored), the rest
 * are defaults. Without an explicit `max_gap_s`, a known sample interval gives 5 intervals, else 15 min.
 */
export function resolveParams(partial: Partial<EngineParams> = {}, sampleIntervalMs?: number): EngineParams {
  const p: EngineParams = { ...DEFAULT_ENGINE_PARAMS };
  for (const key of NUMERIC_KEYS) {
    const v = partial[key];
    if (v !== undefined) p[key] = v;
  }
  if (partial.status_states !== undefined) p.status_states = partial.status_states;
  if (partial.max_gap_s === undefined && sampleIntervalMs !== undefined && sampleIntervalMs > 0) {
    p.max_gap_s = (MAX_GAP_SAMPLE_INTERVALS * sampleIntervalMs) / 1000;
  }
  return p;
}

/** Every problem with the parameters, each naming the field and quoting the bad value; [] when valid. */
export function validateParams(p: EngineParams): string[] {
  const errors: string[] = [];
  for (const key of NUMERIC_KEYS) {
    const v = p[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) errors.push(`${key} must be a finite number (got ${JSON.stringify(v)})`);
    else if (v < 0) errors.push(`${key} must not be negative (got ${v})`);
  }
  if (errors.length > 0) return errors;
  if (!(p.off_w < p.active_w)) errors.push(`off_w (${p.off_w}) must be below active_w (${p.active_w})`);
  if (p.hysteresis > 0.5) errors.push(`hysteresis must be between 0 and 0.5 (got ${p.hysteresis})`);
  else if (p.off_w < p.active_w && p.off_w * (1 + p.hysteresis) > p.active_w * (1 - p.hysteresis)) {
    errors.push(
      `the hysteresis bands overlap: off_w*(1+hysteresis) = ${p.off_w * (1 + p.hysteresis)} is above ` +
        `active_w*(1-hysteresis) = ${p.active_w * (1 - p.hysteresis)}`,
    );
  }
  if (p.max_gap_s <= 0) errors.push(`max_gap_s must be above 0 (got ${p.max_gap_s})`);
  if (!Array.isArray(p.status_states)) {
    errors.push(`status_states must be a list (got ${JSON.stringify(p.status_states)})`);
    return errors;
  }
  p.status_states.forEach((rule, i) => {
    if (typeof rule?.match !== 'string' || rule.match === '') {
      errors.push(`status_states[${i}].match must be a non-empty string (got ${JSON.stringify(rule?.match)})`);
    } else if (rule.match !== FAULT_WORDS_MATCH) {
      try {
        new RegExp(rule.match, 'i');
      } catch (err) {
        errors.push(`status_states[${i}].match ${JSON.stringify(rule.match)} is not a valid regex: ${(err as Error).message}`);
      }
    }
    if (!STATES.includes(rule?.state)) {
      errors.push(`status_states[${i}].state must be one of ${STATES.join(', ')} (got ${JSON.stringify(rule?.state)})`);
    }
  });
  return errors;
}

/** The parameters as one canonical string: equal strings, equal parameters (used to match checkpoints). */
export function paramsKey(p: EngineParams): string {
  return JSON.stringify([...NUMERIC_KEYS.map((k) => p[k]), p.status_states.map((r) => [r.match, r.state])]);
}
