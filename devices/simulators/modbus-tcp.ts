/**
 * An in-process Modbus TCP server that simulates metered instruments, for tests and the demo.
 *
 * Each configured unit id serves one profile, answered by the rules in ./modbus-registers.ts (shared with the
 * RTU simulators): registers from the unit's trace at clock.now(), exception 2 for a range without a field,
 * exception 3 for more than 125 registers, silence for a unit set offline.
 *
 * Specific to this Modbus TCP gateway:
 * - functions 3 and 4 only (others: exception 1, illegal function, from modbus-serial);
 * - a unit id that is not configured: exception 0x0B (gateway target device failed to respond),
 *   as a Modbus TCP to RS-485 gateway answers for a silent unit.
 */
import { ServerTCP, type FCallbackVal, type IServiceVector } from 'modbus-serial';
import { systemClock, type Clock } from '../../common/clock.ts';
import { freePort } from '../../common/net.ts';
import type { ModbusFunction } from '../profile.ts';
import type { TraceState } from '../traces.ts';
import { GATEWAY_TARGET_FAILED, SimulatedUnits, type SimulatedDevice, type SimulatedRequest } from './modbus-registers.ts';

export type { SimulatedDevice, SimulatedRequest } from './modbus-registers.ts';

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
  const units = new SimulatedUnits(options.devices, clock, options.onRequest);

  /** Answers one read, or returns an exception; undefined means stay silent. */
  function read(fn: ModbusFunction, address: number, count: number, unit: number): number[] | Error | undefined {
    const answer = units.read({ unit, fn, address, count });
    switch (answer.kind) {
      case 'registers':
        return answer.words;
      case 'exception':
        return modbusException(answer.code, answer.message);
      case 'no-unit':
        return modbusException(GATEWAY_TARGET_FAILED, `no unit ${unit}`);
      case 'silent':
        return undefined;
    }
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
    setState: (unit, state) => units.setState(unit, state),
    setOffline: (unit, isOffline = true) => units.setOffline(unit, isOffline),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        live.close(() => resolve());
      });
      return closing;
    },
  };
}
