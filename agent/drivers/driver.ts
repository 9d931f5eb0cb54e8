/**
 * The driver contract. A driver turns a device profile plus a transport into Readings; it knows
 * nothing about HTTP, storage or scheduling (the sampler decides when to read).
 *
 * Rules every driver follows:
 * - Construction validates and does no I/O; `open()`/`read()` do the work.
 * - No module-level state: any number of instances run in one process.
 * - Every failure is a JishiError with a device code:
 *   JISHI_ERR_DEVICE_TIMEOUT (no answer in time), JISHI_ERR_DEVICE_UNREACHABLE (cannot connect / link lost),
 *   JISHI_ERR_DEVICE_EXCEPTION (the device answered with an error, e.g. a Modbus exception, named),
 *   JISHI_ERR_DEVICE_DECODE (an answer that cannot be decoded).
 * - A driver recovers by itself: after a failure the next `read()` reconnects lazily.
 */
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/log.ts';
import type { Readings } from '../../common/wire.ts';

/** What a driver gets from the agent. */
export interface DriverContext {
  clock: Clock;
  logger: Logger;
}

/** One successful read. */
export interface ReadResult {
  readings: Readings;
  /** Device-reported status text (status line, status register name, relay state), when the device has one. */
  status?: string;
  /** What came off the wire, when read({ raw: true }) asked for it (`jishi probe --raw`). */
  raw?: RawFrame[];
}

/** One raw exchange: what was asked (e.g. `fn 4 0x000C+2`) and what the device answered. */
export interface RawFrame {
  request: string;
  /** Modbus: the register words; serial/MQTT: the text or payload. */
  data: readonly number[] | string;
}

/** Connection counters a driver keeps for the agent's status. */
export interface DriverStats {
  /** True while the driver holds an open connection / port. */
  connected: boolean;
  /** Successful connections made after the first one (each one follows a lost or dropped connection). */
  reconnects: number;
}

/** A driver the sampler polls: Modbus (TCP, RTU) and query/response serial instruments. */
export interface PolledDriver {
  readonly kind: 'polled';
  /** The transport without credentials, for logs and status (formatTransport). */
  readonly target: string;
  /** Connects eagerly. Optional to call: `read()` connects lazily. Rejects with a device JishiError. */
  open(): Promise<void>;
  /** Reads every field of the profile once. Rejects with a device JishiError. */
  read(options?: { raw?: boolean }): Promise<ReadResult>;
  /** Releases the connection; the driver may not be used afterwards. Never rejects. */
  close(): Promise<void>;
  stats(): DriverStats;
}

/** What a push driver hands to the agent: a reading, or a device error, each with the device-side time. */
export type PushEvent = { ts: number; readings: Readings; status?: string } | { ts: number; error: Error };

/**
 * A driver the device pushes to (MQTT plugs, serial instruments that print status lines on their own).
 * Not implemented in this version: the shape the MQTT and serial-listen drivers will implement, and
 * the member of the Driver union they join.
 */
export interface PushDriver {
  readonly kind: 'push';
  readonly target: string;
  /** Subscribes / opens and calls `emit` for every reading until `stop()`. */
  start(emit: (event: PushEvent) => void): Promise<void>;
  stop(): Promise<void>;
  stats(): DriverStats;
}

/** Every driver kind that exists in this version (PushDriver joins with the MQTT issue). */
export type Driver = PolledDriver;
