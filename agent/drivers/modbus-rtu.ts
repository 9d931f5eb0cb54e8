/**
 * Modbus RTU driver for serial lines (`modbus-rtu:///dev/ttyUSB0?baud=9600&unit=1`), on modbus-serial's buffered
 * RTU client (`connectRTUBuffered`, which opens the port with the `serialport` package). Reads the profile's fields
 * with the requests the plan gives (./modbus-request.ts: maxRegisters, maxGap, oneRequestPerField, pauseMs).
 *
 * One port, several units:
 * - An RS-485 line carries several units (meters) on one serial port, and a port can be opened only once. All
 *   drivers on one port share ONE RtuPort: acquired through ctx.shared under the key `rtu:<path>` when the agent
 *   gives a SharedResources, owned by the driver alone otherwise (`jishi probe`). The last driver to close closes it.
 * - The bus is half-duplex and RTU has no transaction ids, so access is serialized: a FIFO mutex lets one request
 *   at a time on the bus, across all drivers sharing the port. Each request sets its unit id and timeout, then
 *   waits for the answer (or the timeout) before the next request may go out. The mutex is taken per request, not
 *   per read, so the units' requests interleave fairly; the pause between two requests of one read (pauseMs, on
 *   ctx.clock) is taken without holding the bus.
 * - Before each request the client's receive buffer is emptied, so bytes of a late answer to an earlier,
 *   timed-out request are not scanned as the new answer. (A late answer that arrives after the new request went
 *   out can still be taken for it when unit, function and length match: RTU cannot tell; keep timeouts above the
 *   devices' answer times.)
 *
 * Failures (all JishiErrors with a device code, via toDeviceError):
 * - A timeout (silent unit) or a Modbus exception concerns that unit only: the port stays open and the other units
 *   on it keep reading. A malformed answer (CRC error, wrong length) is a DECODE error and keeps the port too.
 * - A lost port (cable pulled: the device path vanishes, the port closes, a write fails) is UNREACHABLE: the port is
 *   closed, and the next request of any driver on it reopens it lazily. Each driver counts, in stats().reconnects,
 *   the reopened ports it went on to use.
 * - Two drivers that name the same path with different line settings (baud, parity, data or stop bits) cannot
 *   share it: the second one's reads fail with UNREACHABLE, naming both settings.
 *
 * modbus-serial is imported when a port is first opened (loadModbusSerial), not with this module: an agent with
 * neither RTU nor Modbus TCP instruments never loads it (nor serialport, which it requires).
 */
import type ModbusSerial from 'modbus-serial';
import type { Clock, TimerHandle } from '../../common/clock.ts';
import { JishiError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { formatTransport, type ModbusRtuTransport, type SerialLine } from '../../common/transport-url.ts';
import type { ReadRequest } from '../../devices/modbus-codec.ts';
import type { ModbusProfile, ModbusRequestOptions } from '../../devices/profile.ts';
import type { DriverContext, DriverStats, PolledDriver, ReadResult } from './driver.ts';
import { toDeviceError, type ModbusRequestInfo } from './modbus-errors.ts';
import { modbusRequestPlan, readPlan, type ModbusRequestPlan } from './modbus-request.ts';
import { DriverConnection } from './shared.ts';

// modbus-serial is CommonJS: the default import is module.exports, whose `default` is the client class.
export type ModbusRTUClass = (typeof ModbusSerial)['default'];
export type ModbusRTU = InstanceType<ModbusRTUClass>;

/** modbus-serial's client class, imported on first use (by this driver and the Modbus TCP one). */
export async function loadModbusSerial(): Promise<ModbusRTUClass> {
  return (await import('modbus-serial')).default.default;
}

export interface ModbusRtuDriverOptions {
  profile: ModbusProfile;
  transport: ModbusRtuTransport;
  /** Overrides the profile's `request` options field by field. */
  request?: ModbusRequestOptions;
}

/** A first-in first-out lock: tasks run one at a time, in the order they asked. */
export class FifoMutex {
  #tail: Promise<void> = Promise.resolve();
  #waiting = 0;

  /** Tasks queued or running. */
  get size(): number {
    return this.#waiting;
  }

  /** Runs `task` once every task queued before it has finished (fulfilled or rejected). */
  async run<T>(task: () => Promise<T>): Promise<T> {
    const previous = this.#tail;
    let done: () => void = () => undefined;
    this.#tail = new Promise<void>((resolve) => {
      done = resolve;
    });
    this.#waiting++;
    try {
      await previous;
      return await task();
    } finally {
      this.#waiting--;
      done();
    }
  }
}

/** An open port: the client, and what happens when the port closes or fails. */
interface PortConnection {
  client: ModbusRTU;
  /** Why the port was lost (its first close or error), once it was. */
  lostError: Error | undefined;
  /** Fails the request in flight when the port is lost (modbus-serial would wait for its timeout). */
  fail: ((err: Error) => void) | undefined;
  dead: boolean;
  /** Which opening of the port this is (1 = first). */
  generation: number;
}

/** The key under which drivers share the port of a serial line. */
export function rtuPortKey(path: string): string {
  return `rtu:${path}`;
}

function describeLine(line: SerialLine): string {
  return `${line.baud} baud ${line.dataBits}${line.parity[0]!.toUpperCase()}${line.stopBits}`;
}

/**
 * One serial port and the RS-485 bus behind it, shared by every driver of a unit on it. Opens lazily, serializes
 * requests, and reopens after the port was lost. No I/O until the first request.
 */
export class RtuPort {
  readonly line: SerialLine;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #mutex = new FifoMutex();
  #conn: PortConnection | undefined;
  /** The close of the previous client, awaited before the port is opened again (a tty opens exclusively). */
  #closing: Promise<void> = Promise.resolve();
  #opens = 0;
  #closed = false;

  constructor(line: SerialLine, ctx: { clock: Clock; logger: Logger }) {
    this.line = { path: line.path, baud: line.baud, parity: line.parity, dataBits: line.dataBits, stopBits: line.stopBits };
    this.#clock = ctx.clock;
    this.#logger = ctx.logger;
  }

  /** True while the port is open. */
  get isOpen(): boolean {
    return this.#conn !== undefined && !this.#conn.dead;
  }

  /** Successful openings of the port so far. */
  get opens(): number {
    return this.#opens;
  }

  /** True when `line` has the same settings as this port's. */
  matches(line: SerialLine): boolean {
    const l = this.line;
    return l.path === line.path && l.baud === line.baud && l.parity === line.parity && l.dataBits === line.dataBits && l.stopBits === line.stopBits;
  }

  /** Opens the port unless it is open; resolves with the port's generation. */
  open(info: ModbusRequestInfo, timeoutMs: number): Promise<number> {
    return this.#exclusive(info, async () => (await this.#connection(info, timeoutMs)).generation);
  }

  /**
   * Sends one read to `info.unit` with exclusive use of the bus, opening the port first if needed.
   * Resolves with the registers and the port generation it went over; rejects with a device JishiError.
   */
  read(info: ModbusRequestInfo, req: ReadRequest, timeoutMs: number): Promise<{ registers: number[]; generation: number }> {
    return this.#exclusive(info, async () => {
      const conn = await this.#connection(info, timeoutMs);
      return { registers: await this.#request(conn, info, req, timeoutMs), generation: conn.generation };
    });
  }

  /** Closes the port; later requests fail. Never rejects. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#drop();
    await this.#closing;
  }

  #exclusive<T>(info: ModbusRequestInfo, task: () => Promise<T>): Promise<T> {
    return this.#mutex.run(async () => {
      if (this.#closed) throw new JishiError('JISHI_ERR_DEVICE_UNREACHABLE', `${info.target}: serial port ${this.line.path} is closed`, { details: info });
      return task();
    });
  }

  async #request(conn: PortConnection, info: ModbusRequestInfo, req: ReadRequest, timeoutMs: number): Promise<number[]> {
    const { client } = conn;
    discardReceived(client);
    client.setID(info.unit);
    client.setTimeout(timeoutMs);
    const op = req.fn === 3 ? client.readHoldingRegisters(req.address, req.count) : client.readInputRegisters(req.address, req.count);
    // Not Promise.race(op, <a promise that rejects when the port is lost>): each race would leave a reaction on
    // that long-pending promise, holding every answer for as long as the port stays open.
    const answer = new Promise<{ data: number[] }>((resolve, reject) => {
      if (conn.lostError) {
        reject(conn.lostError);
        return;
      }
      conn.fail = reject;
      op.then(resolve, reject);
    });
    try {
      const result = await answer;
      return result.data;
    } catch (err) {
      op.catch(() => undefined);
      const error = toDeviceError(err, info);
      // A silent unit, an exception or a garbled answer concern one unit: the port stays open for the others.
      if (error.code === 'JISHI_ERR_DEVICE_UNREACHABLE') this.#drop(conn);
      throw error;
    } finally {
      conn.fail = undefined;
    }
  }

  async #connection(info: ModbusRequestInfo, timeoutMs: number): Promise<PortConnection> {
    if (this.#conn && !this.#conn.dead) return this.#conn;
    this.#drop();
    await this.#closing;
    const { path, baud, parity, dataBits, stopBits } = this.line;
    const ModbusRTU = await loadModbusSerial();
    const client = new ModbusRTU();
    // modbus-serial re-emits port errors; without a listener an 'error' event would crash the process.
    client.on('error', () => undefined);
    let timer: TimerHandle | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.#clock.setTimeout(() => reject(new Error(`opening serial port ${path} timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    const opening = client.connectRTUBuffered(path, { baudRate: baud, parity, dataBits, stopBits });
    try {
      await Promise.race([opening, timeout]);
    } catch (err) {
      // Opened after all, too late: close it again.
      opening.then(() => closeClient(client), () => undefined);
      throw toDeviceError(err, { target: info.target, unit: info.unit });
    } finally {
      if (timer !== undefined) this.#clock.clearTimeout(timer);
    }
    const conn: PortConnection = { client, dead: false, generation: this.#opens + 1, lostError: undefined, fail: undefined };
    const lose = (err: Error): void => {
      conn.dead = true;
      conn.lostError ??= err;
      conn.fail?.(conn.lostError);
    };
    client.on('close', () => lose(Object.assign(new Error(`serial port ${path} closed`), { errno: 'EIO' })));
    // modbus-serial wraps port errors in a SerialPortError (not an Error) that carries the port's message.
    client.on('error', (err: unknown) => lose(portError(err, path)));
    if (this.#closed) {
      await closeClient(client);
      throw new JishiError('JISHI_ERR_DEVICE_UNREACHABLE', `${info.target}: serial port ${path} is closed`, { details: info });
    }
    this.#opens++;
    if (this.#opens > 1) this.#logger.info({ port: path, reopens: this.#opens - 1 }, 'modbus-rtu serial port reopened');
    this.#conn = conn;
    return conn;
  }

  /** Closes the given connection (or the current one); the next request reopens the port. */
  #drop(conn: PortConnection | undefined = this.#conn): void {
    if (!conn) return;
    conn.dead = true;
    if (this.#conn === conn) this.#conn = undefined;
    const previous = this.#closing;
    this.#closing = previous.then(() => closeClient(conn.client));
  }
}

/** An Error for a port failure reported by modbus-serial, keeping its message (e.g. `EIO: i/o error, write`). */
function portError(err: unknown, path: string): Error {
  if (err instanceof Error) return err;
  const message = typeof err === 'object' && err !== null ? (err as { message?: unknown }).message : undefined;
  return Object.assign(new Error(`serial port ${path} failed: ${typeof message === 'string' ? message : String(err)}`), { errno: 'EIO' });
}

/** Empties modbus-serial's receive buffer (RTUBufferedPort keeps unmatched bytes and scans them again). */
function discardReceived(client: ModbusRTU): void {
  const port = (client as unknown as { _port?: { _buffer?: unknown } })._port;
  if (port && Buffer.isBuffer(port._buffer)) port._buffer = Buffer.alloc(0);
}

function closeClient(client: ModbusRTU): Promise<void> {
  return new Promise<void>((resolve) => {
    try {
      client.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

/** Polled driver for one unit on a Modbus RTU serial line. */
export class ModbusRtuDriver implements PolledDriver {
  readonly kind = 'polled';
  readonly target: string;
  readonly #transport: ModbusRtuTransport;
  readonly #plan: ModbusRequestPlan;
  readonly #ctx: DriverContext;
  /** The port (shared through ctx.shared when given) and the reconnects this driver saw. */
  readonly #conn: DriverConnection<RtuPort>;

  /**
   * Validates the options; no I/O.
   * @throws JishiError JISHI_ERR_VALIDATION for out-of-range request options, JISHI_ERR_DEVICE_DECODE for a field
   *   wider than maxRegisters.
   */
  constructor(options: ModbusRtuDriverOptions, ctx: DriverContext) {
    this.#transport = options.transport;
    this.target = formatTransport(options.transport);
    this.#plan = modbusRequestPlan(options.profile, options.request);
    this.#ctx = ctx;
    const line = options.transport;
    this.#conn = new DriverConnection(rtuPortKey(line.path), () => new RtuPort(line, { clock: ctx.clock, logger: ctx.logger }), ctx.shared);
  }

  async open(): Promise<void> {
    const port = this.#acquire();
    this.#note(await port.open(this.#info(), this.#transport.timeoutMs));
  }

  async read(options: { raw?: boolean } = {}): Promise<ReadResult> {
    const port = this.#acquire();
    return readPlan(
      this.#plan,
      this.#ctx.clock,
      async (req) => {
        if (this.#conn.closed) throw this.#closedError();
        const { registers, generation } = await port.read(this.#info(req), req, this.#transport.timeoutMs);
        this.#note(generation);
        return registers;
      },
      options,
    );
  }

  async close(): Promise<void> {
    await this.#conn.close();
  }

  stats(): DriverStats {
    return { connected: this.#conn.connected, reconnects: this.#conn.reconnects };
  }

  #note(generation: number): void {
    if (this.#conn.note(generation)) {
      this.#ctx.logger.info({ target: this.target, reconnects: this.#conn.reconnects }, 'modbus-rtu reconnected');
    }
  }

  #info(req?: ReadRequest): ModbusRequestInfo {
    const base = { target: this.target, unit: this.#transport.unit };
    return req ? { ...base, fn: req.fn, address: req.address, count: req.count } : base;
  }

  #closedError(): JishiError {
    return new JishiError('JISHI_ERR_DEVICE_UNREACHABLE', `driver for ${this.target} is closed`);
  }

  /** The port: shared through ctx.shared when given, else this driver's own. */
  #acquire(): RtuPort {
    if (this.#conn.closed) throw this.#closedError();
    const port = this.#conn.acquire();
    this.#checkLine(port);
    return port;
  }

  #checkLine(port: RtuPort): void {
    if (port.matches(this.#transport)) return;
    throw new JishiError(
      'JISHI_ERR_DEVICE_UNREACHABLE',
      `${this.target}: serial port ${port.line.path} is already in use at ${describeLine(port.line)} by another instrument; ` +
        `this one asks for ${describeLine(this.#transport)} (every unit on one RS-485 line needs the same settings)`,
      { details: { ...this.#info(), port: port.line, wanted: { baud: this.#transport.baud, parity: this.#transport.parity } } },
    );
  }
}
