/**
 * The ingest benchmark's readings (bench/ingest.ts), built the same way in every process that needs them: the
 * bench itself (wire bodies and line protocol) and bench/store-process.ts (the design bound), which gets the
 * same arguments and so builds the very same readings.
 */
import { readingToPoint } from '../../collector/influx/points.ts';
import { toLineProtocol } from '../../collector/influx/line-protocol.ts';
import { mulberry32 } from '../../common/prng.ts';
import type { Sample } from '../../common/wire.ts';

export const SAMPLES_PER_BATCH = 500;
export const INSTRUMENTS_PER_AGENT = 50;

export interface WorkloadShape {
  /** One client per agent, in this order. */
  agentIds: readonly string[];
  batchesPerClient: number;
  /** Time of the first reading (ms, whole seconds). */
  start: number;
}

export interface Readings {
  total: number;
  /** Per client, per batch: the JSON of the samples array. */
  wire: string[][];
  /** Per client, per batch: the same readings as line protocol (only with `lines: true`). */
  lines: string[][];
}

/** Power of a lab instrument cycling off -> standby -> active, with noise. */
function power(t: number, phase: number, rnd: () => number): number {
  const m = ((t / 1000 + phase) % 600) / 60; // a 10-minute cycle
  const base = m < 2 ? 3 : m < 5 ? 150 : 800;
  return Math.max(0, base + (rnd() - 0.5) * 0.1 * base);
}

/**
 * Per client (agent), `batchesPerClient` batches of 500 samples: 50 instruments x 10 s of 1 Hz readings, the
 * nine SDM120 fields. Deterministic for a given shape.
 */
export function buildReadings(shape: WorkloadShape, o: { lines: boolean }): Readings {
  const rnd = mulberry32(42);
  const perBatchSeconds = SAMPLES_PER_BATCH / INSTRUMENTS_PER_AGENT;
  const wire: string[][] = [];
  const lines: string[][] = [];
  shape.agentIds.forEach((agentId, c) => {
    const energy = Array.from({ length: INSTRUMENTS_PER_AGENT }, () => 100 + rnd() * 1000);
    const w: string[] = [];
    const l: string[] = [];
    for (let b = 0; b < shape.batchesPerClient; b++) {
      const samples: Sample[] = [];
      for (let s = 0; s < perBatchSeconds; s++) {
        const ts = shape.start + (b * perBatchSeconds + s) * 1000;
        for (let i = 0; i < INSTRUMENTS_PER_AGENT; i++) {
          const p = power(ts, i * 37 + c * 11, rnd);
          energy[i]! += p / 3_600_000;
          const v = 229 + rnd() * 2;
          samples.push({
            instrument_id: `ING-${c + 1}-${i + 1}`,
            ts,
            readings: {
              power_w: Math.round(p * 10) / 10,
              energy_kwh: Math.round(energy[i]! * 1000) / 1000,
              energy_export_kwh: 0,
              voltage_v: Math.round(v * 10) / 10,
              current_a: Math.round((p / v) * 1000) / 1000,
              apparent_power_va: Math.round((p / 0.9) * 10) / 10,
              reactive_power_var: Math.round(p * 0.48 * 10) / 10,
              power_factor: 0.9,
              frequency_hz: Math.round((49.98 + rnd() * 0.04) * 100) / 100,
            },
          });
        }
      }
      w.push(JSON.stringify(samples));
      if (o.lines) {
        l.push(samples.map((s) => toLineProtocol(readingToPoint({ id: 0, agent_id: agentId, received_at: 0, ...s }).point!)).join('\n'));
      }
    }
    wire.push(w);
    lines.push(l);
  });
  return { total: shape.agentIds.length * shape.batchesPerClient * SAMPLES_PER_BATCH, wire, lines };
}
