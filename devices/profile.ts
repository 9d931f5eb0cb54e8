/**
 * Device profiles are typed data: what to read from a device, how to decode it, and which
 * reading field (docs/metric-schema.md) each value feeds. Adding a device adds a profile, not code.
 */
import type { TransportKind } from '../common/transport-url.ts';

export type RegisterType = 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';
/**
 * Byte order of multi-register values, naming the bytes of the value from most significant (A):
 * ABCD big-endian, DCBA little-endian, BADC byte-swapped, CDAB word-swapped.
 * For float64 (bytes A..H): ABCD = big-endian, DCBA = all 8 bytes reversed, BADC = bytes swapped
 * within each register, CDAB = the order of the four registers reversed.
 */
export type ByteOrder = 'ABCD' | 'DCBA' | 'BADC' | 'CDAB';
/** 3 = read holding registers, 4 = read input registers. */
export type ModbusFunction = 3 | 4;

export const REGISTER_COUNT: Record<RegisterType, number> = {
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  float32: 2,
  float64: 4,
};

export interface ModbusField {
  /** Reading field it feeds, e.g. `power_w` (snake_case, unit in the name). */
  field: string;
  fn: ModbusFunction;
  /** 0-based register offset as sent on the wire. */
  address: number;
  type: RegisterType;
  order: ByteOrder;
  /** value = raw * scale + offset */
  scale: number;
  offset: number;
  /** Unit of the decoded value, e.g. `W`, `kWh`. */
  unit: string;
}

/**
 * How a driver may split and pace its requests, for devices and gateways that need it (all optional).
 * A profile can set them; an instrument's `modbus:` section in the agent config overrides them.
 */
export interface ModbusRequestOptions {
  /** Largest register count per request (1..125; default 125). */
  maxRegisters?: number;
  /** Unmapped registers bridged to merge two ranges into one request (default 0). */
  maxGap?: number;
  /** Pause between two requests to the device, ms (default 0). */
  pauseMs?: number;
  /** Read every field with its own request (default false). */
  oneRequestPerField?: boolean;
}

/** What every profile says about itself, whatever its kind. */
export interface ProfileInfo {
  /** Catalog id, e.g. `eastron-sdm120`. */
  id: string;
  vendor: string;
  model: string;
  description: string;
  /** Where the register map, payload format or protocol comes from. */
  source: string;
  transports: readonly TransportKind[];
}

export interface ModbusProfile extends ProfileInfo {
  kind: 'modbus';
  defaults: { unit: number; baud: number };
  /** Request splitting and pacing this device needs; none by default. */
  request?: ModbusRequestOptions;
  fields: readonly ModbusField[];
}

/** Canonical instrument states a device status can map to (the collector's states). */
export type DeviceState = 'off' | 'standby' | 'active' | 'fault' | 'unknown';
export const DEVICE_STATES: readonly DeviceState[] = ['off', 'standby', 'active', 'fault', 'unknown'];

/**
 * A device status mapped to a state is sent as `<state>: <raw status>` (e.g. `active: RUN`); the collector
 * classifies a status of that form as that state unless an instrument's own `status_states` rule matches first.
 */
export function mappedStatus(state: DeviceState, raw: string): string {
  return `${state}: ${raw}`;
}

/** One value taken from a message or a matched line into a reading field. */
export interface ValueField {
  /** Reading field it feeds, e.g. `power_w` (docs/metric-schema.md). */
  field: string;
  /**
   * MQTT JSON: a dot path into the payload (`ENERGY.Power`, `params.switch:0.apower`, `by_minute.0`);
   * MQTT text: `` (the whole payload). Serial: the name of a regex group.
   */
  path: string;
  /** value = raw * scale (+ offset); e.g. 1/60000 for watt-minutes -> kWh. Default 1. */
  scale?: number;
  /** Default 0. */
  offset?: number;
  /** Unit of the value after scaling, e.g. `W`, `kWh`. */
  unit: string;
}

/** Where a device status comes from, and how its values map to states. */
export interface StatusSource {
  /** MQTT: a JSON dot path, or `` for a text payload. Serial: a regex group name. */
  path: string;
  /**
   * Raw value (matched case-insensitively) -> state, e.g. `{ RUN: active, READY: standby }`. A mapped value is sent
   * as `<state>: <raw>`; an unmapped one as the raw text (the collector's status_states and fault words apply).
   */
  map?: Readonly<Record<string, DeviceState>>;
  /**
   * Optional: every raw value the device sends there, mapped or not, as sent (an MQTT JSON payload may carry a
   * boolean or a number), e.g. `['ON', 'OFF']`, `[true, false]`. Simulators take the value for a state from `map`,
   * else the first value `map` leaves unmapped (a relay that is ON says nothing about the instrument's state).
   */
  values?: readonly (string | number | boolean)[];
}

/** One MQTT topic a device publishes to. */
export interface MqttMessage {
  /**
   * Topic template: `{topic}` is replaced by the topic of the transport URL (the device's name or prefix),
   * e.g. `tele/{topic}/SENSOR`, `shellies/{topic}/relay/0/power`, `{topic}/events/rpc`.
   */
  topic: string;
  format: 'json' | 'text';
  /** JSON only: take the message only when this path has this value (e.g. `method` = `NotifyStatus`). */
  when?: { path: string; equals: string };
  /** Values the message carries. A message updates only the fields it contains (deltas overlay the last state). */
  fields: readonly ValueField[];
  status?: StatusSource;
}

/**
 * An MQTT device (smart plug, energy monitor). The driver subscribes to every message topic and holds the
 * device's latest values; each poll reads them (sample-and-hold). The device is `unknown` (a read error) while
 * its availability topic says offline, while the broker is unreachable, or when nothing arrived for stale_after_s.
 */
export interface MqttProfile extends ProfileInfo {
  kind: 'mqtt';
  messages: readonly MqttMessage[];
  /** Online/offline topic (Tasmota LWT, Shelly `online`, Zigbee2MQTT availability), usually retained. */
  availability?: {
    topic: string;
    format: 'json' | 'text';
    /** JSON only: where the online word is, e.g. `state`. */
    path?: string;
    /** Values meaning online / offline, compared case-insensitively. */
    online: readonly string[];
    offline: readonly string[];
  };
  /** Held values older than this are stale (a read error); default 900 s (Tasmota's TelePeriod is 300 s). */
  staleAfterS?: number;
}

/** One step of a serial exchange before the answer line is read. */
export type SerialStep = { send: string } | { expect: string };

/**
 * A serial instrument. `listen`: it prints lines by itself; the driver keeps the latest matched line (held
 * like an MQTT value, stale after staleAfterS). `query`: each poll runs `steps` (send a command, expect an
 * acknowledgement such as ACK, send ENQ...) and then reads one answer line.
 * Strings may hold control characters (`\x05` ENQ, `\x06` ACK, `\r`).
 */
export interface SerialProfile extends ProfileInfo {
  kind: 'serial';
  defaults: { baud: number };
  mode: 'listen' | 'query';
  /** Line terminator of what the instrument sends, e.g. `\r\n`. Commands are sent as written in `steps`. */
  terminator: string;
  /** query mode: what is sent/expected before the answer line; e.g. `[{ send: 'MEAS:POW?\n' }]`. */
  steps?: readonly SerialStep[];
  /** Regular expression (JavaScript syntax) with named groups, matched against each line (without terminator). */
  pattern: string;
  fields: readonly ValueField[];
  status?: StatusSource;
  /**
   * A line the instrument would send, with `{group}` placeholders for every named group of `pattern`,
   * e.g. `STATUS {status} P={power}`: the simulator prints it, and the catalog test checks that it matches.
   */
  template: string;
  /** listen mode: a held line older than this is stale (a read error); default 60 s. */
  staleAfterS?: number;
  /** Hints for the simulator (devices/simulators/serial-instrument.ts) where the template alone is not enough. */
  simulate?: SerialSimulation;
}

/**
 * How the serial simulator renders `template` from a trace reading, where the defaults do not fit. Defaults: a
 * field takes the trace reading of the same name, written with up to 6 significant digits; the status group takes
 * a raw value whose `status.map` gives the trace's state.
 */
export interface SerialSimulation {
  /** Raw status value for a state the status map does not give, e.g. `{ fault: 'ERR 12', active: '0' }`. */
  status?: Readonly<Partial<Record<DeviceState, string>>>;
  /** By reading field: where the value comes from and how it is written. */
  values?: Readonly<Record<string, SerialSimulatedValue>>;
}

export interface SerialSimulatedValue {
  /** Trace reading field the value is taken from (default: the field itself), times `scale` (default 1). */
  from?: string;
  scale?: number;
  /**
   * `fixed`: `digits` decimals (`100.00`); `exponential`: NR3 with `digits` mantissa decimals (`1.2345E+02`).
   * `sign`: always write the sign (`+1.2345E+02`).
   */
  format?: { style: 'fixed' | 'exponential'; digits: number; sign?: boolean };
}

/** Every profile kind. */
export type DeviceProfile = ModbusProfile | MqttProfile | SerialProfile;

type FieldOptions = {
  fn?: ModbusFunction;
  order?: ByteOrder;
  scale?: number;
  offset?: number;
};

function factory(type: RegisterType) {
  return (field: string, address: number, unit: string, options: FieldOptions = {}): ModbusField => ({
    field,
    fn: options.fn ?? 3,
    address,
    type,
    order: options.order ?? 'ABCD',
    scale: options.scale ?? 1,
    offset: options.offset ?? 0,
    unit,
  });
}

/** Field factories: `reg.float32('power_w', 0x0c, 'W', { fn: 4 })`. */
export const reg = {
  int16: factory('int16'),
  uint16: factory('uint16'),
  int32: factory('int32'),
  uint32: factory('uint32'),
  float32: factory('float32'),
  float64: factory('float64'),
};

/** Transport defaults a profile gives (a meter's factory baud rate and unit id), for parseTransportUrl. */
export function profileDefaults(p: DeviceProfile): { baud?: number; unit?: number } {
  return p.kind === 'mqtt' ? {} : p.defaults;
}

/** Every reading field a profile can produce, with its unit, in profile order (each field once). */
export function profileFields(p: DeviceProfile): Array<{ field: string; unit: string }> {
  const all = p.kind === 'mqtt' ? p.messages.flatMap((m) => m.fields) : p.fields;
  const seen = new Map<string, string>();
  for (const f of all) if (!seen.has(f.field)) seen.set(f.field, f.unit);
  return [...seen].map(([field, unit]) => ({ field, unit }));
}
