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

export interface ModbusProfile {
  kind: 'modbus';
  /** Catalog id, e.g. `eastron-sdm120`. */
  id: string;
  vendor: string;
  model: string;
  description: string;
  /** Where the register map comes from. */
  source: string;
  transports: readonly TransportKind[];
  defaults: { unit: number; baud: number };
  fields: readonly ModbusField[];
}

/** Every profile kind; serial and MQTT profiles join this union with the drivers issue. */
export type DeviceProfile = ModbusProfile;

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
