/**
 * CRC-16/MODBUS, the checksum that closes every Modbus RTU frame: reflected polynomial 0xA001 (0x8005),
 * initial value 0xFFFF, no final XOR. On the wire the CRC follows the frame low byte first.
 * Pure functions, no I/O.
 */

/** CRC-16/MODBUS of `bytes[start, end)`. */
export function crc16Modbus(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i]!;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

/** The frame followed by its CRC, low byte first, as sent on an RTU line. */
export function withCrc(frame: Uint8Array): Buffer {
  const out = Buffer.alloc(frame.length + 2);
  out.set(frame, 0);
  out.writeUInt16LE(crc16Modbus(frame), frame.length);
  return out;
}

/** True when the last two bytes of `bytes[start, end)` are the CRC (low byte first) of the bytes before them. */
export function hasValidCrc(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
  if (end - start < 3) return false;
  const crc = crc16Modbus(bytes, start, end - 2);
  return bytes[end - 2] === (crc & 0xff) && bytes[end - 1] === crc >>> 8;
}
