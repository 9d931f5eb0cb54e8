import { describe, expect, it } from 'vitest';
import type { InstrumentView } from '../common/wire.ts';
import {
  classifyLive,
  createLivePolicy,
  DEFAULT_MAX_GAP_MS,
  DEFAULT_THRESHOLDS,
  isFaultStatus,
  liveView,
} from '../collector/live-state.ts';

describe('classifyLive', () => {
  it('classifies by power with the default thresholds (off < 10 W, active >= 400 W)', () => {
    expect(DEFAULT_THRESHOLDS).toEqual({ off_w: 10, active_w: 400 });
    expect(classifyLive({ readings: { power_w: 0 } })).toBe('off');
    expect(classifyLive({ readings: { power_w: 9.99 } })).toBe('off');
    expect(classifyLive({ readings: { power_w: 10 } })).toBe('standby');
    expect(classifyLive({ readings: { power_w: 399.9 } })).toBe('standby');
    expect(classifyLive({ readings: { power_w: 400 } })).toBe('active');
  });

  it('uses per-instrument thresholds (a mass spectrometer idles at 1.8 kW)', () => {
    const ms = { off_w: 100, active_w: 2200 };
    expect(classifyLive({ readings: { power_w: 1800 } }, ms)).toBe('standby');
    expect(classifyLive({ readings: { power_w: 2500 } }, ms)).toBe('active');
    expect(classifyLive({ readings: { power_w: 50 } }, ms)).toBe('off');
  });

  it('is unknown on a read error or without power, and fault on a fault status', () => {
    expect(classifyLive({ readings: {}, error: 'JISHI_ERR_DEVICE_TIMEOUT' })).toBe('unknown');
    expect(classifyLive({ readings: { power_w: 500 }, error: 'JISHI_ERR_DEVICE_DECODE' })).toBe('unknown');
    expect(classifyLive({ readings: { energy_kwh: 3 } })).toBe('unknown');
    expect(classifyLive({ readings: { power_w: 500 }, status: 'FAULT lamp' })).toBe('fault');
    expect(classifyLive({ readings: {}, status: 'alarm' })).toBe('fault');
    // Other status text does not decide yet: power does.
    expect(classifyLive({ readings: { power_w: 500 }, status: 'RUN' })).toBe('active');
    expect(classifyLive({ readings: { power_w: 500 }, status: 'NO ERROR' })).toBe('active');
  });
});

describe('isFaultStatus', () => {
  it.each([
    ['ERR', true],
    ['ERR05', true],
    ['Error: vacuum', true],
    ['errors present', true],
    ['ALARM_HIGH_TEMP', true],
    ['Fault', true],
    ['NO_ERROR', false],
    ['no fault', false],
    ['OK', false],
    ['TERRACOTTA', false],
    ['ready', false],
  ])('%s -> %s', (status, fault) => {
    expect(isFaultStatus(status)).toBe(fault);
  });
});

describe('createLivePolicy', () => {
  it('applies each instrument its own thresholds and the defaults to the rest', () => {
    const policy = createLivePolicy({ instruments: [{ id: 'MS-1', off_w: 100, active_w: 2200 }, { id: 'CONF-1', active_w: 600 }] });
    expect(policy.maxGapMs).toBe(DEFAULT_MAX_GAP_MS);
    const at = (power: number) => ({ instrument_id: 'x', ts: 0, readings: { power_w: power } });
    expect(policy.classify('MS-1', at(1800))).toBe('standby');
    expect(policy.classify('CONF-1', at(5))).toBe('off');
    expect(policy.classify('CONF-1', at(500))).toBe('standby');
    expect(policy.classify('other', at(500))).toBe('active');
  });
});

describe('liveView', () => {
  const view: InstrumentView = {
    id: 'FCM-1',
    agent_id: 'lab-pc-1',
    name: null,
    state: 'active',
    state_since: 1_000,
    last_seen: 60_000,
    last_reading: { ts: 60_000, readings: { power_w: 450 } },
  };

  it('keeps the stored state within max_gap of the last sample', () => {
    expect(liveView(view, 60_000 + DEFAULT_MAX_GAP_MS)).toBe(view);
  });

  it('is unknown since last_seen + max_gap after that', () => {
    expect(liveView(view, 60_001 + DEFAULT_MAX_GAP_MS)).toEqual({ ...view, state: 'unknown', state_since: 60_000 + DEFAULT_MAX_GAP_MS });
    expect(liveView(view, 70_001, 10_000)).toMatchObject({ state: 'unknown', state_since: 70_000 });
  });

  it('leaves a never-seen instrument alone', () => {
    const never = { ...view, state: 'unknown' as const, state_since: null, last_seen: null, last_reading: null };
    expect(liveView(never, 1e12)).toBe(never);
  });
});
