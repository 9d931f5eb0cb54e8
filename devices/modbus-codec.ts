/**
 * Modbus register codec: pure functions, no I/O.
 *
 * Registers are uint16 words as read from the wire (0..65535). A field's value is
 * `raw * scale + offset`, where `raw` is the register content interpreted as `field.type`
 * after applying `field.order` (see ByteOrder in ./profile.ts).
 *
 * Byte orders, naming the value's bytes from most significant (A):
 * - 16-bit:  ABCD/CDAB -> [AB]; DCBA/BADC -> [BA] (bytes swapped within the one word).
 * - 32-bit:  ABCD -> [AB][CD]; DCBA -> [DC][BA]; BADC -> [BA][DC]; CDAB -> [CD][AB].
 * - 64-bit (ABCDEFGH): ABCD -> [AB][CD][EF][GH]; DCBA -> [HG][FE][DC][BA];
 *   BADC -> [BA][DC][FE][HG]; CDAB -> [GH][EF][CD][AB] (word order reversed).
 */
import { JishiError } from '../common/errors.ts';
import { REGISTER_COUNT, type ByteOrder, type ModbusField, type ModbusFunction, type RegisterType } from './profile.ts';

/** One read request on the wire: `count` registers from `address` with function `fn`. */
export interface ReadRequest {
  fn: ModbusFunction;
  /** 0-based first register. */
  address: number;
  /** Number of registers (uint16 words). */
  count: number;
  /** The fields whose registers lie inside [address, address + count). */
  fields: ModbusField[];
}

export interface PlanOptions {
  /** Largest register count per request; default 125 (the Modbus limit for functions 3 and 4). */
  maxRegisters?: number;
  /**
   * Largest number of unmapped registers bridged to merge two ranges into one request.
   * Default 0: only contiguous or overlapping ranges are merged.
   */
  maxGap?: number;
  /**
   * Every field gets a request of its own (for devices that refuse multi-field reads); maxGap is then ignored.
   * Default false.
   */
  oneRequestPerField?: boolean;
}

/** The Modbus protocol limit for functions 3 and 4. */
export const MAX_READ_REGISTERS = 125;

const BYTE_WIDTH: Record<RegisterType, number> = {
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  float32: 4,
  float64: 8,
};

const PERMUTATIONS = new Map<string, readonly number[]>();

/** Permutation from wire byte position to big-endian value byte position (computed once per order and width). */
function wirePermutation(order: ByteOrder, width: number): readonly number[] {
  const key = `${order}${width}`;
  let perm = PERMUTATIONS.get(key);
  if (perm === undefined) PERMUTATIONS.set(key, (perm = computePermutation(order, width)));
  return perm;
}

function computePermutation(order: ByteOrder, width: number): number[] {
  const idx = Array.from({ length: width }, (_, i) => i);
  switch (order) {
    case 'ABCD':
      return idx;
    case 'DCBA':
      return idx.reverse();
    case 'BADC':
      return idx.map((i) => i ^ 1);
    case 'CDAB': {
      // word order reversed, bytes within a word kept
      const words = width / 2;
      return idx.map((i) => (words - 1 - (i >> 1)) * 2 + (i & 1));
    }
  }
}

/** Wire words -> big-endian bytes of the value. */
function toBigEndianBytes(order: ByteOrder, width: number, registers: readonly number[]): Uint8Array {
  const wire = new Uint8Array(width);
  for (let w = 0; w < width / 2; w++) {
    const word = registers[w]!;
    wire[2 * w] = (word >> 8) & 0xff;
    wire[2 * w + 1] = word & 0xff;
  }
  const perm = wirePermutation(order, width);
  const out = new Uint8Array(width);
  for (let i = 0; i < width; i++) out[perm[i]!] = wire[i]!;
  return out;
}

/** Big-endian bytes of the value -> wire words. */
function fromBigEndianBytes(order: ByteOrder, bytes: Uint8Array): number[] {
  const width = bytes.length;
  const perm = wirePermutation(order, width);
  const wire = new Uint8Array(width);
  for (let i = 0; i < width; i++) wire[i] = bytes[perm[i]!]!;
  const words: number[] = [];
  for (let w = 0; w < width / 2; w++) words.push((wire[2 * w]! << 8) | wire[2 * w + 1]!);
  return words;
}

function readRaw(type: RegisterType, view: DataView): number {
  switch (type) {
    case 'int16':
      return view.getInt16(0);
    case 'uint16':
      return view.getUint16(0);
    case 'int32':
      return view.getInt32(0);
    case 'uint32':
      return view.getUint32(0);
    case 'float32':
      return view.getFloat32(0);
    case 'float64':
      return view.getFloat64(0);
  }
}

const INT_RANGE: Partial<Record<RegisterType, [number, number]>> = {
  int16: [-0x8000, 0x7fff],
  uint16: [0, 0xffff],
  int32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
};

/**
 * Decodes one field from its registers (exactly REGISTER_COUNT[field.type] uint16 words, wire order).
 * Returns `raw * scale + offset` in `field.unit`.
 * @throws JishiError JISHI_ERR_DEVICE_DECODE on a wrong register count, a word outside 0..65535,
 *   or a non-finite result (NaN/Infinity from a float register).
 */
export function decodeField(field: ModbusField, registers: readonly number[]): number {
  const count = REGISTER_COUNT[field.type];
  if (registers.length !== count) {
    throw new JishiError(
      'JISHI_ERR_DEVICE_DECODE',
      `field ${field.field}: ${field.type} needs ${count} register(s), got ${registers.length}`,
      { details: { field: field.field, registers: [...registers] } },
    );
  }
  for (const word of registers) {
    if (!Number.isInteger(word) || word < 0 || word > 0xffff) {
      throw new JishiError('JISHI_ERR_DEVICE_DECODE', `field ${field.field}: register value ${word} is not a uint16`, {
        details: { field: field.field, registers: [...registers] },
      });
    }
  }
  const bytes = toBigEndianBytes(field.order, BYTE_WIDTH[field.type], registers);
  const raw = readRaw(field.type, new DataView(bytes.buffer));
  const value = raw * field.scale + field.offset;
  if (!Number.isFinite(value)) {
    throw new JishiError('JISHI_ERR_DEVICE_DECODE', `field ${field.field}: decoded value is not finite (${value})`, {
      details: { field: field.field, registers: [...registers] },
    });
  }
  return value;
}

/**
 * Encodes a value (in `field.unit`) into wire words, the inverse of decodeField: raw = (value - offset) / scale,
 * rounded to the nearest integer and clamped to the type's range for integer types. Used by simulators.
 */
export function encodeField(field: ModbusField, value: number): number[] {
  const width = BYTE_WIDTH[field.type];
  const bytes = new Uint8Array(width);
  const view = new DataView(bytes.buffer);
  let raw = (value - field.offset) / field.scale;
  const range = INT_RANGE[field.type];
  if (range) {
    raw = Number.isNaN(raw) ? 0 : Math.min(range[1], Math.max(range[0], Math.round(raw)));
  }
  switch (field.type) {
    case 'int16':
      view.setInt16(0, raw);
      break;
    case 'uint16':
      view.setUint16(0, raw);
      break;
    case 'int32':
      view.setInt32(0, raw);
      break;
    case 'uint32':
      view.setUint32(0, raw);
      break;
    case 'float32':
      view.setFloat32(0, raw);
      break;
    case 'float64':
      view.setFloat64(0, raw);
      break;
  }
  return fromBigEndianBytes(field.order, bytes);
}

/** Last register (exclusive) a field occupies. */
function fieldEnd(field: ModbusField): number {
  return field.address + REGISTER_COUNT[field.type];
}

/**
 * Plans the read requests for a set of fields: groups by function code (3 before 4), sorts by address and
 * merges ranges that touch, overlap or are at most `maxGap` registers apart, as long as the merged request
 * stays within `maxRegisters`. A field is never split across requests. With `oneRequestPerField` nothing is merged:
 * every field is read by a request of its own (same order: by function, then address).
 * @throws JishiError JISHI_ERR_DEVICE_DECODE when one field alone is wider than maxRegisters.
 */
export function planReads(fields: readonly ModbusField[], options: PlanOptions = {}): ReadRequest[] {
  const maxRegisters = options.maxRegisters ?? MAX_READ_REGISTERS;
  const maxGap = options.maxGap ?? 0;
  const merge = options.oneRequestPerField !== true;
  const byFn = new Map<ModbusFunction, ModbusField[]>();
  for (const f of fields) {
    const list = byFn.get(f.fn) ?? [];
    list.push(f);
    byFn.set(f.fn, list);
  }
  const requests: ReadRequest[] = [];
  for (const fn of [...byFn.keys()].sort((a, b) => a - b)) {
    const sorted = [...byFn.get(fn)!].sort((a, b) => a.address - b.address || fieldEnd(a) - fieldEnd(b));
    let current: ReadRequest | undefined;
    for (const f of sorted) {
      const width = REGISTER_COUNT[f.type];
      if (width > maxRegisters) {
        throw new JishiError('JISHI_ERR_DEVICE_DECODE', `field ${f.field} needs ${width} registers, more than maxRegisters ${maxRegisters}`);
      }
      if (current && merge) {
        const end = current.address + current.count;
        const newEnd = Math.max(end, fieldEnd(f));
        if (f.address - end <= maxGap && newEnd - current.address <= maxRegisters) {
          current.count = newEnd - current.address;
          current.fields.push(f);
          continue;
        }
      }
      current = { fn, address: f.address, count: width, fields: [f] };
      requests.push(current);
    }
  }
  return requests;
}

/**
 * Decodes every field of one request from the register block it read (`req.count` words starting at
 * `req.address`). Returns field name -> value (in each field's unit).
 * @throws JishiError JISHI_ERR_DEVICE_DECODE on a short block or a field that fails to decode.
 */
export function decodeRequest(req: ReadRequest, registers: readonly number[]): Record<string, number> {
  if (registers.length < req.count) {
    throw new JishiError('JISHI_ERR_DEVICE_DECODE', `expected ${req.count} registers from ${req.address}, got ${registers.length}`);
  }
  const out: Record<string, number> = {};
  for (const f of req.fields) {
    const start = f.address - req.address;
    out[f.field] = decodeField(f, registers.slice(start, start + REGISTER_COUNT[f.type]));
  }
  return out;
}
