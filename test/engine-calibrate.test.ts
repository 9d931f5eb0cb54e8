import { describe, expect, it } from 'vitest';
import { mulberry32 as prng } from '../common/prng.ts';
import { calibrate, renderHistogram } from '../collector/engine/calibrate.ts';
import { DEFAULT_ENGINE_PARAMS, validateParams } from '../collector/engine/params.ts';


/** Readings from levels [count, mean W, standard deviation W], clipped at 0 W, shuffled. */
function levels(seed: number, spec: Array<[number, number, number]>): number[] {
  const rnd = prng(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const out: number[] = [];
  for (const [n, mean, sd] of spec) for (let i = 0; i < n; i++) out.push(Math.max(0, mean + sd * gauss()));
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j] ?? 0, out[i] ?? 0];
  }
  return out;
}

const usable = (p: { off_w: number; active_w: number }): string[] => validateParams({ ...DEFAULT_ENGINE_PARAMS, ...p });

describe('calibrate', () => {
  it('trimodal off / standby / active: off_w between off and standby, active_w between standby and active', () => {
    const powers = levels(1, [[3000, 0, 0.3], [1500, 150, 10], [1000, 450, 20]]);
    const r = calibrate(powers);
    expect(r.proposal).not.toBeNull();
    const p = r.proposal ?? { off_w: NaN, active_w: NaN };
    expect(p.off_w).toBeGreaterThan(5);
    expect(p.off_w).toBeLessThan(150);
    expect(p.active_w).toBeGreaterThan(150);
    expect(p.active_w).toBeLessThan(450);
    expect(usable(p)).toEqual([]);
    expect(r.clusters.map((c) => c.label)).toEqual(['off', 'standby', 'active']);
    expect(r.clusters.map((c) => c.count)).toEqual([3000, 1500, 1000]);
    expect(r.clusters[1]?.center_w).toBeGreaterThan(140);
    expect(r.clusters[1]?.center_w).toBeLessThan(160);
    expect(r.clusters[2]?.share).toBeCloseTo(1000 / 5500, 9);
    expect(r.samples).toBe(5500);
    expect(r.reason).toMatch(/^3 power levels/);
    expect(r.histogram).toHaveLength(30);
    expect(r.histogram.reduce((s, b) => s + b.count, 0)).toBe(5500);
  });

  it('finds the levels with few readings, exact 0 W, a Float64Array, and a rarely active instrument', () => {
    for (const [seed, spec] of [
      [2, [[100, 0, 0.3], [60, 150, 10], [40, 450, 20]]],
      [3, [[3000, 0, 0], [1500, 150, 10], [1000, 450, 20]]],
      [4, [[50_000, 0, 0.3], [5000, 150, 10], [300, 450, 20]]],
    ] as Array<[number, Array<[number, number, number]>]>) {
      const r = calibrate(Float64Array.from(levels(seed, spec)));
      const p = r.proposal;
      expect(p, `seed ${seed}`).not.toBeNull();
      expect(p?.off_w).toBeGreaterThan(5);
      expect(p?.off_w).toBeLessThan(150);
      expect(p?.active_w).toBeGreaterThan(150);
      expect(p?.active_w).toBeLessThan(450);
    }
  });

  it('is not misled by ramp readings between states or by whole-watt readings', () => {
    const rnd = prng(13);
    const ramps = Array.from({ length: 60 }, () => rnd() * 500);
    const withRamps = calibrate([...levels(13, [[3000, 0, 0.3], [1800, 150, 10], [1200, 450, 20]]), ...ramps]);
    expect(withRamps.clusters.map((c) => c.label)).toEqual(['off', 'standby', 'active']);
    expect(withRamps.proposal?.off_w).toBeGreaterThan(5);
    expect(withRamps.proposal?.off_w).toBeLessThan(150);
    expect(withRamps.proposal?.active_w).toBeGreaterThan(150);
    expect(withRamps.proposal?.active_w).toBeLessThan(450);
    const whole = calibrate(levels(14, [[3000, 0, 0.3], [1500, 150, 10], [1000, 450, 20]]).map(Math.round));
    expect(whole.clusters.map((c) => c.label)).toEqual(['off', 'standby', 'active']);
    // A rarely used instrument (active 0.5 % of the time) with a noisy off level still has its active level.
    const rare = calibrate(levels(15, [[20_000, 0, 0.3], [2000, 150, 10], [110, 450, 20]]));
    expect(rare.clusters.map((c) => c.label)).toEqual(['off', 'standby', 'active']);
  });

  it('says so when the lowest of 3 levels is not below the off level', () => {
    const r = calibrate(levels(16, [[3000, 20, 1], [1500, 150, 10], [1000, 450, 20]]));
    expect(r.clusters.map((c) => c.label)).toEqual(['off', 'standby', 'active']);
    expect(r.reason).toMatch(/lowest level \(~20 W\) is not below 5\.0 W/);
    expect(calibrate(levels(16, [[3000, 20, 1], [1500, 150, 10], [1000, 450, 20]]), { off_level_w: 30 }).reason).not.toMatch(/lowest level/);
  });

  it('with more than 3 levels takes the lowest as off, the next as standby and the rest as active', () => {
    const r = calibrate(levels(5, [[3000, 0, 0.3], [1500, 150, 10], [1000, 450, 20], [800, 900, 30]]));
    expect(r.clusters.map((c) => c.label)).toEqual(['off', 'standby', 'active']);
    expect(r.proposal?.active_w).toBeGreaterThan(150);
    expect(r.proposal?.active_w).toBeLessThan(450);
    expect(r.clusters[2]?.count).toBe(1800);
    expect(r.reason).toMatch(/4 levels were found/);
  });

  it('always on (1800 W / 2500 W): active_w between the levels, off_w below them, and says so', () => {
    const r = calibrate(levels(6, [[3000, 1800, 40], [2000, 2500, 60]]));
    expect(r.clusters.map((c) => c.label)).toEqual(['standby', 'active']);
    const p = r.proposal ?? { off_w: NaN, active_w: NaN };
    expect(p.active_w).toBeGreaterThan(1800);
    expect(p.active_w).toBeLessThan(2500);
    expect(p.off_w).toBeGreaterThan(0);
    expect(p.off_w).toBeLessThan(1600);
    expect(usable(p)).toEqual([]);
    expect(r.reason).toMatch(/^2 power levels/);
    expect(r.reason).toMatch(/never off/);
    // The display histogram spans the readings, not 0 W .. 2.6 kW.
    expect(r.histogram[0]?.from_w).toBeGreaterThan(1500);
  });

  it('off / on without standby: both thresholds in the gap, usable by the engine, and says so', () => {
    const r = calibrate(levels(7, [[3000, 0.5, 0.2], [2000, 450, 20]]));
    expect(r.clusters.map((c) => c.label)).toEqual(['off', 'active']);
    const p = r.proposal ?? { off_w: NaN, active_w: NaN };
    expect(p.off_w).toBeGreaterThan(2);
    expect(p.active_w).toBeGreaterThan(p.off_w);
    expect(p.active_w).toBeLessThan(380);
    expect(usable(p)).toEqual([]);
    expect(r.reason).toMatch(/no standby level/);
  });

  it('proposes nothing for a single level, and says why', () => {
    const on = calibrate(levels(8, [[3000, 300, 5]]));
    expect(on.proposal).toBeNull();
    expect(on.clusters.map((c) => c.label)).toEqual(['on']);
    expect(on.reason).toMatch(/always on/);
    const off = calibrate(new Array<number>(500).fill(0));
    expect(off.proposal).toBeNull();
    expect(off.clusters.map((c) => c.label)).toEqual(['off']);
    expect(off.reason).toMatch(/never on/);
  });

  it('proposes nothing when the readings form no levels', () => {
    const rnd = prng(17);
    const r = calibrate(Array.from({ length: 5000 }, () => rnd() * 1000));
    expect(r.proposal).toBeNull();
    expect(r.reason).toMatch(/do not form distinct power levels/);
  });

  it('empty input: null proposal with a reason; non-finite readings are ignored and counted', () => {
    const empty = calibrate([]);
    expect(empty).toEqual({ proposal: null, clusters: [], histogram: [], samples: 0, ignored: 0, reason: expect.stringMatching(/No usable power readings/) });
    const junk = calibrate([Number.NaN, Number.POSITIVE_INFINITY]);
    expect(junk.proposal).toBeNull();
    expect(junk.ignored).toBe(2);
    expect(junk.reason).toMatch(/2 non-finite readings were ignored/);
    const neg = calibrate([...levels(9, [[3000, 0, 0.3], [1500, 150, 10], [1000, 450, 20]]), -0.4, -0.2]);
    expect(neg.reason).toMatch(/2 negative readings were counted as 0 W/);
    expect(neg.clusters[0]?.count).toBe(3002);
  });

  it('is deterministic and validates its options', () => {
    const powers = levels(10, [[1000, 0, 0.3], [500, 150, 10], [300, 450, 20]]);
    expect(calibrate(powers)).toEqual(calibrate(powers));
    expect(calibrate(powers, { bins: 12 }).histogram).toHaveLength(12);
    expect(() => calibrate(powers, { bins: 0 })).toThrow(/bins/);
    expect(() => calibrate(powers, { off_level_w: -1 })).toThrow(/off_level_w/);
  });
});

describe('renderHistogram', () => {
  it('draws one line per bin with the marks on the lines holding the thresholds', () => {
    const r = calibrate(levels(11, [[3000, 0, 0.3], [1500, 150, 10], [1000, 450, 20]]), { bins: 20 });
    const text = renderHistogram(r, { width: 30 });
    const lines = text.split('\n');
    expect(lines).toHaveLength(20);
    const offLines = lines.filter((l) => l.includes('<- off_w'));
    const activeLines = lines.filter((l) => l.includes('<- active_w'));
    expect(offLines).toHaveLength(1);
    expect(activeLines).toHaveLength(1);
    const p = r.proposal ?? { off_w: NaN, active_w: NaN };
    const offBin = r.histogram[lines.indexOf(offLines[0] ?? '')];
    expect(offBin !== undefined && offBin.from_w <= p.off_w && p.off_w < offBin.to_w).toBe(true);
    const activeBin = r.histogram[lines.indexOf(activeLines[0] ?? '')];
    expect(activeBin !== undefined && activeBin.from_w <= p.active_w && p.active_w < activeBin.to_w).toBe(true);
    expect(text).toContain('█');
    // The fullest bin has the full-width bar.
    const max = Math.max(...r.histogram.map((b) => b.count));
    const fullest = lines[r.histogram.findIndex((b) => b.count === max)] ?? '';
    expect(fullest).toContain('█'.repeat(30));
    expect(fullest).not.toContain('█'.repeat(31));
    expect(lines[0]).toMatch(/^\s*0\.0-\d+\.\d W \| /);
  });

  it('marks an off_w under the lowest reading on the first line', () => {
    const r = calibrate(levels(12, [[3000, 1800, 40], [2000, 2500, 60]]));
    const lines = renderHistogram(r).split('\n');
    expect(lines[0]).toMatch(/<- off_w \d+ W \(below the lowest reading\)/);
    expect(lines.filter((l) => l.includes('<- active_w'))).toHaveLength(1);
  });

  it('renders an empty result', () => {
    expect(renderHistogram(calibrate([]))).toBe('(no readings)');
  });
});
