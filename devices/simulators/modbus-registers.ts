/**
 * The register-answering rules every simulated Modbus device follows, whatever the framing (Modbus TCP,
 * RTU on a serial line, RTU over TCP). Pure logic over the units' profiles and traces; no I/O.
 *
 * Each configured unit id serves one profile: on every read the unit's trace is evaluated at clock.now()
 * and each profile field is encoded with encodeField into its registers.
 *
 * Answers to a read (functions 3 and 4):
 * - a range that overlaps at least one field of that function: the registers, unmapped ones read as 0;
 * - a range that touches no field of that function, or runs past 0xFFFF: exception 2 (illegal data address);
 * - fewer than 1 or more than 125 registers: exception 3 (illegal data value);
 * - a unit set offline with setOffline(): no answer at all (the client times out);
 * - a unit id that is not configured: `no-unit`; the framing decides (a TCP gateway answers exception 0x0B,
 *   an RS-485 bus stays silent).
 * Other function codes are answered with exception 1 (illegal function) by the framing.
 */
import type { Clock } from '../../common/clock.ts';
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

/** Modbus exception codes the simulators answer with. */
export const ILLEGAL_FUNCTION = 0x01;
export const ILLEGAL_DATA_ADDRESS = 0x02;
export const ILLEGAL_DATA_VALUE = 0x03;
export const GATEWAY_TARGET_FAILED = 0x0b;

/** How a unit answers one read. */
export type RegisterAnswer =
  | { kind: 'registers'; words: number[] }
  | { kind: 'exception'; code: number; message: string }
  /** The unit is offline: no answer at all. */
  | { kind: 'silent' }
  /** No unit with that id is configured. */
  | { kind: 'no-unit' };

/** The simulated units behind one simulator (one gateway, one bus), with their offline flags. */
export class SimulatedUnits {
  readonly #units = new Map<number, SimulatedDevice>();
  readonly #offline = new Set<number>();
  readonly #clock: Clock;
  readonly #onRequest: ((req: SimulatedRequest) => void) | undefined;

  /** @throws Error when a unit id is configured twice. */
  constructor(devices: readonly SimulatedDevice[], clock: Clock, onRequest?: (req: SimulatedRequest) => void) {
    for (const d of devices) {
      if (this.#units.has(d.unit)) throw new Error(`unit ${d.unit} is configured twice`);
      this.#units.set(d.unit, d);
    }
    this.#clock = clock;
    this.#onRequest = onRequest;
  }

  has(unit: number): boolean {
    return this.#units.has(unit);
  }

  /** @throws Error when no device has that unit id. */
  device(unit: number): SimulatedDevice {
    const d = this.#units.get(unit);
    if (!d) throw new Error(`no simulated device with unit ${unit} (configured: ${[...this.#units.keys()].join(', ')})`);
    return d;
  }

  /** Forces the unit's trace into `state` from now on (clock.now()); null resumes its schedule. */
  setState(unit: number, state: TraceState | null): void {
    this.device(unit).trace.forceState(state, this.#clock.now());
  }

  /** An offline unit does not answer at all. */
  setOffline(unit: number, offline = true): void {
    this.device(unit);
    if (offline) this.#offline.add(unit);
    else this.#offline.delete(unit);
  }

  isOffline(unit: number): boolean {
    return this.#offline.has(unit);
  }

  /** Answers one read of function 3 or 4 (reporting it to onRequest first). */
  read(req: SimulatedRequest): RegisterAnswer {
    this.#onRequest?.({ ...req });
    const { unit, fn, address, count } = req;
    const d = this.#units.get(unit);
    if (!d) return { kind: 'no-unit' };
    if (this.#offline.has(unit)) return { kind: 'silent' };
    if (count < 1 || count > MAX_READ_REGISTERS) return exception(ILLEGAL_DATA_VALUE, `bad count ${count}`);
    if (address + count > 0x10000) return exception(ILLEGAL_DATA_ADDRESS, 'range past 0xFFFF');
    const fields = d.profile.fields.filter(
      (f) => f.fn === fn && f.address < address + count && f.address + REGISTER_COUNT[f.type] > address,
    );
    if (fields.length === 0) return exception(ILLEGAL_DATA_ADDRESS, `no field at ${address}+${count}`);
    const reading = d.trace.at(this.#clock.now()) as unknown as Record<string, unknown>;
    const words = new Array<number>(count).fill(0);
    for (const f of fields) {
      const value = reading[f.field];
      const encoded = encodeField(f, typeof value === 'number' ? value : 0);
      encoded.forEach((w, i) => {
        const at = f.address + i - address;
        if (at >= 0 && at < count) words[at] = w;
      });
    }
    return { kind: 'registers', words };
  }
}

function exception(code: number, message: string): RegisterAnswer {
  return { kind: 'exception', code, message };
}
