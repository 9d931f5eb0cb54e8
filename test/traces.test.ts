import { describe, expect, it } from 'vitest';
import { createTrace, DEMO_TRACES, type TraceSpec, type TraceState } from '../devices/traces.ts';

const EPOCH = Date.UTC(2025, 0, 6, 8, 0, 0);

describe('traces', () => {
  it('is deterministic for the same spec, seed and epoch, whatever the query order', () => {
    const spec = DEMO_TRACES['confocal-microscope'];
    const a = createTrace(spec, { seed: 42, epochMs: EPOCH });
    const b = createTrace(spec, { seed: 42, epochMs: EPOCH });
    const times = Array.from({ length: 200 }, (_, i) => EPOCH + i * 1337);
    const forward = times.map((t) => a.at(t));
    const backward = [...times].reverse().map((t) => b.at(t)).reverse();
    expect(backward).toEqual(forward);
    const c = createTrace(spec, { seed: 43, epochMs: EPOCH });
    expect(times.map((t) => c.at(t).power_w)).not.toEqual(forward.map((r) => r.power_w));
  });

  it('starts from a seeded base counter, or the one in the spec', () => {
    const a = createTrace(DEMO_TRACES.sequencer, { seed: 7, epochMs: EPOCH });
    expect(a.energyAt(EPOCH)).toBe(createTrace(DEMO_TRACES.sequencer, { seed: 7, epochMs: EPOCH }).energyAt(EPOCH));
    expect(a.energyAt(EPOCH)).toBeGreaterThanOrEqual(50);
    expect(a.energyAt(EPOCH)).toBeLessThanOrEqual(5050);
    const b = createTrace({ ...DEMO_TRACES.sequencer, baseEnergyKwh: 12.5 }, { seed: 7, epochMs: EPOCH });
    expect(b.energyAt(EPOCH)).toBe(12.5);
  });

  for (const [id, spec] of Object.entries(DEMO_TRACES) as [string, TraceSpec][]) {
    describe(id, () => {
      const trace = createTrace(spec, { seed: 1, epochMs: EPOCH });

      it('has a demo-sized cycle and visits every state of its schedule within one cycle', () => {
        expect(trace.cycleMs).toBeGreaterThanOrEqual(60_000);
        expect(trace.cycleMs).toBeLessThanOrEqual(300_000);
        const seen = new Set<TraceState>();
        for (let t = EPOCH; t < EPOCH + trace.cycleMs; t += 1000) seen.add(trace.stateAt(t));
        expect([...seen].sort()).toEqual([...new Set(spec.segments.map((s) => s.state))].sort());
      });

      it('keeps energy monotonic and equal to the integral of power', () => {
        const dt = 200;
        let integralWms = 0;
        let prev = trace.at(EPOCH);
        const e0 = prev.energy_kwh;
        for (let t = EPOCH + dt; t <= EPOCH + 2 * trace.cycleMs; t += dt) {
          const r = trace.at(t);
          expect(r.energy_kwh).toBeGreaterThanOrEqual(prev.energy_kwh);
          integralWms += ((prev.power_w + r.power_w) / 2) * dt;
          prev = r;
        }
        const expected = integralWms / 3.6e9;
        expect(Math.abs(prev.energy_kwh - e0 - expected)).toBeLessThan(expected * 0.005 + 1e-6);
      });

      it('gives consistent electrical readings', () => {
        for (let t = EPOCH; t < EPOCH + trace.cycleMs; t += 3100) {
          const r = trace.at(t);
          expect(r.voltage_v).toBeGreaterThanOrEqual(228);
          expect(r.voltage_v).toBeLessThanOrEqual(232);
          expect(Math.abs(r.frequency_hz - 50)).toBeLessThanOrEqual(0.03);
          expect(r.power_w).toBeGreaterThanOrEqual(0);
          expect(r.power_factor).toBeGreaterThanOrEqual(0);
          expect(r.power_factor).toBeLessThanOrEqual(1);
          expect(r.apparent_power_va).toBeCloseTo(r.voltage_v * r.current_a, 6);
          expect(r.power_w).toBeCloseTo(r.apparent_power_va * r.power_factor, 6);
          expect(r.reactive_power_var ** 2).toBeCloseTo(r.apparent_power_va ** 2 - r.power_w ** 2, 0);
          expect(r.energy_export_kwh).toBe(0);
        }
      });
    });
  }

  it('shows a state change within the first minute of a demo', () => {
    const changes = Object.values(DEMO_TRACES).filter((spec) => {
      const trace = createTrace(spec, { seed: 1, epochMs: EPOCH });
      const first = trace.stateAt(EPOCH);
      for (let t = EPOCH; t <= EPOCH + 60_000; t += 1000) if (trace.stateAt(t) !== first) return true;
      return false;
    });
    expect(changes.length).toBeGreaterThanOrEqual(3);
  });

  it('follows the flow cytometer schedule', () => {
    const t = createTrace(DEMO_TRACES['flow-cytometer'], { seed: 3, epochMs: EPOCH });
    expect(t.cycleMs).toBe(180_000);
    const at = (s: number) => t.at(EPOCH + s * 1000);
    expect(at(10)).toMatchObject({ state: 'off', power_w: 0, current_a: 0, power_factor: 0 });
    expect(at(50).state).toBe('standby');
    expect(Math.abs(at(50).power_w - 150)).toBeLessThanOrEqual(8);
    expect(at(100).state).toBe('active');
    expect(Math.abs(at(100).power_w - 450)).toBeLessThanOrEqual(25);
    expect(at(170).state).toBe('standby');
    expect(at(185).state).toBe('off');
    // phaseS shifts the cycle
    const shifted = createTrace(DEMO_TRACES['flow-cytometer'], { seed: 3, epochMs: EPOCH, phaseS: 70 });
    expect(shifted.stateAt(EPOCH)).toBe('active');
  });

  it('never turns the mass spectrometer off', () => {
    const t = createTrace(DEMO_TRACES['mass-spectrometer'], { seed: 5, epochMs: EPOCH });
    for (let s = 0; s < 600; s += 2) {
      const r = t.at(EPOCH + s * 1000);
      expect(r.state).not.toBe('off');
      expect(r.power_w).toBeGreaterThan(1700);
    }
  });

  it('forceState switches immediately, leaves the past alone and keeps energy consistent', () => {
    const t = createTrace(DEMO_TRACES['flow-cytometer'], { seed: 9, epochMs: EPOCH });
    const before = t.at(EPOCH + 10_000);
    expect(before.state).toBe('off');
    t.forceState('active', EPOCH + 20_000);
    expect(t.forcedState).toBe('active');
    expect(t.stateAt(EPOCH + 19_999)).toBe('off');
    expect(t.at(EPOCH + 10_000)).toEqual(before);
    const r = t.at(EPOCH + 20_000);
    expect(r.state).toBe('active');
    expect(Math.abs(r.power_w - 450)).toBeLessThanOrEqual(25);
    // 30 s at ~450 W where the schedule had 0 W
    const e = t.energyAt(EPOCH + 50_000) - t.energyAt(EPOCH + 20_000);
    expect(e).toBeCloseTo((450 * 30) / 3.6e6, 9);

    t.forceState('fault', EPOCH + 50_000);
    expect(t.stateAt(EPOCH + 60_000)).toBe('fault');
    expect(t.stateAt(EPOCH + 40_000)).toBe('active');
    t.forceState('off', EPOCH + 60_000);
    expect(t.energyAt(EPOCH + 200_000)).toBe(t.energyAt(EPOCH + 60_000));
    t.forceState(null, EPOCH + 200_000);
    expect(t.forcedState).toBeNull();
    // the schedule resumes where time has brought it: 210 s is 30 s into the next cycle (off)
    expect(t.stateAt(EPOCH + 210_000)).toBe('off');
    expect(t.stateAt(EPOCH + 240_000)).toBe('standby');
    expect(t.stateAt(EPOCH + 260_000)).toBe('active');
    let prev = 0;
    for (let s = 0; s < 400; s++) {
      const e2 = t.energyAt(EPOCH + s * 1000);
      expect(e2).toBeGreaterThanOrEqual(prev);
      prev = e2;
    }
  });

  it('rejects a broken spec', () => {
    expect(() => createTrace({ name: 'x', segments: [] }, { seed: 1 })).toThrow(/at least one segment/);
    expect(() => createTrace({ name: 'x', segments: [{ state: 'off', durationS: 0, powerW: 0 }] }, { seed: 1 })).toThrow(/durationS/);
    expect(() => createTrace({ name: 'x', segments: [{ state: 'off', durationS: 5, powerW: -1 }] }, { seed: 1 })).toThrow(/powerW/);
  });
});
