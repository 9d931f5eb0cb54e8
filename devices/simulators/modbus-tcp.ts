/**
 * An in-process Modbus TCP server that simulates metered instruments, for tests and the demo.
 *
 * Each configured unit id serves one profile: on every read the unit's trace is evaluated at clock.now()
 * and each profile field is encoded with encodeField into its registers.
 *
 * Answers:
 * - functions 3 and 4 only (others: exception 1, illegal function, from modbus-serial);
 * - a range that overlaps at least one field of that function: the registers, unmapped ones read as 0;
 * - a range that touches no field of that function, or runs past 0xFFFF: exception 2 (illegal data address);
 * - more than 125 registers: exception 3 (illegal data value);
 * - a unit id that is not configured: exception 0x0B (gateway target device failed to respond),
 *   as a Modbus TCP to RS-485 gateway answers for a silent unit;
 * - a unit set offline with setOffline(): no answer at all (the client times out).
 */
import { ServerTCP, type FCallbackVal, type IServiceVector } from 'modbus-serial';
import { systemClock, type Clock } from '../../common/clock.ts';
import { freePort } from '../../common/net.ts';
import { encodeField, MAX_READ_REGISTERS } from '../modbus-codec.ts';
import { REGISTER_COUNT, type ModbusFunction, type ModbusProfile } from '../profile.ts';
import type { Trace, TraceState } from '../traces.ts';

export interface SimulatedDevice {
  /** Modbus unit id, 1..247 (0 and 248..255 are accepted too, for odd gateways). */
  unit: number;
  profile: ModbusProfile;
  trace: Trace;
}

/** One read the simulator received (for tests that count or inspect requests). */
export interface SimulatedRequest {
  unit: number;
  fn: ModbusFunction;
  address: number;
  count: number;
}

export interface ModbusTcpSimulatorOptions {
  /** Address to listen on (default '127.0.0.1'). */
  host?: string;
  /** TCP port; 0 (the default) picks a free one, reported as `port`. */
  port?: number;
  devices: readonly SimulatedDevice[];
  /** Time source for trace evaluation and forced-state start times (default systemClock). */
  clock?: Clock;
  /** Called for every read request of functions 3/4, before it is answered. */
  onRequest?: (req: SimulatedRequest) => void;
}

export interface ModbusTcpSimulator {
  readonly host: string;
  readonly port: number;
  /** Transport URL for a unit: `modbus-tcp://127.0.0.1:PORT?unit=N`. */
  url(unit: number): string;
  /** Forces the unit's trace into `state` from now on (clock.now()); null resumes its schedule. */
  setState(unit: number, state: TraceState | null): void;
  /** An offline unit does not answer at all (requests time out); true by default. */
  setOffline(unit: number, offline?: boolean): void;
  /** Stops listening and destroys every open connection; resolves when the port is free. */
  close(): Promise<void>;
}

/** Modbus exception codes used here. */
const ILLEGAL_DATA_ADDRESS = 0x02;
const ILLEGAL_DATA_VALUE = 0x03;
const GATEWAY_TARGET_FAILED = 0x0b;

function modbusException(code: number, message: string): Error {
  return Object.assign(new Error(message), { modbusErrorCode: code });
}

function listen(vector: IServiceVector, host: string, port: number): Promise<ServerTCP> {
  return new Promise((resolve, reject) => {
    const server = new ServerTCP(vector, { host, port });
    const onError = (err: Error | null): void => {
      server.close(() => reject(err ?? new Error('Modbus TCP simulator failed to listen')));
    };
    server.once('serverError', onError);
    server.once('initialized', () => {
      server.removeListener('serverError', onError);
      resolve(server);
    });
  });
}

/** Starts the simulator; resolves once it listens. */
export async function startModbusTcpSimulator(options: ModbusTcpSimulatorOptions): Promise<ModbusTcpSimulator> {
  const host = options.host ?? '127.0.0.1';
  const clock = options.clock ?? systemClock;
  const units = new Map<number, SimulatedDevice>();
  for (const d of options.devices) {
    if (units.has(d.unit)) throw new Error(`unit ${d.unit} is configured twice`);
    units.set(d.unit, d);
  }
  const offline = new Set<number>();

  function device(unit: number): SimulatedDevice {
    const d = units.get(unit);
    if (!d) throw new Error(`no simulated device with unit ${unit} (configured: ${[...units.keys()].join(', ')})`);
    return d;
  }

  /** Answers one read, or returns an exception; undefined means stay silent. */
  function read(fn: ModbusFunction, address: number, count: number, unit: number): number[] | Error | undefined {
    options.onRequest?.({ unit, fn, address, count });
    const d = units.get(unit);
    if (!d) return modbusException(GATEWAY_TARGET_FAILED, `no unit ${unit}`);
    if (offline.has(unit)) return undefined;
    if (count < 1 || count > MAX_READ_REGISTERS) return modbusException(ILLEGAL_DATA_VALUE, `bad count ${count}`);
    if (address + count > 0x10000) return modbusException(ILLEGAL_DATA_ADDRESS, `range past 0xFFFF`);
    const fields = d.profile.fields.filter(
      (f) => f.fn === fn && f.address < address + count && f.address + REGISTER_COUNT[f.type] > address,
    );
    if (fields.length === 0) return modbusException(ILLEGAL_DATA_ADDRESS, `no field at ${address}+${count}`);
    const reading = d.trace.at(clock.now()) as unknown as Record<string, unknown>;
    const words = new Array<number>(count).fill(0);
    for (const f of fields) {
      const value = reading[f.field];
      const encoded = encodeField(f, typeof value === 'number' ? value : 0);
      encoded.forEach((w, i) => {
        const at = f.address + i - address;
        if (at >= 0 && at < count) words[at] = w;
      });
    }
    return words;
  }

  function multiple(fn: ModbusFunction) {
    return (address: number, length: number, unitID: number, cb: FCallbackVal<number[]>): void => {
      const answer = read(fn, address, length, unitID);
      if (answer === undefined) return;
      // modbus-serial indexes the array even on error, so hand it an empty one.
      if (answer instanceof Error) cb(answer, []);
      else cb(null, answer);
    };
  }

  function single(fn: ModbusFunction) {
    return (address: number, unitID: number, cb: FCallbackVal<number>): void => {
      const answer = read(fn, address, 1, unitID);
      if (answer === undefined) return;
      if (answer instanceof Error) cb(answer, 0);
      else cb(null, answer[0]!);
    };
  }

  const vector: IServiceVector = {
    getMultipleHoldingRegisters: multiple(3),
    getMultipleInputRegisters: multiple(4),
    getHoldingRegister: single(3),
    getInputRegister: single(4),
  };

  let server: ServerTCP | undefined;
  let port = options.port ?? 0;
  if (port !== 0) {
    server = await listen(vector, host, port);
  } else {
    // modbus-serial treats port 0 as "default 502", so pick a free port first; retry if someone takes it.
    for (let attempt = 0; server === undefined; attempt++) {
      port = await freePort(host);
      try {
        server = await listen(vector, host, port);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 4) throw err;
      }
    }
  }
  const live = server;
  // Socket errors (client resets) are expected in tests; they must not crash the process.
  live.on('socketError', () => {});
  live.on('error', () => {});

  let closing: Promise<void> | undefined;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    host,
    port,
    url: (unit) => `modbus-tcp://${urlHost}:${port}?unit=${unit}`,
    setState: (unit, state) => device(unit).trace.forceState(state, clock.now()),
    setOffline: (unit, isOffline = true) => {
      device(unit);
      if (isOffline) offline.add(unit);
      else offline.delete(unit);
    },
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        live.close(() => resolve());
      });
      return closing;
    },
  };
}
