/**
 * Realistic, deterministic power traces for simulated instruments.
 *
 * A trace is a pure function of time (ms since the Unix epoch): a cyclic schedule of segments
 * (state, duration, mean power, noise), plus seeded noise on power, voltage and frequency. The same
 * spec, seed and epoch give the same readings at the same instant, whatever order the instants are asked in.
 *
 * Energy: `energy_kwh` is the analytic integral of the schedule's mean power (noise is zero-mean and left
 * out), added to a base counter at `epochMs`. It is therefore monotonic and matches the integral of
 * `power_w` to within the noise. forceState() intervals are integrated the same way.
 */

import { mulberry32 } from '../common/prng.ts';

export type TraceState = 'off' | 'standby' | 'active' | 'fault';
export const TRACE_STATES: readonly TraceState[] = ['off', 'standby', 'active', 'fault'];

/** One step of the cyclic schedule. */
export interface TraceSegment {
  state: TraceState;
  /** Length of the segment, seconds (> 0). */
  durationS: number;
  /** Mean active power during the segment, W (>= 0). */
  powerW: number;
  /** Noise amplitude, W: power varies by up to +-noiseW around the mean (default 0). */
  noiseW?: number;
  /** Seconds over which power ramps linearly from the previous segment's mean (default 0: a step). */
  rampS?: number;
}

export interface TraceSpec {
  /** Human name, e.g. `Flow cytometer`. */
  name: string;
  description?: string;
  /** The schedule, repeated forever; at least one segment. */
  segments: readonly TraceSegment[];
  /** Power factor per state (0..1); defaults in DEFAULT_POWER_FACTOR. */
  powerFactor?: Partial<Record<TraceState, number>>;
  /** Power used while forced (forceState) into a state the schedule never visits, W. */
  forcedPower?: Partial<Record<TraceState, { powerW: number; noiseW?: number }>>;
  /** Energy counter at `epochMs`, kWh; default: seeded, between 50 and 5050 kWh. */
  baseEnergyKwh?: number;
  /** Nominal line voltage, V (default 230; varies +-2 V). */
  voltageV?: number;
  /** Nominal line frequency, Hz (default 50; varies +-0.03 Hz). */
  frequencyHz?: number;
}

/** One instant of a trace: readings named as in docs/metric-schema.md, plus the true state. */
export interface TraceReading {
  state: TraceState;
  power_w: number;
  voltage_v: number;
  current_a: number;
  /** 0..1; 0 when no power flows. */
  power_factor: number;
  frequency_hz: number;
  apparent_power_va: number;
  reactive_power_var: number;
  /** Import energy counter, kWh, monotonic. */
  energy_kwh: number;
  /** Export energy counter, kWh (always 0: instruments only consume). */
  energy_export_kwh: number;
}

export interface TraceOptions {
  /** Seeds the noise and the default base counter. */
  seed: number;
  /** Where the schedule starts and the base counter applies, ms since epoch (default: Date.now() at creation). */
  epochMs?: number;
  /** Where in the cycle the trace is at `epochMs`, seconds (default 0: start of the first segment). */
  phaseS?: number;
}

export interface Trace {
  readonly spec: TraceSpec;
  readonly seed: number;
  readonly epochMs: number;
  /** Length of one schedule cycle, ms. */
  readonly cycleMs: number;
  /** The readings at `tMs` (ms since epoch). */
  at(tMs: number): TraceReading;
  /** The state at `tMs` (schedule or forced). */
  stateAt(tMs: number): TraceState;
  /** The energy counter at `tMs`, kWh. */
  energyAt(tMs: number): number;
  /**
   * From `atMs` on (default Date.now()), hold the trace in `state`; null resumes the schedule (at the
   * point in the cycle where time has brought it). Earlier instants keep their past readings.
   */
  forceState(state: TraceState | null, atMs?: number): void;
  /** The state currently forced (by the last forceState call), or null. */
  readonly forcedState: TraceState | null;
}

export const DEFAULT_POWER_FACTOR: Readonly<Record<TraceState, number>> = {
  off: 0.5,
  standby: 0.85,
  active: 0.95,
  fault: 0.7,
};

const DEFAULT_FORCED_POWER: Readonly<Record<TraceState, number>> = { off: 0, standby: 100, active: 600, fault: 40 };

export { mulberry32 };

/** Stateless hash of (seed, salt, k) to [-1, 1): one mulberry32 step on a mixed state. */
function hashNoise(seed: number, salt: number, k: number): number {
  const mixed = (seed ^ Math.imul(salt, 0x85ebca6b) ^ Math.imul(k >>> 0, 0x9e3779b1)) >>> 0;
  return mulberry32(mixed)() * 2 - 1;
}

/** Smooth zero-mean noise in [-1, 1]: knots every `periodMs`, linearly interpolated. */
function valueNoise(seed: number, salt: number, tMs: number, periodMs: number): number {
  const x = tMs / periodMs;
  const k = Math.floor(x);
  const f = x - k;
  return hashNoise(seed, salt, k) * (1 - f) + hashNoise(seed, salt, k + 1) * f;
}

const SALT_POWER = 1;
const SALT_VOLTAGE = 2;
const SALT_FREQ = 3;

interface Override {
  fromMs: number;
  toMs: number;
  state: TraceState;
}

function validate(spec: TraceSpec): void {
  if (spec.segments.length === 0) throw new Error(`trace "${spec.name}": at least one segment is needed`);
  spec.segments.forEach((s, i) => {
    if (!(s.durationS > 0)) throw new Error(`trace "${spec.name}" segment ${i}: durationS must be > 0, got ${s.durationS}`);
    if (!(s.powerW >= 0)) throw new Error(`trace "${spec.name}" segment ${i}: powerW must be >= 0, got ${s.powerW}`);
    if ((s.rampS ?? 0) < 0 || (s.rampS ?? 0) > s.durationS) {
      throw new Error(`trace "${spec.name}" segment ${i}: rampS must be within 0..durationS, got ${s.rampS}`);
    }
  });
}

/** Creates a trace for `spec`. Several traces may run in one process; none share state. */
export function createTrace(spec: TraceSpec, options: TraceOptions): Trace {
  validate(spec);
  const seed = options.seed >>> 0;
  const epochMs = options.epochMs ?? Date.now();
  const segs = spec.segments;
  const starts: number[] = []; // segment start within the cycle, ms
  const energies: number[] = []; // mean energy of each whole segment, W*ms
  let cycleMs = 0;
  segs.forEach((s, i) => {
    starts.push(cycleMs);
    const prev = segs[(i - 1 + segs.length) % segs.length]!.powerW;
    const rampMs = (s.rampS ?? 0) * 1000;
    const durMs = s.durationS * 1000;
    energies.push(((prev + s.powerW) / 2) * rampMs + s.powerW * (durMs - rampMs));
    cycleMs += durMs;
  });
  const cycleEnergy = energies.reduce((a, b) => a + b, 0);
  const phaseMs = (options.phaseS ?? 0) * 1000;
  const baseKwh = spec.baseEnergyKwh ?? Math.round((50 + mulberry32(seed ^ 0x5eed)() * 5000) * 100) / 100;
  const pf = { ...DEFAULT_POWER_FACTOR, ...spec.powerFactor };
  const overrides: Override[] = [];

  /** Position in the schedule at `tMs`. */
  function locate(tMs: number): { index: number; intoMs: number; cycles: number } {
    const rel = tMs - epochMs + phaseMs;
    const cycles = Math.floor(rel / cycleMs);
    const inCycle = rel - cycles * cycleMs;
    let index = segs.length - 1;
    for (let i = 0; i < segs.length; i++) {
      if (inCycle < starts[i]! + segs[i]!.durationS * 1000) {
        index = i;
        break;
      }
    }
    return { index, intoMs: inCycle - starts[index]!, cycles };
  }

  function meanPowerAt(index: number, intoMs: number): number {
    const s = segs[index]!;
    const rampMs = (s.rampS ?? 0) * 1000;
    if (intoMs >= rampMs) return s.powerW;
    const prev = segs[(index - 1 + segs.length) % segs.length]!.powerW;
    return prev + ((s.powerW - prev) * intoMs) / rampMs;
  }

  /** Integral of the schedule's mean power from a fixed cycle start to tMs, W*ms (only differences matter). */
  function scheduleIntegral(tMs: number): number {
    const { index, intoMs, cycles } = locate(tMs);
    let e = cycles * cycleEnergy;
    for (let i = 0; i < index; i++) e += energies[i]!;
    const s = segs[index]!;
    const rampMs = (s.rampS ?? 0) * 1000;
    const prev = segs[(index - 1 + segs.length) % segs.length]!.powerW;
    const r = Math.min(intoMs, rampMs);
    e += r === 0 ? 0 : ((prev + meanPowerAt(index, r)) / 2) * r;
    e += s.powerW * Math.max(0, intoMs - rampMs);
    return e;
  }

  function forcedMean(state: TraceState): { powerW: number; noiseW: number } {
    const explicit = spec.forcedPower?.[state];
    if (explicit) return { powerW: explicit.powerW, noiseW: explicit.noiseW ?? 0 };
    const seg = segs.find((s) => s.state === state);
    if (seg) return { powerW: seg.powerW, noiseW: seg.noiseW ?? 0 };
    return { powerW: DEFAULT_FORCED_POWER[state], noiseW: 0 };
  }

  function overrideAt(tMs: number): Override | undefined {
    for (let i = overrides.length - 1; i >= 0; i--) {
      const o = overrides[i]!;
      if (tMs >= o.fromMs && tMs < o.toMs) return o;
    }
    return undefined;
  }

  function energyAt(tMs: number): number {
    let wms = scheduleIntegral(tMs) - scheduleIntegral(epochMs);
    for (const o of overrides) {
      const a = o.fromMs;
      const b = Math.min(o.toMs, tMs);
      if (b <= a) continue;
      wms += forcedMean(o.state).powerW * (b - a) - (scheduleIntegral(b) - scheduleIntegral(a));
    }
    return Math.max(0, baseKwh + wms / 3.6e9);
  }

  function stateAt(tMs: number): TraceState {
    const o = overrideAt(tMs);
    if (o) return o.state;
    return segs[locate(tMs).index]!.state;
  }

  function at(tMs: number): TraceReading {
    const o = overrideAt(tMs);
    let state: TraceState;
    let mean: number;
    let noiseW: number;
    if (o) {
      state = o.state;
      ({ powerW: mean, noiseW } = forcedMean(o.state));
    } else {
      const { index, intoMs } = locate(tMs);
      const s = segs[index]!;
      state = s.state;
      mean = meanPowerAt(index, intoMs);
      noiseW = s.noiseW ?? 0;
    }
    const power = Math.max(0, mean + noiseW * valueNoise(seed, SALT_POWER, tMs, 1000));
    const voltage = (spec.voltageV ?? 230) + 2 * valueNoise(seed, SALT_VOLTAGE, tMs, 5000);
    const frequency = (spec.frequencyHz ?? 50) + 0.03 * valueNoise(seed, SALT_FREQ, tMs, 10_000);
    const flowing = power >= 0.5;
    const factor = flowing ? pf[state] : 0;
    const apparent = flowing ? power / factor : 0;
    return {
      state,
      power_w: power,
      voltage_v: voltage,
      current_a: apparent / voltage,
      power_factor: factor,
      frequency_hz: frequency,
      apparent_power_va: apparent,
      reactive_power_var: flowing ? Math.sqrt(Math.max(0, apparent * apparent - power * power)) : 0,
      energy_kwh: energyAt(tMs),
      energy_export_kwh: 0,
    };
  }

  let forced: TraceState | null = null;
  function forceState(state: TraceState | null, atMs: number = Date.now()): void {
    const last = overrides[overrides.length - 1];
    const t = last ? Math.max(atMs, last.fromMs) : atMs;
    if (last && last.toMs === Infinity) last.toMs = t;
    if (state !== null) overrides.push({ fromMs: t, toMs: Infinity, state });
    forced = state;
  }

  return {
    spec,
    seed,
    epochMs,
    cycleMs,
    at,
    stateAt,
    energyAt,
    forceState,
    get forcedState() {
      return forced;
    },
  };
}

/** Demo instruments. Short cycles (1.5 to 4.5 minutes) so a demo shows state changes within a minute. */
export const DEMO_TRACES = {
  'flow-cytometer': {
    name: 'Flow cytometer',
    description: 'Off, lasers warm up in standby, acquisition, a short idle, then switched off again.',
    segments: [
      { state: 'off', durationS: 40, powerW: 0 },
      { state: 'standby', durationS: 30, powerW: 150, noiseW: 8, rampS: 5 },
      { state: 'active', durationS: 90, powerW: 450, noiseW: 25, rampS: 3 },
      { state: 'standby', durationS: 20, powerW: 150, noiseW: 8 },
    ],
  },
  sequencer: {
    name: 'DNA sequencer',
    description: 'Long runs with a short standby between them.',
    segments: [
      { state: 'active', durationS: 240, powerW: 1200, noiseW: 60, rampS: 10 },
      { state: 'standby', durationS: 30, powerW: 250, noiseW: 10 },
    ],
  },
  'confocal-microscope': {
    name: 'Confocal microscope',
    description: 'Lasers and controllers in standby, scanning bursts of 30 to 60 s.',
    segments: [
      { state: 'standby', durationS: 25, powerW: 300, noiseW: 12 },
      { state: 'active', durationS: 30, powerW: 800, noiseW: 40, rampS: 2 },
      { state: 'standby', durationS: 40, powerW: 300, noiseW: 12 },
      { state: 'active', durationS: 60, powerW: 800, noiseW: 40, rampS: 2 },
      { state: 'standby', durationS: 20, powerW: 300, noiseW: 12 },
      { state: 'active', durationS: 45, powerW: 800, noiseW: 40, rampS: 2 },
    ],
  },
  'mass-spectrometer': {
    name: 'Mass spectrometer',
    description: 'Vacuum pumps keep it in standby around the clock; acquisitions raise the load.',
    segments: [
      { state: 'standby', durationS: 60, powerW: 1800, noiseW: 50 },
      { state: 'active', durationS: 90, powerW: 2500, noiseW: 80, rampS: 5 },
    ],
  },
} as const satisfies Record<string, TraceSpec>;

export type DemoTraceId = keyof typeof DEMO_TRACES;
