/**
 * Modbus TCP driver (modbus-serial). Reads the profile's fields with as few requests as the codec plans (or as
 * the request options say: at most N registers, one request per field, a pause between requests; see
 * ./modbus-request.ts).
 *
 * Framing (`transport.framing`):
 * - `tcp`: Modbus TCP, MBAP header with transaction ids (`connectTCP`).
 * - `rtu`: RTU frames with CRC over a plain TCP socket, as serial device servers in transparent mode speak.
 *   modbus-serial 8's `connectTcpRTUBuffered` does NOT do that: its TcpRTUBufferedPort strips the CRC and adds an
 *   MBAP header (it is Modbus TCP under another name). Its TelnetPort (`connectTelnet`) writes the RTU frame as is
 *   and reassembles the answer by unit, function and expected length, so `rtu` uses `connectTelnet`.
 *
 * One connection per gateway:
 * - All instruments of one agent behind the same gateway (same host, port and framing; different unit ids) share
 *   ONE TCP connection, a ModbusTcpGateway acquired through ctx.shared under modbusTcpKey() when the agent gives
 *   a SharedResources, owned by the driver alone otherwise (`jishi probe`). A driver closing gives it back; the
 *   last one closes the connection.
 * - Requests are serialized in FIFO order across the drivers sharing it (one request on the connection at a
 *   time, the next one goes out when the previous one is answered, failed or timed out), each with its own unit
 *   id and timeout. The queue holds requests, not reads, so the units' requests interleave fairly; the pause
 *   between two requests of one read (pauseMs, on ctx.clock) is taken outside the queue. A gateway bridges to
 *   RS-485, where requests take turns anyway, and many gateways accept only a few TCP connections.
 * - Cost: one request at a time means one event-loop wake-up per request, where one connection per instrument let
 *   the requests of many instruments go out (and their answers come back) together. Measured on the agent
 *   benchmark (50 SDM120 behind one simulated gateway, 7 requests per read): about twice the CPU per request.
 *
 * Connection handling:
 * - Connects lazily on the first request (or eagerly with open()), with the requesting transport's timeout.
 *   When a connection attempt fails, the requests that were already waiting for it fail with the same error
 *   (no attempt per waiting instrument); the next poll tries again.
 * - A lost link or a malformed answer drops the connection; the next request (of any driver) reconnects.
 * - A Modbus exception keeps the connection: the device answered properly.
 * - A timeout (a silent unit behind the gateway):
 *   - `tcp` framing keeps the connection, so the other units keep reading on it. The timed-out request's
 *     transaction id is retired on that connection (never used again by it), so a late answer, which carries
 *     that id, is ignored and never taken for a later request. Once more than MAX_RETIRED_IDS ids are retired the
 *     connection is renewed (fresh ids). Two timeouts in a row with no answer at all in between (a gateway that stopped
 *     answering, a half-open connection) drop it too.
 *   - `rtu` framing has no transaction ids: a late answer could be taken for the next request, of this or
 *     another unit. So a timeout drops the connection (the other units' next request reconnects; their readings
 *     are not lost, they pay one TCP connect).
 *   Either way a silent unit holds the connection for its timeout, which delays the other units' requests.
 * - stats() is per driver: `connected` while it holds the open connection, `reconnects` counts the renewed
 *   connections it went on to use.
 */
import type net from 'node:net';
import type { Clock, TimerHandle } from '../../common/clock.ts';
import { JishiError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { formatTransport, type ModbusTcpTransport } from '../../common/transport-url.ts';
import type { PlanOptions, ReadRequest } from '../../devices/modbus-codec.ts';
import type { ModbusProfile, ModbusRequestOptions } from '../../devices/profile.ts';
import type { DriverContext, DriverStats, PolledDriver, ReadResult } from './driver.ts';
import { toDeviceError, type ModbusRequestInfo } from './modbus-errors.ts';
import { modbusRequestPlan, readPlan, type ModbusRequestPlan } from './modbus-request.ts';
import { loadModbusSerial, type ModbusRTU } from './modbus-rtu.ts';
import { DriverConnection } from './shared.ts';

// modbus-serial is loaded on the first connection (an agent without Modbus instruments never loads it).

/** Transaction ids retired by timeouts on one connection before it is renewed (modbus-serial uses 256 ids). */
export const MAX_RETIRED_IDS = 32;
/** Timeouts in a row, with no answer in between, after which a `tcp` connection is dropped. */
export const MAX_SILENT_TIMEOUTS = 2;
/** Transaction ids of modbus-serial's TcpPort: 0..255. */
const TRANSACTION_IDS = 256;

/**
 * `request` (and, for compatibility, the top-level PlanOptions maxRegisters / maxGap) override the profile's
 * `request` options field by field; `request` wins over the top-level ones.
 */
export interface ModbusTcpDriverOptions extends PlanOptions {
  profile: ModbusProfile;
  transport: ModbusTcpTransport;
  request?: ModbusRequestOptions;
}

/** What identifies a gateway connection. */
export type ModbusTcpEndpoint = Pick<ModbusTcpTransport, 'host' | 'port' | 'framing'>;

/** The key under which the drivers of one agent share the connection to a gateway. */
export function modbusTcpKey(endpoint: ModbusTcpEndpoint): string {
  const host = endpoint.host.toLowerCase();
  return `modbus-tcp:${endpoint.framing}:${host.includes(':') ? `[${host}]` : host}:${endpoint.port}`;
}

/** One driver using the gateway: its unit and timeout, and where it learns which connection a request used. */
export interface GatewayUser {
  readonly target: string;
  readonly unit: number;
  readonly timeoutMs: number;
  /** Called with the generation of the connection each successful open or request went over. */
  usedConnection(generation: number): void;
}

/** One queued open (req undefined) or read. Settled exactly once, by #done. */
interface Job {
  user: GatewayUser;
  req: ReadRequest | undefined;
  /** Connection attempts ended when the job was queued. */
  asked: number;
  resolve: (registers: number[]) => void;
  reject: (err: unknown) => void;
}

/** One TCP connection. */
interface Connection {
  client: ModbusRTU;
  dead: boolean;
  /** Which connection of the gateway this is (1 = first). */
  generation: number;
  /** The request on the wire. */
  job: Job | undefined;
  /** Timeouts since the last answer (`tcp` framing). */
  silentTimeouts: number;
  /** Transaction ids of timed-out requests, never used again on this connection (`tcp` framing). */
  retired: Set<number>;
}

/** modbus-serial's port object (TcpPort / TelnetPort): the socket, and TcpPort's next transaction id. */
interface PortInternals {
  _client?: net.Socket;
  _transactionIdWrite?: number;
}

function portOf(client: ModbusRTU): PortInternals | undefined {
  return (client as unknown as { _port?: PortInternals })._port;
}

/** modbus-serial's record of the transactions it is waiting for (or has not forgotten), by transaction id. */
function transactionsOf(client: ModbusRTU): Record<number, unknown> {
  return (client as unknown as { _transactions?: Record<number, unknown> })._transactions ?? {};
}

/** Drops modbus-serial's record of a settled transaction (see #answered). */
function forgetTransaction(client: ModbusRTU, transactionId: number): void {
  delete transactionsOf(client)[transactionId];
}

const NO_REGISTERS: number[] = [];

/**
 * One connection to a Modbus TCP gateway (or a device that speaks Modbus TCP), shared by the drivers of every
 * unit behind it. Connects lazily, sends one request at a time in the order they were queued, reconnects after
 * the connection was lost or dropped. No I/O until the first request.
 *
 * Callback-driven rather than async/await on purpose: with every unit's requests going through one connection,
 * the bookkeeping per request is on the agent's hot path.
 */
export class ModbusTcpGateway {
  readonly endpoint: ModbusTcpEndpoint;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #queue: Job[] = [];
  #busy = false;
  #conn: Connection | undefined;
  #connects = 0;
  /** Connection attempts ended, and the last one that failed (cleared by a successful one). */
  #attempts = 0;
  #failed: { attempt: number; error: unknown } | undefined;
  #connecting: Promise<unknown> | undefined;
  #closed = false;

  constructor(endpoint: ModbusTcpEndpoint, ctx: { clock: Clock; logger: Logger }) {
    this.endpoint = { host: endpoint.host, port: endpoint.port, framing: endpoint.framing };
    this.#clock = ctx.clock;
    this.#logger = ctx.logger;
  }

  /** True while the connection is open. */
  get isOpen(): boolean {
    return this.#alive(this.#conn);
  }

  /** Successful connections so far. */
  get connects(): number {
    return this.#connects;
  }

  /** Transactions modbus-serial still keeps on the current connection (at most the one in flight; see #answered). */
  get trackedTransactions(): number {
    const conn = this.#conn;
    if (conn === undefined) return 0;
    return Object.keys(transactionsOf(conn.client)).length;
  }

  /** Connects unless connected, in turn with the requests. Rejects with a device JishiError. */
  open(user: GatewayUser): Promise<void> {
    return this.#enqueue(user, undefined).then(() => undefined);
  }

  /**
   * Sends one read to `user.unit` once the requests queued before it are done, connecting first if needed.
   * Resolves with the registers; rejects with a device JishiError.
   */
  read(user: GatewayUser, req: ReadRequest): Promise<number[]> {
    return this.#enqueue(user, req);
  }

  /** Closes the connection; queued and later requests fail. Never rejects. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#drop(this.#conn, 'the driver was closed');
    await this.#connecting?.catch(() => undefined);
  }

  #enqueue(user: GatewayUser, req: ReadRequest | undefined): Promise<number[]> {
    return new Promise<number[]>((resolve, reject) => {
      this.#queue.push({ user, req, asked: this.#attempts, resolve, reject });
      if (!this.#busy) this.#next();
    });
  }

  /** Starts the next queued job. Only while not busy. */
  #next(): void {
    const job = this.#queue.shift();
    if (job === undefined) return;
    this.#busy = true;
    if (this.#closed) {
      this.#done(job, closedError(job.user));
      return;
    }
    const conn = this.#conn;
    if (this.#alive(conn)) this.#send(conn, job);
    else this.#connectFor(job);
  }

  /**
   * Settles a job; the next one starts in a microtask, never from inside modbus-serial's receive handler (its
   * TelnetPort resets what it expects after handing an answer over, which would wipe a request sent meanwhile).
   */
  #done(job: Job, error: unknown, registers: number[] = NO_REGISTERS): void {
    this.#busy = false;
    if (error === undefined) job.resolve(registers);
    else job.reject(error);
    if (this.#queue.length > 0) queueMicrotask(this.#kick);
  }

  readonly #kick = (): void => {
    if (!this.#busy) this.#next();
  };

  #alive(conn: Connection | undefined): conn is Connection {
    return conn !== undefined && !conn.dead && conn.client.isOpen;
  }

  #send(conn: Connection, job: Job): void {
    const { user, req } = job;
    user.usedConnection(conn.generation);
    if (req === undefined) {
      this.#done(job, undefined);
      return;
    }
    const { client } = conn;
    client.setTimeout(user.timeoutMs);
    const transactionId = this.#nextTransactionId(conn);
    conn.job = job;
    const answered = (err: unknown, result?: { data: number[] }): void => this.#answered(conn, job, transactionId, err, result);
    if (req.fn === 3) client.writeFC3(user.unit, req.address, req.count, answered);
    else client.writeFC4(user.unit, req.address, req.count, answered);
  }

  #answered(conn: Connection, job: Job, transactionId: number | undefined, err: unknown, result: { data: number[] } | undefined): void {
    // modbus-serial keeps every transaction (up to 256 per connection, each holding its callback and with it the
    // job) until its id comes round again: forget it once settled. A late answer to it is then ignored by
    // modbus-serial itself (no such transaction).
    if (transactionId !== undefined) forgetTransaction(conn.client, transactionId);
    // Already failed (connection lost or dropped): a late callback must not settle it twice.
    if (conn.job !== job) return;
    conn.job = undefined;
    if (!err && result) {
      conn.silentTimeouts = 0;
      this.#done(job, undefined, result.data);
      return;
    }
    const error = toDeviceError(err ?? new Error('no answer'), requestInfo(job.user, job.req));
    if (error.code === 'JISHI_ERR_DEVICE_EXCEPTION') conn.silentTimeouts = 0;
    else if (!(error.code === 'JISHI_ERR_DEVICE_TIMEOUT' && this.#keepAfterTimeout(conn, transactionId))) this.#drop(conn, error.message);
    this.#done(job, error);
  }

  /** The transaction id the next request goes out with (`tcp` framing), skipping retired ones. */
  #nextTransactionId(conn: Connection): number | undefined {
    if (this.endpoint.framing !== 'tcp') return undefined;
    const port = portOf(conn.client);
    if (typeof port?._transactionIdWrite !== 'number') return undefined;
    if (conn.retired.size > 0) {
      while (conn.retired.has(port._transactionIdWrite)) port._transactionIdWrite = (port._transactionIdWrite + 1) % TRANSACTION_IDS;
    }
    return port._transactionIdWrite;
  }

  /** After a timeout: true when the connection may stay (see the module comment); retires the request's id. */
  #keepAfterTimeout(conn: Connection, transactionId: number | undefined): boolean {
    if (transactionId === undefined || !this.#alive(conn)) return false;
    conn.silentTimeouts++;
    conn.retired.add(transactionId);
    return conn.silentTimeouts < MAX_SILENT_TIMEOUTS && conn.retired.size <= MAX_RETIRED_IDS;
  }

  /** Connects, then runs the job; or fails it with the failure of an attempt made since it was queued. */
  #connectFor(job: Job): void {
    this.#drop(this.#conn, 'connection lost');
    if (this.#failed && this.#failed.attempt > job.asked) {
      this.#done(job, toDeviceError(this.#failed.error, requestInfo(job.user)));
      return;
    }
    const connecting = this.#connect(job.user.timeoutMs);
    this.#connecting = connecting;
    connecting.then(
      (conn) => {
        this.#connecting = undefined;
        this.#attempts++;
        this.#failed = undefined;
        this.#send(conn, job);
      },
      (err: unknown) => {
        this.#connecting = undefined;
        this.#attempts++;
        if (!(err instanceof JishiError)) this.#failed = { attempt: this.#attempts, error: err };
        this.#done(job, toDeviceError(err, requestInfo(job.user)));
      },
    );
  }

  /** Opens a connection; rejects with what modbus-serial or the timeout threw. */
  async #connect(timeoutMs: number): Promise<Connection> {
    const { host, port, framing } = this.endpoint;
    let timer: TimerHandle | undefined;
    // Started before modbus-serial is loaded: the first connection's timeout counts from the request, as later ones.
    const timeout = new Promise<never>((_, reject) => {
      timer = this.#clock.setTimeout(() => reject(new Error(`TCP connection to ${host}:${port} timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    timeout.catch(() => undefined);
    let client: ModbusRTU | undefined;
    try {
      const ModbusRTUClient = await Promise.race([loadModbusSerial(), timeout]);
      client = new ModbusRTUClient();
      // modbus-serial re-emits port errors; without a listener an 'error' event would crash the process.
      client.on('error', () => undefined);
      const connected = framing === 'rtu' ? client.connectTelnet(host, { port }) : client.connectTCP(host, { port });
      connected.catch(() => undefined);
      await Promise.race([connected, timeout]);
    } catch (err) {
      if (client !== undefined) destroy(client);
      throw err;
    } finally {
      if (timer !== undefined) this.#clock.clearTimeout(timer);
    }
    const conn: Connection = { client, dead: false, generation: this.#connects + 1, job: undefined, silentTimeouts: 0, retired: new Set() };
    const lose = (): void => {
      conn.dead = true;
      this.#fail(conn, Object.assign(new Error('connection closed by the peer'), { errno: 'ECONNRESET' }));
    };
    // The socket itself: modbus-serial's TcpPort does not report a close that follows a socket error (reset).
    const socket = portOf(client)?._client;
    if (socket) socket.once('close', lose);
    else client.on('close', lose);
    if (this.#closed) {
      destroy(client);
      throw new JishiError('JISHI_ERR_DEVICE_UNREACHABLE', `connection to ${host}:${port} closed`);
    }
    this.#connects++;
    if (this.#connects > 1) this.#logger.info({ gateway: `${host}:${port}`, framing, reconnects: this.#connects - 1 }, 'modbus-tcp reconnected');
    this.#conn = conn;
    return conn;
  }

  /** Fails the request on the wire of `conn`, if any. */
  #fail(conn: Connection, err: Error): void {
    const job = conn.job;
    if (job === undefined) return;
    conn.job = undefined;
    this.#done(job, toDeviceError(err, requestInfo(job.user, job.req)));
  }

  /** Drops the given connection (failing its request on the wire); the next request reconnects. */
  #drop(conn: Connection | undefined, why: string): void {
    if (!conn) return;
    conn.dead = true;
    if (this.#conn === conn) this.#conn = undefined;
    destroy(conn.client);
    this.#fail(conn, Object.assign(new Error(`connection dropped: ${why}`), { errno: 'ECONNABORTED' }));
  }
}

/** What error messages and details name: the driver's target and unit, and the request. */
function requestInfo(user: GatewayUser, req?: ReadRequest): ModbusRequestInfo {
  const base = { target: user.target, unit: user.unit };
  return req ? { ...base, fn: req.fn, address: req.address, count: req.count } : base;
}

function closedError(user: { target: string; unit: number }): JishiError {
  return new JishiError('JISHI_ERR_DEVICE_UNREACHABLE', `driver for ${user.target} is closed`, { details: { target: user.target, unit: user.unit } });
}

function destroy(client: ModbusRTU): void {
  try {
    client.destroy(() => undefined);
  } catch {
    // already gone
  }
}

/** Polled driver for `modbus-tcp://host:port?unit=N&timeout=MS` transports. */
export class ModbusTcpDriver implements PolledDriver {
  readonly kind = 'polled';
  readonly target: string;
  readonly #plan: ModbusRequestPlan;
  readonly #ctx: DriverContext;
  /** This driver as the gateway sees it. */
  readonly #user: GatewayUser;
  readonly #send: (req: ReadRequest) => Promise<number[]>;
  /** The gateway connection (shared through ctx.shared when given) and the reconnects this driver saw. */
  readonly #conn: DriverConnection<ModbusTcpGateway>;

  /**
   * Validates the options; no I/O.
   * @throws JishiError JISHI_ERR_VALIDATION for out-of-range request options, JISHI_ERR_DEVICE_DECODE for a field
   *   wider than maxRegisters.
   */
  constructor(options: ModbusTcpDriverOptions, ctx: DriverContext) {
    this.target = formatTransport(options.transport);
    const { maxRegisters, maxGap, oneRequestPerField } = options;
    this.#plan = modbusRequestPlan(options.profile, { maxRegisters, maxGap, oneRequestPerField }, options.request);
    this.#ctx = ctx;
    this.#user = {
      target: this.target,
      unit: options.transport.unit,
      timeoutMs: options.transport.timeoutMs,
      usedConnection: (generation) => void this.#conn.note(generation),
    };
    const endpoint = options.transport;
    this.#conn = new DriverConnection(modbusTcpKey(endpoint), () => new ModbusTcpGateway(endpoint, { clock: ctx.clock, logger: ctx.logger }), ctx.shared);
    this.#send = (req) => {
      const gateway = this.#conn.current;
      return gateway === undefined ? Promise.reject(closedError(this.#user)) : gateway.read(this.#user, req);
    };
  }

  async open(): Promise<void> {
    await this.#acquire().open(this.#user);
  }

  async read(options: { raw?: boolean } = {}): Promise<ReadResult> {
    this.#acquire();
    return readPlan(this.#plan, this.#ctx.clock, this.#send, options);
  }

  async close(): Promise<void> {
    await this.#conn.close();
  }

  stats(): DriverStats {
    return { connected: this.#conn.connected, reconnects: this.#conn.reconnects };
  }

  #acquire(): ModbusTcpGateway {
    if (this.#conn.closed) throw closedError(this.#user);
    return this.#conn.acquire();
  }
}
