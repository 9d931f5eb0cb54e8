/**
 * The live view of an instrument's state, from its latest sample only. This is deliberately small: no
 * hysteresis, dwell or sessions (that is the utilization engine's job). Pure: no I/O, no clock.
 */
import type { InstrumentState, InstrumentView, Sample } from '../common/wire.ts';
import type { LivePolicy } from './store/store.ts';

/** Power thresholds of one instrument, in watts. */
export interface LiveThresholds {
  /** Below this the instrument is `off`. */
  off_w: number;
  /** At or above this it is `active`; between the two, `standby`. */
  active_w: number;
}

/**
 * Defaults when an instrument has no thresholds configured: off below 10 W, active from 400 W. They fit a
 * typical benchtop analyser; most instruments need their own (a mass spectrometer idles above 1.5 kW).
 */
export const DEFAULT_THRESHOLDS: Readonly<LiveThresholds> = Object.freeze({ off_w: 10, active_w: 400 });

/** No sample for longer than this and the state is `unknown` (15 min, see DOMAIN "Missing data"). */
export const DEFAULT_MAX_GAP_MS = 15 * 60_000;

const FAULT_WORDS = new Set(['ERR', 'ERROR', 'ERRORS', 'FAULT', 'FAULTS', 'ALARM', 'ALARMS']);
const NEGATIONS = new Set(['NO', 'NOT', 'NON']);

/**
 * True when device status text reports a fault: it contains one of the words ERR, ERROR, FAULT or ALARM
 * (case-insensitive, plural allowed, words split on anything but letters, so `ERR05` and `ALARM_TEMP` count)
 * not directly preceded by NO/NOT/NON (`NO_ERROR`, `no fault` are not faults).
 */
export function isFaultStatus(status: string): boolean {
  const words = status.toUpperCase().split(/[^A-Z]+/).filter((w) => w !== '');
  return words.some((w, i) => FAULT_WORDS.has(w) && !(i > 0 && NEGATIONS.has(words[i - 1]!)));
}

/**
 * Classifies one sample:
 * - `error` present (the device could not be read) -> `unknown`;
 * - `status` reporting a fault (see isFaultStatus) -> `fault`; other status text does not decide the state yet
 *   (mapping a device's own vocabulary to states belongs to its profile, a later issue);
 * - `power_w` < off_w -> `off`, >= active_w -> `active`, otherwise `standby`;
 * - no `power_w` -> `unknown`.
 */
export function classifyLive(
  sample: Pick<Sample, 'readings' | 'status' | 'error'>,
  thresholds: LiveThresholds = DEFAULT_THRESHOLDS,
): InstrumentState {
  if (sample.error !== undefined) return 'unknown';
  if (sample.status !== undefined && isFaultStatus(sample.status)) return 'fault';
  const power = sample.readings.power_w;
  if (power === undefined) return 'unknown';
  if (power < thresholds.off_w) return 'off';
  if (power >= thresholds.active_w) return 'active';
  return 'standby';
}

/** Per-instrument settings the live view uses (a subset of the collector config's `instruments`). */
export interface InstrumentSettings {
  id: string;
  name?: string;
  off_w?: number;
  active_w?: number;
}

/** The thresholds of one instrument: its own where configured, the defaults for the rest. */
export function thresholdsFor(
  settings: InstrumentSettings | undefined,
  defaults: LiveThresholds = DEFAULT_THRESHOLDS,
): LiveThresholds {
  return { off_w: settings?.off_w ?? defaults.off_w, active_w: settings?.active_w ?? defaults.active_w };
}

/** The LivePolicy the store's ingest uses, from per-instrument settings. */
export function createLivePolicy(options: {
  instruments?: readonly InstrumentSettings[];
  defaults?: LiveThresholds;
  maxGapMs?: number;
}): LivePolicy {
  const byId = new Map<string, LiveThresholds>();
  for (const s of options.instruments ?? []) byId.set(s.id, thresholdsFor(s, options.defaults));
  const fallback = options.defaults ?? DEFAULT_THRESHOLDS;
  return {
    classify: (instrumentId, sample) => classifyLive(sample, byId.get(instrumentId) ?? fallback),
    maxGapMs: options.maxGapMs ?? DEFAULT_MAX_GAP_MS,
  };
}

/**
 * The view as of `now`: an instrument whose last sample is older than `maxGapMs` is `unknown` since
 * last_seen + maxGapMs. Instruments never seen stay as they are (`unknown`, state_since null).
 */
export function liveView(view: InstrumentView, now: number, maxGapMs: number = DEFAULT_MAX_GAP_MS): InstrumentView {
  if (view.last_seen === null || now - view.last_seen <= maxGapMs) return view;
  if (view.state === 'unknown' && view.state_since !== null) return view;
  return { ...view, state: 'unknown', state_since: view.last_seen + maxGapMs };
}
