/**
 * Device transports are named by URL, the same form in config files and on the command line:
 *
 *   modbus-tcp://host:port?unit=1&timeout=1000
 *   modbus-tcp://host:port?unit=1&framing=rtu      (RTU over TCP, e.g. a transparent serial server)
 *   modbus-rtu:///dev/ttyUSB0?baud=9600&unit=1&parity=none&data_bits=8&stop_bits=1
 *   serial:///dev/ttyS0?baud=9600
 *   mqtt://host:port/<topic>
 *
 * Parsing is pure (no I/O). Every problem in a URL is reported, not just the first.
 */

export type Parity = 'none' | 'even' | 'odd';

export interface ModbusTcpTransport {
  kind: 'modbus-tcp';
  host: string;
  port: number;
  unit: number;
  timeoutMs: number;
  /** `tcp`: Modbus TCP (MBAP header); `rtu`: RTU frames (with CRC) over a TCP socket, as many serial servers speak. */
  framing: 'tcp' | 'rtu';
}

export interface SerialLine {
  path: string;
  baud: number;
  parity: Parity;
  dataBits: 7 | 8;
  stopBits: 1 | 2;
}

export interface ModbusRtuTransport extends SerialLine {
  kind: 'modbus-rtu';
  unit: number;
  timeoutMs: number;
}

export interface SerialTransport extends SerialLine {
  kind: 'serial';
  timeoutMs: number;
}

export interface MqttTransport {
  kind: 'mqtt';
  /** mqtt: or mqtts: */
  secure: boolean;
  host: string;
  port: number;
  topic: string;
  username?: string;
  password?: string;
}

export type Transport = ModbusTcpTransport | ModbusRtuTransport | SerialTransport | MqttTransport;
export type TransportKind = Transport['kind'];
export const TRANSPORT_KINDS: readonly TransportKind[] = ['modbus-tcp', 'modbus-rtu', 'serial', 'mqtt'];

export type ParseResult = { ok: true; transport: Transport } | { ok: false; errors: string[] };

const DEFAULT_TIMEOUT_MS = 1000;

function intParam(
  params: URLSearchParams,
  name: string,
  fallback: number,
  min: number,
  max: number,
  errors: string[],
): number {
  const raw = params.get(name);
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw)) {
    errors.push(`${name} must be an integer, got "${raw}"`);
    return fallback;
  }
  const n = Number(raw);
  if (n < min || n > max) {
    errors.push(`${name} must be between ${min} and ${max}, got ${n}`);
    return fallback;
  }
  return n;
}

function checkKnownParams(params: URLSearchParams, allowed: string[], errors: string[]): void {
  const seen = new Set<string>();
  for (const key of params.keys()) {
    if (!allowed.includes(key)) errors.push(`unknown parameter "${key}" (allowed: ${allowed.join(', ')})`);
    else if (seen.has(key)) errors.push(`parameter "${key}" is given more than once`);
    seen.add(key);
  }
}

function checkPortAndFragment(url: URL, text: string, errors: string[]): void {
  if (url.port === '0') errors.push('port 0 is not a device port');
  const hash = text.indexOf('#');
  if (hash >= 0) {
    errors.push(`unexpected "${text.slice(hash)}": a "#" starts a URL fragment; write it as %23 (e.g. an MQTT wildcard topic/%23)`);
  }
}

function serialLine(url: URL, errors: string[]): SerialLine {
  const path = decodeURIComponent(url.pathname);
  if (url.host !== '') errors.push(`a serial device is a path: write ${url.protocol}///dev/ttyUSB0 (three slashes), got host "${url.host}"`);
  if (path === '' || path === '/') errors.push('missing serial device path, e.g. /dev/ttyUSB0 or /COM3');
  const p = url.searchParams;
  const parityRaw = p.get('parity') ?? 'none';
  let parity: Parity = 'none';
  if (parityRaw === 'none' || parityRaw === 'even' || parityRaw === 'odd') parity = parityRaw;
  else errors.push(`parity must be none, even or odd, got "${parityRaw}"`);
  const dataBits = intParam(p, 'data_bits', 8, 7, 8, errors) as 7 | 8;
  const stopBits = intParam(p, 'stop_bits', 1, 1, 2, errors) as 1 | 2;
  // Windows COM ports are written serial:///COM3; strip the leading slash for them.
  const devicePath = /^\/COM\d+$/i.test(path) ? path.slice(1) : path;
  return { path: devicePath, baud: intParam(p, 'baud', 9600, 50, 4_000_000, errors), parity, dataBits, stopBits };
}

/** Parses a transport URL; `defaults` supplies profile defaults (e.g. a meter's factory baud rate). */
export function parseTransportUrl(text: string, defaults: { baud?: number; unit?: number } = {}): ParseResult {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, errors: [`"${text}" is not a URL; expected e.g. modbus-tcp://192.0.2.10:502?unit=1`] };
  }
  const errors: string[] = [];
  checkPortAndFragment(url, text, errors);
  const kind = url.protocol.slice(0, -1);
  const p = url.searchParams;
  let transport: Transport | undefined;
  switch (kind) {
    case 'modbus-tcp': {
      checkKnownParams(p, ['unit', 'timeout', 'framing'], errors);
      const framing = p.get('framing') ?? 'tcp';
      if (framing !== 'tcp' && framing !== 'rtu') errors.push(`framing must be tcp or rtu, got "${framing}"`);
      if (url.hostname === '') errors.push('missing host, e.g. modbus-tcp://192.0.2.10:502');
      if (url.pathname !== '' && url.pathname !== '/') errors.push(`unexpected path "${url.pathname}"`);
      transport = {
        kind,
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port === '' ? 502 : Number(url.port),
        unit: intParam(p, 'unit', defaults.unit ?? 1, 0, 255, errors),
        timeoutMs: intParam(p, 'timeout', DEFAULT_TIMEOUT_MS, 10, 60_000, errors),
        framing: framing === 'rtu' ? 'rtu' : 'tcp',
      };
      break;
    }
    case 'modbus-rtu': {
      checkKnownParams(p, ['unit', 'timeout', 'baud', 'parity', 'data_bits', 'stop_bits'], errors);
      if (!p.has('baud') && defaults.baud !== undefined) p.set('baud', String(defaults.baud));
      transport = {
        kind,
        ...serialLine(url, errors),
        unit: intParam(p, 'unit', defaults.unit ?? 1, 0, 247, errors),
        timeoutMs: intParam(p, 'timeout', DEFAULT_TIMEOUT_MS, 10, 60_000, errors),
      };
      break;
    }
    case 'serial': {
      checkKnownParams(p, ['timeout', 'baud', 'parity', 'data_bits', 'stop_bits'], errors);
      if (!p.has('baud') && defaults.baud !== undefined) p.set('baud', String(defaults.baud));
      transport = { kind, ...serialLine(url, errors), timeoutMs: intParam(p, 'timeout', DEFAULT_TIMEOUT_MS, 10, 60_000, errors) };
      break;
    }
    case 'mqtt':
    case 'mqtts': {
      checkKnownParams(p, [], errors);
      const topic = decodeURIComponent(url.pathname.replace(/^\//, ''));
      if (url.hostname === '') errors.push('missing broker host, e.g. mqtt://127.0.0.1:1883/tele/plug1/SENSOR');
      if (topic === '') errors.push('missing topic after the broker address, e.g. mqtt://127.0.0.1:1883/tele/plug1/SENSOR');
      transport = {
        kind: 'mqtt',
        secure: kind === 'mqtts',
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port === '' ? (kind === 'mqtts' ? 8883 : 1883) : Number(url.port),
        topic,
        ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
        ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      };
      break;
    }
    default:
      errors.push(`unknown transport "${kind}:" (expected one of ${TRANSPORT_KINDS.join(', ')})`);
  }
  if (errors.length > 0 || transport === undefined) return { ok: false, errors };
  return { ok: true, transport };
}

/** Renders a transport back to its URL form, without credentials (for logs and status). */
export function formatTransport(t: Transport): string {
  switch (t.kind) {
    case 'modbus-tcp':
      return `modbus-tcp://${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}?unit=${t.unit}${t.framing === 'rtu' ? '&framing=rtu' : ''}`;
    case 'modbus-rtu':
      return `modbus-rtu://${t.path.startsWith('/') ? '' : '/'}${t.path}?baud=${t.baud}&unit=${t.unit}`;
    case 'serial':
      return `serial://${t.path.startsWith('/') ? '' : '/'}${t.path}?baud=${t.baud}`;
    case 'mqtt':
      return `${t.secure ? 'mqtts' : 'mqtt'}://${t.host}:${t.port}/${t.topic}`;
  }
}
