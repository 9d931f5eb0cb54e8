/**
 * Serial instrument driver (serialport): RS-232 / USB virtual COM port instruments described by a SerialProfile.
 *
 * Modes:
 * - `listen`: the port stays open; every line the instrument prints is matched against the profile's pattern and
 *   the latest matched line is held (sample-and-hold). read() returns it, or fails: DEVICE_TIMEOUT when nothing
 *   matched yet (the first read waits up to the transport timeout for a line) or the held line is older than
 *   staleAfterS; DEVICE_UNREACHABLE while the port cannot be opened or is lost. A line that does not match is
 *   counted (stats().unmatchedLines) and logged once per run of such lines; it is no error by itself.
 * - `query`: each read() runs the profile's steps (send a command; expect a line such as ACK: NAK or anything
 *   else is DEVICE_EXCEPTION naming what was expected and what came), then reads one answer line within the
 *   transport timeout (else DEVICE_TIMEOUT) and matches it (no match: DEVICE_DECODE quoting the line).
 *   Input left over from an earlier exchange (a late answer) is discarded before each exchange (tcflush and the
 *   driver's own line buffer), so it is never taken for the next answer.
 *
 * Reads never overlap. A lost port (cable or USB adapter pulled) is detected by:
 * - serialport's own 'close' event with a disconnect error (read/write errors such as ENXIO, EIO on write);
 * - a liveness check before every read and every `watchIntervalMs` while the port is open: the device path must
 *   still exist and name the same device node (stat: ENOENT when a USB adapter or pty vanished), and a modem
 *   status ioctl (TIOCMGET) must not fail with EIO (a hung-up tty: its pty master or USB device is gone, even when
 *   a new device took the same path or pty number). On Linux a hung-up tty reads as end-of-file, which serialport
 *   neither reports nor stops retrying (it spins), so this check also ends that spin within one interval.
 * The lost port is closed; `query` reopens it lazily on a later read (at once when the loss is found before an
 * exchange, e.g. an adapter unplugged and plugged back between two polls), `listen` retries in the background
 * with a backoff on the clock (and on each read). stats().reconnects counts the reopenings. Input buffered in
 * the tty before the port was opened is discarded at open: it may be arbitrarily old.
 *
 * Text is latin1: one character per byte, so control characters (ACK 0x06, ENQ 0x05, NAK 0x15) pass unchanged.
 *
 * The serialport package is loaded when a port is first opened (loadSerialport), not with this module.
 */
import { stat } from 'node:fs/promises';
import type { SerialPort } from 'serialport';
import type { TimerHandle } from '../../common/clock.ts';
import { JishiError } from '../../common/errors.ts';
import { formatTransport, type SerialTransport } from '../../common/transport-url.ts';
import type { Readings } from '../../common/wire.ts';
import type { SerialProfile } from '../../devices/profile.ts';
import {
  compileSerialProfile,
  escapeSerial,
  expectedLine,
  LineFramer,
  matchSerialLine,
  NAK,
  type CompiledSerialProfile,
} from '../../devices/serial-codec.ts';
import type { DriverContext, DriverStats, PolledDriver, RawFrame, ReadResult } from './driver.ts';

export interface SerialDriverOptions {
  profile: SerialProfile;
  transport: SerialTransport;
  /** listen mode: a held line older than this is stale (default: the profile's staleAfterS, else 60 s). */
  staleAfterS?: number;
  /** How often an open port is checked for being lost, ms (default 500; 0: only before each read). */
  watchIntervalMs?: number;
  /** listen mode: first and longest delay between attempts to reopen a lost port, ms (defaults 500 and 30000). */
  retryMinMs?: number;
  retryMaxMs?: number;
}

export interface SerialDriverStats extends DriverStats {
  /** listen mode: lines that did not match the profile's pattern, since the driver was created. */
  unmatchedLines: number;
}

const DEFAULT_STALE_AFTER_S = 60;
/** Lines kept while no exchange waits for them (query mode); older ones are dropped. */
const MAX_QUEUED_LINES = 64;

interface Held {
  readings: Readings;
  status?: string;
  line: string;
  at: number;
}

interface Waiter {
  resolve: (line: string) => void;
  reject: (err: Error) => void;
}

/** One open port. `dead` once it is lost or closed; a dead port is never used again. */
interface OpenPort {
  sp: SerialPort;
  framer: LineFramer;
  /** The device node the path named when the port was opened (undefined when the path cannot be stat'ed, e.g. COM3). */
  identity: { ino: number; rdev: number } | undefined;
  dead: boolean;
  lostReason?: string;
  /** query mode: lines not yet taken by an exchange. */
  lines: string[];
  waiter: Waiter | undefined;
  watch: TimerHandle | undefined;
  closed: Promise<void>;
}

/** Driver for `serial:///dev/ttyUSB0?baud=9600&timeout=1000` transports. */
export class SerialDriver implements PolledDriver {
  readonly kind = 'polled';
  readonly target: string;
  readonly #profile: SerialProfile;
  readonly #codec: CompiledSerialProfile;
  readonly #transport: SerialTransport;
  readonly #ctx: DriverContext;
  readonly #staleMs: number;
  readonly #watchMs: number;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  #port: OpenPort | undefined;
  #connecting: Promise<OpenPort> | undefined;
  #opens = 0;
  #closed = false;
  #tail: Promise<unknown> = Promise.resolve();
  // listen mode
  #held: Held | undefined;
  #lineWaiters = new Set<Waiter>();
  #unmatched = 0;
  #unmatchedRun = 0;
  #retryTimer: TimerHandle | undefined;
  #retryDelay: number;
  #openFailures = 0;

  constructor(options: SerialDriverOptions, ctx: DriverContext) {
    this.#profile = options.profile;
    this.#codec = compileSerialProfile(options.profile);
    this.#transport = options.transport;
    this.target = formatTransport(options.transport);
    this.#ctx = ctx;
    this.#staleMs = (options.staleAfterS ?? options.profile.staleAfterS ?? DEFAULT_STALE_AFTER_S) * 1000;
    this.#watchMs = options.watchIntervalMs ?? 500;
    this.#retryMinMs = options.retryMinMs ?? 500;
    this.#retryMaxMs = Math.max(this.#retryMinMs, options.retryMaxMs ?? 30_000);
    this.#retryDelay = this.#retryMinMs;
  }

  async open(): Promise<void> {
    await this.#connection();
  }

  read(options: { raw?: boolean } = {}): Promise<ReadResult> {
    const run = this.#tail.then(() => (this.#profile.mode === 'listen' ? this.#readHeld(options.raw === true) : this.#query(options.raw === true)));
    this.#tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async close(): Promise<void> {
    try {
      this.#closed = true;
      this.#clearRetry();
      const pending = this.#connecting;
      if (pending) await pending.catch(() => undefined);
      const port = this.#port;
      if (port) await this.#drop(port, 'driver closed');
      for (const w of this.#lineWaiters) w.reject(this.#closedError());
      this.#lineWaiters.clear();
    } catch (err) {
      this.#ctx.logger.debug({ target: this.target, err }, 'serial driver close');
    }
  }

  stats(): SerialDriverStats {
    return {
      connected: this.#port !== undefined && !this.#port.dead,
      reconnects: Math.max(0, this.#opens - 1),
      unmatchedLines: this.#unmatched,
    };
  }

  // ---------------------------------------------------------------- reads

  async #readHeld(raw: boolean): Promise<ReadResult> {
    const port = await this.#connection();
    await this.#ensureAlive(port);
    let held = this.#held;
    if (held === undefined) {
      await this.#waitForMatch(port);
      held = this.#held;
      if (held === undefined) throw this.#timeoutError('no line matched yet');
    }
    const ageMs = this.#ctx.clock.now() - held.at;
    if (ageMs > this.#staleMs) {
      throw new JishiError(
        'JISHI_ERR_DEVICE_TIMEOUT',
        `${this.target}: the last matched line is ${Math.round(ageMs / 1000)} s old (stale after ${this.#staleMs / 1000} s): "${escapeSerial(held.line)}"`,
      );
    }
    return this.#result(held.readings, held.status, raw ? [{ request: 'listen', data: held.line }] : undefined);
  }

  async #query(raw: boolean): Promise<ReadResult> {
    let port = await this.#connection();
    const lost = await this.#probe(port);
    if (lost !== undefined) {
      // Lost since the last read (e.g. unplugged and plugged back): reopen now rather than fail this read.
      this.#lost(port, lost);
      port = await this.#connection();
      await this.#ensureAlive(port);
    }
    const frames: RawFrame[] = [];
    let sent = '';
    let lastSent = '';
    const fail = (code: 'JISHI_ERR_DEVICE_EXCEPTION' | 'JISHI_ERR_DEVICE_DECODE', message: string): JishiError =>
      new JishiError(code, `${this.target}: ${message}`, { details: { raw: frames } });
    try {
      await this.#flush(port);
      for (const step of this.#profile.steps ?? []) {
        if ('send' in step) {
          await this.#write(port, step.send);
          sent += step.send;
          lastSent = step.send;
          continue;
        }
        const want = expectedLine(step, this.#profile.terminator);
        const got = await this.#nextLine(port, `"${escapeSerial(want)}" after "${escapeSerial(lastSent)}"`);
        frames.push({ request: escapeSerial(sent), data: got });
        sent = '';
        if (got !== want) {
          const what = got === NAK ? 'NAK (0x15)' : `"${escapeSerial(got)}"`;
          throw fail('JISHI_ERR_DEVICE_EXCEPTION', `answered ${what} to "${escapeSerial(lastSent)}" where "${escapeSerial(want)}" was expected`);
        }
      }
      const line = await this.#nextLine(port, `answer to "${escapeSerial(lastSent)}"`);
      frames.push({ request: escapeSerial(sent), data: line });
      if (line === NAK) throw fail('JISHI_ERR_DEVICE_EXCEPTION', `answered NAK (0x15) to "${escapeSerial(lastSent)}"`);
      const m = matchSerialLine(this.#codec, line);
      if (!m.ok) throw fail('JISHI_ERR_DEVICE_DECODE', `cannot decode the answer "${escapeSerial(line)}": ${m.reason}`);
      return this.#result(m.readings, m.status, raw ? frames : undefined);
    } catch (err) {
      if (err instanceof JishiError && err.code === 'JISHI_ERR_DEVICE_TIMEOUT') {
        // No answer: the device may be silent, or its port gone; tell the two apart.
        const lost = await this.#probe(port);
        if (lost !== undefined) {
          this.#lost(port, lost);
          throw this.#lostError(lost);
        }
      }
      throw err;
    }
  }

  #result(readings: Readings, status: string | undefined, raw: RawFrame[] | undefined): ReadResult {
    const result: ReadResult = { readings: { ...readings } };
    if (status !== undefined) result.status = status;
    if (raw) result.raw = raw;
    return result;
  }

  // ---------------------------------------------------------------- lines

  #onLine(port: OpenPort, line: string): void {
    if (port.dead) return;
    if (this.#profile.mode === 'query') {
      if (port.waiter) port.waiter.resolve(line);
      else {
        port.lines.push(line);
        if (port.lines.length > MAX_QUEUED_LINES) port.lines.shift();
      }
      return;
    }
    const m = matchSerialLine(this.#codec, line);
    if (!m.ok) {
      this.#unmatched++;
      if (this.#unmatchedRun++ === 0) {
        this.#ctx.logger.warn({ target: this.target, line: escapeSerial(line), reason: m.reason }, 'serial line does not match the profile (ignored)');
      }
      return;
    }
    if (this.#unmatchedRun > 0) {
      this.#ctx.logger.info({ target: this.target, unmatched: this.#unmatchedRun }, 'serial lines match the profile again');
      this.#unmatchedRun = 0;
    }
    this.#held = { readings: m.readings, ...(m.status === undefined ? {} : { status: m.status }), line, at: this.#ctx.clock.now() };
    for (const w of this.#lineWaiters) w.resolve(line);
    this.#lineWaiters.clear();
  }

  /** query mode: the next line, within the transport timeout. */
  #nextLine(port: OpenPort, what: string): Promise<string> {
    const queued = port.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (port.dead) return Promise.reject(this.#lostError(port.lostReason));
    const { clock } = this.#ctx;
    return new Promise<string>((resolve, reject) => {
      const timer = clock.setTimeout(() => {
        port.waiter = undefined;
        const partial = port.framer.pending;
        const hint = partial === '' ? '' : ` (received "${escapeSerial(partial)}" but no terminator "${escapeSerial(this.#profile.terminator)}")`;
        reject(this.#timeoutError(`no ${what} within ${this.#transport.timeoutMs} ms${hint}`));
      }, this.#transport.timeoutMs);
      port.waiter = {
        resolve: (line) => {
          clock.clearTimeout(timer);
          port.waiter = undefined;
          resolve(line);
        },
        reject: (err) => {
          clock.clearTimeout(timer);
          port.waiter = undefined;
          reject(err);
        },
      };
    });
  }

  /** listen mode: waits up to the transport timeout for the first matched line. */
  #waitForMatch(port: OpenPort): Promise<void> {
    const { clock } = this.#ctx;
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          clock.clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clock.clearTimeout(timer);
          this.#lineWaiters.delete(waiter);
          reject(err);
        },
      };
      const timer = clock.setTimeout(() => {
        this.#lineWaiters.delete(waiter);
        const unmatched = this.#unmatchedRun > 0 ? ` (${this.#unmatchedRun} lines did not match the pattern)` : '';
        reject(this.#timeoutError(`no line matched within ${this.#transport.timeoutMs} ms${unmatched}`));
      }, this.#transport.timeoutMs);
      if (port.dead) waiter.reject(this.#lostError(port.lostReason));
      else this.#lineWaiters.add(waiter);
    });
  }

  // ---------------------------------------------------------------- port I/O

  #write(port: OpenPort, text: string): Promise<void> {
    const { clock } = this.#ctx;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error | null): void => {
        if (settled) return;
        settled = true;
        clock.clearTimeout(timer);
        if (!err) {
          resolve();
          return;
        }
        const reason = `write to ${this.#transport.path} failed: ${err.message}`;
        this.#lost(port, reason);
        reject(this.#lostError(reason));
      };
      const timer = clock.setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(this.#timeoutError(`writing "${escapeSerial(text)}" did not complete within ${this.#transport.timeoutMs} ms (flow control?)`));
      }, this.#transport.timeoutMs);
      if (port.dead || !port.sp.isOpen) {
        settle(new Error(port.lostReason ?? 'port is closed'));
        return;
      }
      port.sp.write(Buffer.from(text, 'latin1'), (err) => {
        if (err) settle(err);
      });
      port.sp.drain((err) => settle(err));
    });
  }

  /** Discards stale input: the kernel's buffer (tcflush), the partial line and queued lines. */
  async #flush(port: OpenPort): Promise<void> {
    port.lines.length = 0;
    port.framer.clear();
    const err = await new Promise<Error | null>((resolve) => port.sp.flush((e) => resolve(e ?? null)));
    if (err && isHangup(err)) {
      const reason = `${this.#transport.path}: ${err.message} (the line hung up)`;
      this.#lost(port, reason);
      throw this.#lostError(reason);
    }
    port.lines.length = 0;
    port.framer.clear();
  }

  /** Why the port is lost, or undefined while it looks alive. */
  async #probe(port: OpenPort): Promise<string | undefined> {
    if (port.dead) return port.lostReason ?? 'port closed';
    const path = this.#transport.path;
    if (port.identity) {
      try {
        const s = await stat(path);
        if (s.ino !== port.identity.ino || s.rdev !== port.identity.rdev) return `${path} now names another device (unplugged and plugged back)`;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return `${path} is gone (cable or USB adapter unplugged)`;
      }
    }
    if (port.dead) return port.lostReason ?? 'port closed';
    if (!port.sp.isOpen) return 'port closed';
    const err = await new Promise<Error | null>((resolve) => port.sp.get((e) => resolve(e ?? null)));
    if (err && isHangup(err)) return `${path}: ${err.message} (the line hung up)`;
    return port.dead ? (port.lostReason ?? 'port closed') : undefined;
  }

  async #ensureAlive(port: OpenPort): Promise<void> {
    const lost = await this.#probe(port);
    if (lost === undefined) return;
    this.#lost(port, lost);
    throw this.#lostError(lost);
  }

  #watch(port: OpenPort): void {
    if (port.dead || this.#watchMs <= 0) return;
    port.watch = this.#ctx.clock.setTimeout(() => {
      port.watch = undefined;
      void this.#probe(port).then((lost) => {
        if (port.dead) return;
        if (lost !== undefined) this.#lost(port, lost);
        else this.#watch(port);
      });
    }, this.#watchMs);
  }

  // ---------------------------------------------------------------- connection

  #connection(): Promise<OpenPort> {
    if (this.#closed) return Promise.reject(this.#closedError());
    if (this.#port && !this.#port.dead) return Promise.resolve(this.#port);
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #connect(): Promise<OpenPort> {
    const t = this.#transport;
    let sp: SerialPort;
    try {
      sp = await this.#openPort();
    } catch (err) {
      const message = `${this.target}: cannot open ${t.path}: ${(err as Error).message}`;
      if (this.#openFailures++ === 0) this.#ctx.logger.warn({ target: this.target, err: (err as Error).message }, 'serial port cannot be opened');
      if (this.#profile.mode === 'listen') this.#scheduleRetry();
      throw new JishiError('JISHI_ERR_DEVICE_UNREACHABLE', message, { cause: err });
    }
    // Input buffered while nobody listened may be arbitrarily old: drop it (listen) or it would be stale (query).
    await new Promise<void>((resolve) => sp.flush(() => resolve()));
    let identity: OpenPort['identity'];
    try {
      const s = await stat(t.path);
      identity = { ino: s.ino, rdev: s.rdev };
    } catch {
      identity = undefined; // a path stat cannot see (e.g. COM3): only the ioctl and serialport's events tell
    }
    let closedResolve: () => void = () => undefined;
    const port: OpenPort = {
      sp,
      framer: new LineFramer(this.#profile.terminator),
      identity,
      dead: false,
      lines: [],
      waiter: undefined,
      watch: undefined,
      closed: new Promise<void>((resolve) => {
        closedResolve = resolve;
      }),
    };
    sp.on('data', (chunk: Buffer) => {
      for (const line of port.framer.push(chunk.toString('latin1'))) this.#onLine(port, line);
    });
    sp.on('close', (err: Error | null) => {
      closedResolve();
      if (!port.dead) this.#lost(port, err ? `port closed: ${err.message}` : 'port closed');
    });
    if (this.#closed) {
      await this.#drop(port, 'driver closed');
      throw this.#closedError();
    }
    this.#opens++;
    this.#openFailures = 0;
    this.#retryDelay = this.#retryMinMs;
    this.#clearRetry();
    if (this.#opens > 1) this.#ctx.logger.info({ target: this.target, reconnects: this.#opens - 1 }, 'serial port reopened');
    else this.#ctx.logger.debug({ target: this.target }, 'serial port opened');
    this.#port = port;
    this.#watch(port);
    return port;
  }

  async #openPort(): Promise<SerialPort> {
    const serialport = await loadSerialport();
    const t = this.#transport;
    const { clock } = this.#ctx;
    return new Promise<SerialPort>((resolve, reject) => {
      let sp: SerialPort;
      try {
        sp = new serialport.SerialPort({ path: t.path, baudRate: t.baud, dataBits: t.dataBits, stopBits: t.stopBits, parity: t.parity, autoOpen: false });
      } catch (err) {
        reject(err as Error);
        return;
      }
      // Without a listener an 'error' event would crash the process; failures are handled where they occur.
      sp.on('error', (err) => this.#ctx.logger.debug({ target: this.target, err: err.message }, 'serial port error'));
      let done = false;
      const timer = clock.setTimeout(() => {
        if (done) return;
        done = true;
        reject(new Error(`open did not complete within ${t.timeoutMs} ms`));
        sp.once('open', () => closePort(sp));
      }, t.timeoutMs);
      sp.open((err) => {
        if (done) return;
        done = true;
        clock.clearTimeout(timer);
        if (err) reject(err);
        else resolve(sp);
      });
    });
  }

  /** The port is lost: close it, fail whoever waits on it, forget the held line, and (listen) retry. */
  #lost(port: OpenPort, reason: string): void {
    if (port.dead) return;
    this.#ctx.logger.warn({ target: this.target, reason }, 'serial port lost');
    void this.#drop(port, reason);
    if (this.#profile.mode === 'listen' && !this.#closed) {
      this.#held = undefined;
      for (const w of this.#lineWaiters) w.reject(this.#lostError(reason));
      this.#lineWaiters.clear();
      this.#scheduleRetry();
    }
  }

  #drop(port: OpenPort, reason: string): Promise<void> {
    if (!port.dead) {
      port.dead = true;
      port.lostReason = reason;
      if (port.watch !== undefined) this.#ctx.clock.clearTimeout(port.watch);
      port.watch = undefined;
      port.waiter?.reject(this.#closed ? this.#closedError() : this.#lostError(reason));
      if (this.#port === port) this.#port = undefined;
      if (port.sp.isOpen) closePort(port.sp);
      else return Promise.resolve();
    }
    if (!port.sp.isOpen && !port.sp.closing) return Promise.resolve();
    // Wait for the close to finish (the fd is released), but never forever.
    return Promise.race([port.closed, new Promise<void>((resolve) => setTimeout(resolve, 2000).unref())]);
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#retryTimer !== undefined) return;
    const delay = this.#retryDelay;
    this.#retryDelay = Math.min(this.#retryMaxMs, this.#retryDelay * 2);
    this.#retryTimer = this.#ctx.clock.setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#closed || (this.#port && !this.#port.dead)) return;
      // A failure schedules the next attempt (in #connect).
      this.#connection().catch(() => undefined);
    }, delay);
  }

  #clearRetry(): void {
    if (this.#retryTimer !== undefined) this.#ctx.clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  // ---------------------------------------------------------------- errors

  #timeoutError(message: string): JishiError {
    return new JishiError('JISHI_ERR_DEVICE_TIMEOUT', `${this.target}: ${message}`);
  }

  #lostError(reason: string | undefined): JishiError {
    return new JishiError('JISHI_ERR_DEVICE_UNREACHABLE', `${this.target}: port lost: ${reason ?? 'closed'}`);
  }

  #closedError(): JishiError {
    return new JishiError('JISHI_ERR_DEVICE_UNREACHABLE', `driver for ${this.target} is closed`);
  }
}

/** The serialport package, imported on first use: an agent without serial devices never loads it. */
export function loadSerialport(): Promise<typeof import('serialport')> {
  return import('serialport');
}

/** EIO: the tty hung up (pty master closed, USB device gone). */
function isHangup(err: Error): boolean {
  return /input\/output error|\bEIO\b/i.test(err.message) || (err as NodeJS.ErrnoException).code === 'EIO';
}

function closePort(sp: SerialPort): void {
  try {
    if (sp.isOpen) sp.close(() => undefined);
  } catch {
    // already closed
  }
}
