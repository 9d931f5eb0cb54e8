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
import type { SharedResources } from './shared.ts';

/** What a driver gets from the agent. */
export interface DriverContext {
  clock: Clock;
  logger: Logger;
  /**
   * Connections shared by the drivers of one agent (an RS-485 port, an MQTT broker connection). A driver
   * created without it (e.g. by `jishi probe`) owns its connection alone.
   */
  shared?: SharedResources;
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

/**
 * Every driver is polled. Devices that push (MQTT plugs, serial instruments that print status lines by
 * themselves) are read sample-and-hold: their driver listens all the time, keeps the device's latest values,
 * and each `read()` returns them, or fails when the device is offline (LWT / availability), the link is down,
 * or the values are older than the profile's stale limit. Samples therefore come at the poll interval
 * whatever the device's own publishing period, and an offline device becomes `unknown` at the collector.
 */
export type Driver = PolledDriver;
