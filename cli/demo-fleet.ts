/** The demo's instruments: what they are, which power trace they follow, and their live-state thresholds. */
import type { DemoTraceId } from '../devices/traces.ts';

export interface DemoInstrument {
  id: string;
  name: string;
  trace: DemoTraceId;
  /** Modbus unit id on the simulated gateway. */
  unit: number;
  off_w: number;
  active_w: number;
}

/**
 * Engine timings scaled to the demo's short cycles (minutes, not hours), so states settle and sessions close
 * while you watch. Real instruments keep the documented defaults.
 */
export const DEMO_ENGINE = { min_dwell_s: 5, merge_gap_s: 60, warmup_max_s: 60, post_max_s: 30 } as const;

/** Thresholds sit between each trace's standby and active power (see devices/traces.ts DEMO_TRACES). */
export const DEMO_FLEET: readonly DemoInstrument[] = [
  { id: 'FCM-2019-001', name: '流式细胞仪 FACSCanto II', trace: 'flow-cytometer', unit: 1, off_w: 20, active_w: 300 },
  { id: 'SEQ-2021-003', name: '基因测序仪 NovaSeq 6000', trace: 'sequencer', unit: 2, off_w: 20, active_w: 700 },
  { id: 'CLSM-2018-002', name: '激光共聚焦显微镜 LSM 980', trace: 'confocal-microscope', unit: 3, off_w: 20, active_w: 550 },
  { id: 'LCMS-2020-004', name: '液质联用仪 Orbitrap Exploris', trace: 'mass-spectrometer', unit: 4, off_w: 100, active_w: 2150 },
];
