/**
 * The demo's instruments: what they are, which power trace they follow, which simulated device and transport
 * carries their readings, and their live-state thresholds.
 */
import type { DemoTraceId } from '../devices/traces.ts';

/**
 * How an instrument's device is reached in the demo:
 * - `modbus-tcp`: a unit on the simulated Modbus TCP gateway;
 * - `rtu-over-tcp`: a unit behind a simulated serial device server passing RTU frames over TCP (`framing=rtu`);
 * - `mqtt`: a smart plug publishing to the embedded MQTT broker;
 * - `modbus-rtu`: a meter on a serial line (a socat pty pair);
 * - `serial`: an instrument printing status lines on a serial line (a socat pty pair).
 */
export type DemoLink = 'modbus-tcp' | 'rtu-over-tcp' | 'mqtt' | 'modbus-rtu' | 'serial';

interface DemoInstrumentBase {
  id: string;
  name: string;
  trace: DemoTraceId;
  /** Seeds the trace's noise; instruments that share a trace differ by seed. */
  seed: number;
  /** Where in its cycle the trace is when the demo starts, s (instruments do not all switch at once). */
  phaseS: number;
  /** Device catalog id (devices/catalog.ts). */
  profile: string;
  /** Short device name for the banner, e.g. `Eastron SDM120`. */
  device: string;
  off_w: number;
  active_w: number;
}

export type DemoInstrument = DemoInstrumentBase &
  (
    | { link: 'modbus-tcp' | 'rtu-over-tcp' | 'modbus-rtu'; /** Modbus unit id on its gateway or bus. */ unit: number }
    | { link: 'mqtt'; /** The device's MQTT topic (Tasmota Topic, Shelly prefix). */ topic: string }
    | { link: 'serial' }
  );

/** Links that need a serial line, which the demo makes with socat. */
export const SERIAL_LINKS: ReadonlySet<DemoLink> = new Set<DemoLink>(['modbus-rtu', 'serial']);

/** True when the instrument needs a serial line (socat) in the demo. */
export function needsSerialLine(instrument: DemoInstrument): boolean {
  return SERIAL_LINKS.has(instrument.link);
}

/**
 * Engine timings scaled to the demo's short cycles (minutes, not hours), so states settle and sessions close
 * while you watch. Real instruments keep the documented defaults.
 */
export const DEMO_ENGINE = { min_dwell_s: 5, merge_gap_s: 60, warmup_max_s: 60, post_max_s: 30 } as const;

/** Thresholds sit between each trace's standby and active power (see devices/traces.ts DEMO_TRACES). */
export const DEMO_FLEET: readonly DemoInstrument[] = [
  {
    id: 'FCM-2019-001', name: '流式细胞仪 FACSCanto II', trace: 'flow-cytometer', seed: 1001, phaseS: 0,
    link: 'modbus-tcp', unit: 1, profile: 'eastron-sdm120', device: 'Eastron SDM120', off_w: 20, active_w: 300,
  },
  {
    id: 'SEQ-2021-003', name: '基因测序仪 NovaSeq 6000', trace: 'sequencer', seed: 1002, phaseS: 17,
    link: 'modbus-tcp', unit: 2, profile: 'chint-dtsu666', device: 'Chint DTSU666', off_w: 20, active_w: 700,
  },
  {
    id: 'LCMS-2020-004', name: '液质联用仪 Orbitrap Exploris', trace: 'mass-spectrometer', seed: 1004, phaseS: 51,
    link: 'rtu-over-tcp', unit: 1, profile: 'eastron-sdm630', device: 'Eastron SDM630', off_w: 100, active_w: 2150,
  },
  {
    id: 'CLSM-2018-002', name: '激光共聚焦显微镜 LSM 980', trace: 'confocal-microscope', seed: 1003, phaseS: 34,
    link: 'mqtt', topic: 'shellyplusplugs-e465b8b1f2c0', profile: 'shelly-gen2-switch', device: 'Shelly Plus Plug S',
    off_w: 20, active_w: 550,
  },
  {
    id: 'PCR-2022-005', name: '实时荧光定量PCR仪 QuantStudio 5', trace: 'flow-cytometer', seed: 2005, phaseS: 68,
    link: 'mqtt', topic: 'tasmota_5C3A91', profile: 'tasmota-plug', device: 'Tasmota plug', off_w: 20, active_w: 300,
  },
  {
    id: 'UC-2017-006', name: '超速离心机 Optima XPN-100', trace: 'sequencer', seed: 2006, phaseS: 85,
    link: 'serial', profile: 'generic-status-line', device: 'status line (RS-232)', off_w: 20, active_w: 700,
  },
  {
    id: 'XRD-2016-007', name: 'X射线衍射仪 D8 ADVANCE', trace: 'mass-spectrometer', seed: 2007, phaseS: 102,
    link: 'modbus-rtu', unit: 1, profile: 'acrel-adw300', device: 'Acrel ADW300', off_w: 100, active_w: 2150,
  },
];
