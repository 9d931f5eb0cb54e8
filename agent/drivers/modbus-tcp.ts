/**
 * Modbus TCP driver (modbus-serial). Reads the profile's fields with as few requests as the codec plans (or as
 * the request options say: at most N registers, one request per field, a pause between requests; see
 * ./modbus-request.ts), one connection per driver instance.
 *
 * Framing (`transport.framing`):
 * - `tcp`: Modbus TCP, MBAP header with transaction ids (`connectTCP`).
 * - `rtu`: RTU frames with CRC over a plain TCP socket, as serial device servers in transparent mode speak.
 *   modbus-serial 8's `connectTcpRTUBuffered` does NOT do that: its TcpRTUBufferedPort strips the CRC and adds an
 *   MBAP header (it is Modbus TCP under another name). Its TelnetPort (`connectTelnet`) writes the RTU frame as is
 *   and reassembles the answer by unit, function and expected length, so `rtu` uses `connectTelnet`.
 *
 * Connection handling:
 * - Connects lazily on the first read (or eagerly with open()), with the transport's timeout.
 * - A timeout, a lost link or a malformed answer drops the connection; the next read reconnects. This keeps
 *   a late answer to a timed-out request (transaction-id mismatch; with RTU framing there is no transaction id
 *   at all) from being taken for a later one.
 * - A Modbus exception keeps the connection: the device answered properly.
 * - The pause between requests (pauseMs) runs on the driver's clock (ctx.clock), between two requests of one read.
 * - Two instruments on the same host:port (different unit ids) each hold their own connection in this
 *   version; sharing one connection per gateway comes with the drivers issue.
 */
import ModbusSerial from 'modbus-serial';
import type { TimerHandle } from '../../common/clock.ts';
import { JishiError } from '../../common/errors.ts';
import { formatTransport, type ModbusTcpTransport } from '../../common/transport-url.ts';
import type { PlanOptions, ReadRequest } from '../../devices/modbus-codec.ts';
import type { ModbusProfile, ModbusRequestOptions } from '../../devices/profile.ts';
import type { DriverContext, DriverStats, PolledDriver, ReadResult } from './driver.ts';
import { toDeviceError, type ModbusRequestInfo } from './modbus-errors.ts';
import { modbusRequestPlan, readPlan, type ModbusRequestPlan } from './modbus-request.ts';

// modbus-serial is CommonJS: the default import is module.exports, whose `default` is the client class.
const ModbusRTU = ModbusSerial.default;
type ModbusRTU = InstanceType<typeof ModbusRTU>;

/**
 * `request` (and, for compatibility, the top-level PlanOptions maxRegisters / maxGap) override the profile's
 * `request` options field by field; `request` wins over the top-level ones.
 */
export interface ModbusTcpDriverOptions extends PlanOptions {
  profile: ModbusProfile;
  transport: ModbusTcpTransport;
  request?: ModbusRequestOptions;
}

/** One TCP connection; `lost` rejects when the peer closes it, so pending requests fail at once. */
interface Connection {
  client: ModbusRTU;
  lost: Promise<never>;
  dead: boolean;
}

/** Polled driver for `modbus-tcp://host:port?unit=N&timeout=MS` transports. */
export class ModbusTcpDriver implements PolledDriver {
  readonly kind = 'polled';
  readonly target: string;
  readonly #transport: ModbusTcpTransport;
  readonly #plan: ModbusRequestPlan;
  readonly #ctx: DriverContext;
  #conn: Connection | undefined;
  #connecting: Promise<Connection> | undefined;
  #connects = 0;
  #closed = false;

  constructor(options: ModbusTcpDriverOptions, ctx: DriverContext) {
    this.#transport = options.transport;
    this.target = formatTransport(options.transport);
    const { maxRegisters, maxGap, oneRequestPerField } = options;
    this.#plan = modbusRequestPlan(options.profile, { maxRegisters, maxGap, oneRequestPerField }, options.request);
    this.#ctx = ctx;
  }

  async open(): Promise<void> {
    await this.#connection();
  }

  async read(options: { raw?: boolean } = {}): Promise<ReadResult> {
    const conn = await this.#connection();
    return readPlan(this.#plan, this.#ctx.clock, (req) => this.#request(conn, req), options);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const pending = this.#connecting;
    if (pending) await pending.catch(() => undefined);
    this.#drop();
  }

  stats(): DriverStats {
    return { connected: this.#conn !== undefined && !this.#conn.dead, reconnects: Math.max(0, this.#connects - 1) };
  }

  #info(req?: ReadRequest): ModbusRequestInfo {
    const base = { target: this.target, unit: this.#transport.unit };
    return req ? { ...base, fn: req.fn, address: req.address, count: req.count } : base;
  }

  async #request(conn: Connection, req: ReadRequest): Promise<number[]> {
    const op = req.fn === 3 ? conn.client.readHoldingRegisters(req.address, req.count) : conn.client.readInputRegisters(req.address, req.count);
    try {
      const result = await Promise.race([op, conn.lost]);
      return result.data;
    } catch (err) {
      op.catch(() => undefined);
      const error = toDeviceError(err, this.#info(req));
      if (error.code !== 'JISHI_ERR_DEVICE_EXCEPTION') this.#drop(conn);
      throw error;
    }
  }

  #connection(): Promise<Connection> {
    if (this.#closed) return Promise.reject(new JishiError('JISHI_ERR_DEVICE_UNREACHABLE', `driver for ${this.target} is closed`));
    if (this.#conn && !this.#conn.dead) return Promise.resolve(this.#conn);
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #connect(): Promise<Connection> {
    const { host, port, unit, timeoutMs, framing } = this.#transport;
    const client = new ModbusRTU();
    // modbus-serial re-emits port errors; without a listener an 'error' event would crash the process.
    client.on('error', () => undefined);
    const { clock } = this.#ctx;
    let timer: TimerHandle | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(() => reject(new Error(`TCP connection to ${host}:${port} timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const connected = framing === 'rtu' ? client.connectTelnet(host, { port }) : client.connectTCP(host, { port });
      connected.catch(() => undefined);
      await Promise.race([connected, timeout]);
    } catch (err) {
      destroy(client);
      throw toDeviceError(err, this.#info());
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer);
    }
    client.setID(unit);
    client.setTimeout(timeoutMs);
    let rejectLost: (err: Error) => void = () => undefined;
    const conn: Connection = {
      client,
      dead: false,
      lost: new Promise<never>((_, reject) => {
        rejectLost = reject;
      }),
    };
    conn.lost.catch(() => undefined);
    client.on('close', () => {
      conn.dead = true;
      rejectLost(Object.assign(new Error('connection closed by the peer'), { errno: 'ECONNRESET' }));
    });
    if (this.#closed) {
      destroy(client);
      throw new JishiError('JISHI_ERR_DEVICE_UNREACHABLE', `driver for ${this.target} is closed`);
    }
    this.#connects++;
    if (this.#connects > 1) this.#ctx.logger.info({ target: this.target, reconnects: this.#connects - 1 }, 'modbus-tcp reconnected');
    this.#conn = conn;
    return conn;
  }

  /** Drops the given connection (or the current one); the next read reconnects. */
  #drop(conn: Connection | undefined = this.#conn): void {
    if (!conn) return;
    conn.dead = true;
    destroy(conn.client);
    if (this.#conn === conn) this.#conn = undefined;
  }
}

function destroy(client: ModbusRTU): void {
  try {
    client.destroy(() => undefined);
  } catch {
    // already gone
  }
}
