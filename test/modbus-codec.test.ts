import { describe, expect, it } from 'vitest';
import { JishiError } from '../common/errors.ts';
import { decodeField, decodeRequest, encodeField, planReads } from '../devices/modbus-codec.ts';
import { crc16Modbus, hasValidCrc, withCrc } from '../devices/modbus-crc.ts';
import { reg, REGISTER_COUNT, type ByteOrder, type ModbusField, type RegisterType } from '../devices/profile.ts';

const ORDERS: readonly ByteOrder[] = ['ABCD', 'DCBA', 'BADC', 'CDAB'];

/** Golden wire words per type and byte order, worked out by hand from the value's big-endian bytes. */
const GOLDEN: ReadonlyArray<{ type: RegisterType; value: number; words: Record<ByteOrder, number[]> }> = [
  { type: 'int16', value: 0x1234, words: { ABCD: [0x1234], DCBA: [0x3412], BADC: [0x3412], CDAB: [0x1234] } },
  { type: 'int16', value: -12345, words: { ABCD: [0xcfc7], DCBA: [0xc7cf], BADC: [0xc7cf], CDAB: [0xcfc7] } },
  { type: 'uint16', value: 0xabcd, words: { ABCD: [0xabcd], DCBA: [0xcdab], BADC: [0xcdab], CDAB: [0xabcd] } },
  {
    type: 'int32',
    value: 0x11223344,
    words: { ABCD: [0x1122, 0x3344], DCBA: [0x4433, 0x2211], BADC: [0x2211, 0x4433], CDAB: [0x3344, 0x1122] },
  },
  {
    type: 'int32',
    value: -2,
    words: { ABCD: [0xffff, 0xfffe], DCBA: [0xfeff, 0xffff], BADC: [0xffff, 0xfeff], CDAB: [0xfffe, 0xffff] },
  },
  {
    type: 'uint32',
    value: 0xa1b2c3d4,
    words: { ABCD: [0xa1b2, 0xc3d4], DCBA: [0xd4c3, 0xb2a1], BADC: [0xb2a1, 0xd4c3], CDAB: [0xc3d4, 0xa1b2] },
  },
  {
    type: 'float32',
    value: 230.5,
    words: { ABCD: [0x4366, 0x8000], DCBA: [0x0080, 0x6643], BADC: [0x6643, 0x0080], CDAB: [0x8000, 0x4366] },
  },
  {
    // Math.PI = 0x400921FB54442D18
    type: 'float64',
    value: Math.PI,
    words: {
      ABCD: [0x4009, 0x21fb, 0x5444, 0x2d18],
      DCBA: [0x182d, 0x4454, 0xfb21, 0x0940],
      BADC: [0x0940, 0xfb21, 0x4454, 0x182d],
      CDAB: [0x2d18, 0x5444, 0x21fb, 0x4009],
    },
  },
];

function field(type: RegisterType, order: ByteOrder, extra: Partial<ModbusField> = {}): ModbusField {
  return { ...reg[type]('x_w', 0, 'W', { order }), ...extra };
}

describe('decodeField / encodeField golden words', () => {
  for (const g of GOLDEN) {
    for (const order of ORDERS) {
      it(`${g.type} ${g.value} ${order}`, () => {
        const f = field(g.type, order);
        expect(encodeField(f, g.value)).toEqual(g.words[order]);
        expect(decodeField(f, g.words[order])).toBe(g.value);
      });
    }
  }
});

describe('round trips', () => {
  const samples: Record<RegisterType, number[]> = {
    int16: [0, 1, -1, 32767, -32768, 1234],
    uint16: [0, 1, 65535, 40000],
    int32: [0, -1, 2147483647, -2147483648, 123456789],
    uint32: [0, 1, 4294967295, 3000000000],
    float32: [0, -0.5, 1.5, 1e-3, 65504.25, -1e30],
    float64: [0, Math.E, -1e300, 1 / 3, 5e-324],
  };
  for (const type of Object.keys(samples) as RegisterType[]) {
    for (const order of ORDERS) {
      it(`${type} ${order}`, () => {
        const f = field(type, order);
        for (const v of samples[type]) {
          const words = encodeField(f, v);
          expect(words).toHaveLength(REGISTER_COUNT[type]);
          for (const w of words) expect(w >= 0 && w <= 0xffff && Number.isInteger(w)).toBe(true);
          const back = decodeField(f, words);
          expect(back).toBe(type === 'float32' ? Math.fround(v) : v);
        }
      });
    }
  }

  it('applies scale and offset: value = raw * scale + offset', () => {
    const f = field('int16', 'ABCD', { scale: 0.1, offset: -40 });
    expect(decodeField(f, [650])).toBeCloseTo(25, 10);
    expect(encodeField(f, 25)).toEqual([650]);
    const u = field('uint32', 'CDAB', { scale: 0.01 });
    expect(decodeField(u, encodeField(u, 1523.75))).toBeCloseTo(1523.75, 10);
  });

  it('rounds integer types to the nearest raw value', () => {
    const f = field('uint16', 'ABCD', { scale: 0.1 });
    expect(encodeField(f, 230.47)).toEqual([2305]);
    expect(encodeField(field('int16', 'ABCD'), 12.6)).toEqual([13]);
  });

  it('clamps integer types to their range', () => {
    expect(encodeField(field('uint16', 'ABCD'), 70000)).toEqual([0xffff]);
    expect(encodeField(field('uint16', 'ABCD'), -5)).toEqual([0]);
    expect(encodeField(field('int16', 'ABCD'), -40000)).toEqual([0x8000]);
    expect(encodeField(field('int32', 'ABCD'), 1e12)).toEqual([0x7fff, 0xffff]);
    expect(encodeField(field('uint32', 'ABCD'), 1e12)).toEqual([0xffff, 0xffff]);
  });
});

describe('decode errors', () => {
  function code(fn: () => unknown): string | undefined {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(JishiError);
      return (err as JishiError).code;
    }
    return undefined;
  }

  it('rejects NaN and infinity from float registers', () => {
    expect(code(() => decodeField(field('float32', 'ABCD'), [0x7fc0, 0x0000]))).toBe('JISHI_ERR_DEVICE_DECODE');
    expect(code(() => decodeField(field('float32', 'ABCD'), [0x7f80, 0x0000]))).toBe('JISHI_ERR_DEVICE_DECODE');
    expect(code(() => decodeField(field('float64', 'ABCD'), [0xfff8, 0, 0, 0]))).toBe('JISHI_ERR_DEVICE_DECODE');
  });

  it('rejects the wrong number of registers and non-uint16 words', () => {
    expect(code(() => decodeField(field('float32', 'ABCD'), [0x4366]))).toBe('JISHI_ERR_DEVICE_DECODE');
    expect(code(() => decodeField(field('int16', 'ABCD'), [1, 2]))).toBe('JISHI_ERR_DEVICE_DECODE');
    expect(code(() => decodeField(field('uint16', 'ABCD'), [70000]))).toBe('JISHI_ERR_DEVICE_DECODE');
  });

  it('rejects a short block in decodeRequest', () => {
    const [req] = planReads([reg.float32('a_w', 0, 'W')]);
    expect(code(() => decodeRequest(req!, [0x4366]))).toBe('JISHI_ERR_DEVICE_DECODE');
  });
});

describe('planReads', () => {
  const a = reg.float32('a_w', 0, 'W', { fn: 4 });
  const b = reg.float32('b_w', 2, 'W', { fn: 4 });
  const c = reg.uint16('c_w', 4, 'W', { fn: 4 });
  const far = reg.float32('far_w', 10, 'W', { fn: 4 });
  const hold = reg.int16('h_w', 0, 'W', { fn: 3 });

  it('merges contiguous ranges and groups by function code', () => {
    const plan = planReads([far, c, hold, b, a]);
    expect(plan.map((r) => ({ fn: r.fn, address: r.address, count: r.count, fields: r.fields.map((f) => f.field) }))).toEqual([
      { fn: 3, address: 0, count: 1, fields: ['h_w'] },
      { fn: 4, address: 0, count: 5, fields: ['a_w', 'b_w', 'c_w'] },
      { fn: 4, address: 10, count: 2, fields: ['far_w'] },
    ]);
  });

  it('bridges gaps up to maxGap', () => {
    expect(planReads([a, c, far], { maxGap: 4 }).map((r) => [r.address, r.count])).toEqual([[0, 5], [10, 2]]);
    expect(planReads([a, c, far], { maxGap: 5 }).map((r) => [r.address, r.count])).toEqual([[0, 12]]);
  });

  it('merges overlapping fields', () => {
    const lo = reg.uint16('lo_w', 1, 'W');
    const wide = reg.uint32('wide_w', 0, 'W');
    expect(planReads([lo, wide]).map((r) => [r.address, r.count, r.fields.length])).toEqual([[0, 2, 2]]);
  });

  it('splits at maxRegisters without splitting a field', () => {
    const fields = Array.from({ length: 100 }, (_, i) => reg.float32(`f${i}_w`, i * 2, 'W', { fn: 4 }));
    const plan = planReads(fields);
    expect(plan.map((r) => [r.address, r.count])).toEqual([[0, 124], [124, 76]]);
    const small = planReads([a, b, c], { maxRegisters: 3 });
    expect(small.map((r) => [r.address, r.count])).toEqual([[0, 2], [2, 3]]);
    for (const r of [...plan, ...small]) expect(r.count).toBeLessThanOrEqual(125);
  });

  it('refuses a field wider than maxRegisters', () => {
    expect(() => planReads([reg.float64('x_w', 0, 'W')], { maxRegisters: 2 })).toThrow(JishiError);
  });

  it('decodeRequest decodes every field of a merged block', () => {
    const fields = [a, c, far].map((f) => ({ ...f }));
    const [req] = planReads(fields, { maxGap: 10 });
    const block = new Array<number>(req!.count).fill(0);
    block.splice(0, 2, ...encodeField(a, 230.5));
    block.splice(4, 1, ...encodeField(c, 7));
    block.splice(10, 2, ...encodeField(far, -1.25));
    expect(decodeRequest(req!, block)).toEqual({ a_w: 230.5, c_w: 7, far_w: -1.25 });
  });
});

describe('planReads oneRequestPerField', () => {
  const a = reg.float32('a_w', 0, 'W', { fn: 4 });
  const b = reg.float32('b_w', 2, 'W', { fn: 4 });
  const c = reg.uint16('c_w', 4, 'W', { fn: 4 });
  const far = reg.float32('far_w', 10, 'W', { fn: 4 });
  const hold = reg.int16('h_w', 0, 'W', { fn: 3 });
  const shape = (plan: ReturnType<typeof planReads>) => plan.map((r) => [r.fn, r.address, r.count, r.fields.map((f) => f.field)]);

  it('gives every field its own request, ordered by function code then address', () => {
    expect(shape(planReads([far, c, hold, b, a], { oneRequestPerField: true }))).toEqual([
      [3, 0, 1, ['h_w']],
      [4, 0, 2, ['a_w']],
      [4, 2, 2, ['b_w']],
      [4, 4, 1, ['c_w']],
      [4, 10, 2, ['far_w']],
    ]);
  });

  it('ignores maxGap and keeps overlapping fields apart', () => {
    expect(planReads([a, b, c, far], { oneRequestPerField: true, maxGap: 100 })).toHaveLength(4);
    const lo = reg.uint16('lo_w', 1, 'W');
    const wide = reg.uint32('wide_w', 0, 'W');
    expect(planReads([lo, wide], { oneRequestPerField: true }).map((r) => [r.address, r.count])).toEqual([
      [0, 2],
      [1, 1],
    ]);
  });

  it('still refuses a field wider than maxRegisters', () => {
    expect(() => planReads([reg.float64('x_w', 0, 'W')], { oneRequestPerField: true, maxRegisters: 2 })).toThrow(JishiError);
  });

  it('false or absent keeps the merged plan', () => {
    expect(shape(planReads([a, b, c], { oneRequestPerField: false }))).toEqual(shape(planReads([a, b, c])));
    expect(planReads([a, b, c])).toHaveLength(1);
  });

  it('each single-field request decodes its field', () => {
    const plan = planReads([a, c], { oneRequestPerField: true });
    expect(decodeRequest(plan[0]!, encodeField(a, 230.5))).toEqual({ a_w: 230.5 });
    expect(decodeRequest(plan[1]!, encodeField(c, 7))).toEqual({ c_w: 7 });
  });
});

describe('crc16Modbus (RTU frame checksum)', () => {
  // Known answers worked out independently (Python bit loop and modbus-serial's utils/crc16):
  // 01 04 00 00 00 0A -> 0x0D70 (wire 70 0D), 01 03 00 00 00 01 -> 0x0A84 (wire 84 0A),
  // and the CRC-16/MODBUS catalogue check value for "123456789": 0x4B37.
  it('matches known answers', () => {
    expect(crc16Modbus(Uint8Array.from([0x01, 0x04, 0x00, 0x00, 0x00, 0x0a]))).toBe(0x0d70);
    expect(crc16Modbus(Uint8Array.from([0x01, 0x03, 0x00, 0x00, 0x00, 0x01]))).toBe(0x0a84);
    expect(crc16Modbus(new TextEncoder().encode('123456789'))).toBe(0x4b37);
  });

  it('appends the CRC low byte first and checks it', () => {
    const frame = withCrc(Uint8Array.from([0x01, 0x04, 0x00, 0x00, 0x00, 0x0a]));
    expect([...frame]).toEqual([0x01, 0x04, 0x00, 0x00, 0x00, 0x0a, 0x70, 0x0d]);
    expect(hasValidCrc(frame)).toBe(true);
    frame[3] = 0x01;
    expect(hasValidCrc(frame)).toBe(false);
    // a frame inside a larger buffer
    const buf = Buffer.concat([Buffer.from([0xff, 0xee]), withCrc(Uint8Array.from([0x07, 0x03, 0x00, 0x0c, 0x00, 0x02]))]);
    expect(hasValidCrc(buf, 2)).toBe(true);
    expect(hasValidCrc(buf, 1)).toBe(false);
    expect(hasValidCrc(Uint8Array.from([0x01, 0x02]))).toBe(false);
  });
});
