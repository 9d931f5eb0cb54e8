/**
 * Maps what modbus-serial throws to device JishiErrors, naming Modbus exception codes.
 * Shared by the Modbus TCP driver and (later) the RTU driver.
 */
import { JishiError } from '../../common/errors.ts';

/** Modbus exception codes by number (Modbus Application Protocol v1.1b3, section 7). */
export const MODBUS_EXCEPTIONS: Readonly<Record<number, string>> = {
  0x01: 'ILLEGAL FUNCTION',
  0x02: 'ILLEGAL DATA ADDRESS',
  0x03: 'ILLEGAL DATA VALUE',
  0x04: 'SLAVE DEVICE FAILURE',
  0x05: 'ACKNOWLEDGE',
  0x06: 'SLAVE DEVICE BUSY',
  0x08: 'MEMORY PARITY ERROR',
  0x0a: 'GATEWAY PATH UNAVAILABLE',
  0x0b: 'GATEWAY TARGET FAILED TO RESPOND',
};

/** `2 ILLEGAL DATA ADDRESS`; unknown codes are named `UNKNOWN EXCEPTION`. */
export function modbusExceptionName(code: number): string {
  return MODBUS_EXCEPTIONS[code] ?? 'UNKNOWN EXCEPTION';
}

/** The request that failed, for messages and error details. */
export interface ModbusRequestInfo {
  target: string;
  unit: number;
  fn?: number;
  address?: number;
  count?: number;
}

function describe(req: ModbusRequestInfo): string {
  const what =
    req.fn === undefined ? '' : ` reading fn ${req.fn} address 0x${(req.address ?? 0).toString(16).padStart(4, '0')} count ${req.count}`;
  return `${req.target} unit ${req.unit}${what}`;
}

/**
 * Classifies a modbus-serial error: `modbusCode` -> JISHI_ERR_DEVICE_EXCEPTION (named),
 * a response timeout -> JISHI_ERR_DEVICE_TIMEOUT,
 * malformed answers (length, CRC, unexpected unit or function) -> JISHI_ERR_DEVICE_DECODE, anything else
 * (connection refused or reset, host unreachable, connect timeout, port not open) -> JISHI_ERR_DEVICE_UNREACHABLE.
 * JishiErrors pass through unchanged.
 */
export function toDeviceError(err: unknown, req: ModbusRequestInfo): JishiError {
  if (err instanceof JishiError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as { modbusCode?: unknown; errno?: unknown; code?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  const where = describe(req);
  if (typeof e.modbusCode === 'number') {
    const name = modbusExceptionName(e.modbusCode);
    const hint = e.modbusCode === 2 ? ' (check the register map: 0-based vs 1-based addresses?)' : '';
    return new JishiError('JISHI_ERR_DEVICE_EXCEPTION', `Modbus exception ${e.modbusCode} ${name} from ${where}${hint}`, {
      cause: err,
      details: { exceptionCode: e.modbusCode, exception: name, ...req },
    });
  }
  const errno = typeof e.errno === 'string' ? e.errno : typeof e.code === 'string' ? e.code : undefined;
  if (errno === 'ETIMEDOUT' && /timed out/i.test(message) && !/TCP Connection/i.test(message)) {
    return new JishiError('JISHI_ERR_DEVICE_TIMEOUT', `no answer from ${where} (timed out)`, { cause: err, details: req });
  }
  if (/data length error|crc error|unexpected data/i.test(message)) {
    return new JishiError('JISHI_ERR_DEVICE_DECODE', `malformed answer from ${where}: ${message}`, { cause: err, details: req });
  }
  return new JishiError('JISHI_ERR_DEVICE_UNREACHABLE', `cannot reach ${where}: ${errno ? `${errno} ` : ''}${message}`, {
    cause: err,
    details: req,
  });
}
