/**
 * Modbus RTU slaves for tests and the demo: several simulated units on one serial line (one end of a socat pty
 * pair, or a real port), and the same on a TCP socket (RTU over TCP, as a serial device server in transparent
 * mode passes the bus through).
 *
 * The units answer by the rules in ./modbus-registers.ts, the same as the Modbus TCP simulator: registers from the
 * unit's trace at clock.now(), exception 2 for a range without a field, exception 3 for more than 125 registers,
 * silence for a unit set offline. What is specific to RTU, as on a real bus:
 * - framing is done here on top of `serialport` / `net`: a request is `unit fn payload CRC` (CRC-16/MODBUS, low
 *   byte first). Functions 1-6 are 8 bytes, 15/16 carry their byte count; others are found by their CRC;
 * - a frame with a bad CRC is dropped silently (a real slave ignores it; the master times out);
 * - a frame for a unit that is not configured gets no answer at all (nobody on the bus has that address), and
 *   neither does a broadcast (unit 0);
 * - other functions than 3 and 4 to a configured unit: exception 1 (illegal function);
 * - bytes that never form a frame are discarded after a short silence (INTER_FRAME_SILENCE_MS), as a slave
 *   resynchronizes on the 3.5-character gap.
 * `answerDelayMs` delays every answer (a slow device, a low baud rate); `inFlight()` counts requests received and
 * not answered yet, so tests can check that a master never talks over a pending request.
 */
import net from 'node:net';
import { SerialPort } from 'serialport';
import { systemClock, type Clock } from '../../common/clock.ts';
import type { Parity } from '../../common/transport-url.ts';
import { hasValidCrc, withCrc } from '../modbus-crc.ts';
import type { TraceState } from '../traces.ts';
import { ILLEGAL_FUNCTION, SimulatedUnits, type SimulatedDevice, type SimulatedRequest } from './modbus-registers.ts';

export type { SimulatedDevice, SimulatedRequest } from './modbus-registers.ts';

/** Leftover bytes that form no frame are dropped after this much silence on the line (wall-clock ms). */
export const INTER_FRAME_SILENCE_MS = 20;
/** The longest RTU frame (Modbus: 256 bytes). */
const MAX_FRAME = 256;

interface CommonOptions {
  devices: readonly SimulatedDevice[];
  /** Time source for trace evaluation and forced-state start times (default systemClock). */
  clock?: Clock;
  /** Called for every read request of functions 3/4 with a good CRC (any unit id), before it is answered. */
  onRequest?: (req: SimulatedRequest) => void;
  /** Every answer is sent this many (wall-clock) ms after the request arrived; default 0. */
  answerDelayMs?: number;
}

export interface ModbusRtuSimulatorOptions extends CommonOptions {
  /** Serial device to serve on, e.g. the device end of a socat pty pair. */
  path: string;
  /** Line settings (a pty ignores them); default 9600 8N1. */
  baudRate?: number;
  parity?: Parity;
  dataBits?: 7 | 8;
  stopBits?: 1 | 2;
}

export interface ModbusRtuOverTcpSimulatorOptions extends CommonOptions {
  /** Address to listen on (default '127.0.0.1'). */
  host?: string;
  /** TCP port; 0 (the default) picks a free one, reported as `port`. */
  port?: number;
}

/** What both RTU simulators offer. */
export interface RtuSimulatorControls {
  /** Forces the unit's trace into `state` from now on (clock.now()); null resumes its schedule. */
  setState(unit: number, state: TraceState | null): void;
  /** An offline unit does not answer at all (requests time out); true by default. */
  setOffline(unit: number, offline?: boolean): void;
  /** Requests received whose answer has not been sent yet (silent units are not counted). */
  inFlight(): number;
  /** Stops serving: closes the port / server and every connection, drops pending answers. Idempotent. */
  close(): Promise<void>;
}

export interface ModbusRtuSimulator extends RtuSimulatorControls {
  readonly path: string;
  /** False once the port closed (close(), or the device vanished: cable pulled). */
  readonly isOpen: boolean;
}

export interface ModbusRtuOverTcpSimulator extends RtuSimulatorControls {
  readonly host: string;
  readonly port: number;
  /** Transport URL for a unit: `modbus-tcp://127.0.0.1:PORT?unit=N&framing=rtu`. */
  url(unit: number): string;
}

/**
 * What the bytes at `start` hold: a complete frame with a good CRC (`frame`: its length), a damaged one (`drop`:
 * how many bytes to discard: the whole frame when its function tells its length, else one byte), or `more` when
 * more bytes are needed to tell.
 */
function frameAt(buf: Buffer, start: number): { frame: number } | { drop: number } | 'more' {
  const avail = buf.length - start;
  if (avail < 2) return 'more';
  const fn = buf[start + 1]!;
  let length: number | undefined;
  if (fn >= 1 && fn <= 6) length = 8;
  else if (fn === 15 || fn === 16) {
    if (avail < 7) return 'more';
    length = 9 + buf[start + 6]!;
  }
  if (length !== undefined) {
    if (avail < length) return 'more';
    return hasValidCrc(buf, start, start + length) ? { frame: length } : { drop: length };
  }
  // Unknown function: the shortest prefix that ends in its own CRC.
  for (let len = 4; len <= Math.min(avail, MAX_FRAME); len++) if (hasValidCrc(buf, start, start + len)) return { frame: len };
  return avail >= MAX_FRAME ? { drop: 1 } : 'more';
}

/** One slave end of an RTU line (a serial port, or one TCP connection): frames requests and answers them. */
class RtuSlave {
  #buffer = Buffer.alloc(0);
  #silence: ReturnType<typeof setTimeout> | undefined;
  readonly #pending = new Set<ReturnType<typeof setTimeout>>();
  #closed = false;

  readonly units: SimulatedUnits;
  readonly answerDelayMs: number;
  /** Shared by every slave end of one simulator. */
  readonly busy: { inFlight: number };
  readonly write: (frame: Buffer) => void;

  constructor(units: SimulatedUnits, answerDelayMs: number, busy: { inFlight: number }, write: (frame: Buffer) => void) {
    this.units = units;
    this.answerDelayMs = answerDelayMs;
    this.busy = busy;
    this.write = write;
  }

  receive(chunk: Buffer): void {
    if (this.#closed) return;
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const r = frameAt(this.#buffer, 0);
      if (r === 'more') break;
      if ('drop' in r) {
        // A damaged frame: dropped silently, as a slave ignores a frame whose CRC does not match.
        this.#buffer = this.#buffer.subarray(r.drop);
        continue;
      }
      const frame = Buffer.from(this.#buffer.subarray(0, r.frame));
      this.#buffer = this.#buffer.subarray(r.frame);
      this.#handle(frame);
    }
    if (this.#silence !== undefined) clearTimeout(this.#silence);
    this.#silence = undefined;
    if (this.#buffer.length > 0) {
      this.#silence = setTimeout(() => {
        this.#silence = undefined;
        this.#buffer = Buffer.alloc(0);
      }, INTER_FRAME_SILENCE_MS);
      this.#silence.unref?.();
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#silence !== undefined) clearTimeout(this.#silence);
    for (const t of this.#pending) clearTimeout(t);
    this.busy.inFlight -= this.#pending.size;
    this.#pending.clear();
  }

  #handle(frame: Buffer): void {
    const unit = frame[0]!;
    const fn = frame[1]!;
    let answer: Buffer | undefined;
    if (fn === 3 || fn === 4) {
      const a = this.units.read({ unit, fn, address: frame.readUInt16BE(2), count: frame.readUInt16BE(4) });
      if (unit === 0) return; // broadcast: never answered
      if (a.kind === 'registers') {
        const body = Buffer.alloc(3 + 2 * a.words.length);
        body[0] = unit;
        body[1] = fn;
        body[2] = 2 * a.words.length;
        a.words.forEach((w, i) => body.writeUInt16BE(w, 3 + 2 * i));
        answer = withCrc(body);
      } else if (a.kind === 'exception') {
        answer = withCrc(Uint8Array.from([unit, fn | 0x80, a.code]));
      }
    } else if (unit !== 0 && this.units.has(unit) && !this.units.isOffline(unit)) {
      answer = withCrc(Uint8Array.from([unit, (fn | 0x80) & 0xff, ILLEGAL_FUNCTION]));
    }
    if (!answer) return;
    const send = answer;
    this.busy.inFlight++;
    const deliver = (): void => {
      this.busy.inFlight--;
      if (!this.#closed) this.write(send);
    };
    if (this.answerDelayMs <= 0) {
      deliver();
      return;
    }
    const timer = setTimeout(() => {
      this.#pending.delete(timer);
      deliver();
    }, this.answerDelayMs);
    this.#pending.add(timer);
  }
}

function controls(units: SimulatedUnits, busy: { inFlight: number }): Omit<RtuSimulatorControls, 'close'> {
  return {
    setState: (unit, state) => units.setState(unit, state),
    setOffline: (unit, offline = true) => units.setOffline(unit, offline),
    inFlight: () => busy.inFlight,
  };
}

/** Starts serving on a serial port; resolves once the port is open. Rejects when it cannot be opened. */
export async function startModbusRtuSimulator(options: ModbusRtuSimulatorOptions): Promise<ModbusRtuSimulator> {
  const units = new SimulatedUnits(options.devices, options.clock ?? systemClock, options.onRequest);
  const busy = { inFlight: 0 };
  const port = new SerialPort({
    path: options.path,
    baudRate: options.baudRate ?? 9600,
    parity: options.parity ?? 'none',
    dataBits: options.dataBits ?? 8,
    stopBits: options.stopBits ?? 1,
    autoOpen: false,
  });
  // A vanished device (cable pulled) errors and closes the port; that must not crash the process.
  port.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  const slave = new RtuSlave(units, options.answerDelayMs ?? 0, busy, (frame) => {
    if (port.isOpen) port.write(frame, () => undefined);
  });
  port.on('data', (chunk: Buffer) => slave.receive(chunk));
  port.on('close', () => slave.close());

  let closing: Promise<void> | undefined;
  return {
    path: options.path,
    get isOpen() {
      return port.isOpen;
    },
    ...controls(units, busy),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        slave.close();
        if (!port.isOpen) {
          resolve();
          return;
        }
        port.close(() => resolve());
      });
      return closing;
    },
  };
}

/** Starts an RTU-over-TCP server; resolves once it listens. Every connection is a view of the same bus. */
export async function startModbusRtuOverTcpSimulator(options: ModbusRtuOverTcpSimulatorOptions): Promise<ModbusRtuOverTcpSimulator> {
  const host = options.host ?? '127.0.0.1';
  const units = new SimulatedUnits(options.devices, options.clock ?? systemClock, options.onRequest);
  const busy = { inFlight: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const slave = new RtuSlave(units, options.answerDelayMs ?? 0, busy, (frame) => {
      if (!socket.destroyed) socket.write(frame);
    });
    socket.on('data', (chunk) => slave.receive(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      slave.close();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: options.port ?? 0 }, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  server.on('error', () => undefined);
  const port = (server.address() as net.AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    url: (unit) => `modbus-tcp://${urlHost}:${port}?unit=${unit}&framing=rtu`,
    ...controls(units, busy),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closing;
    },
  };
}
