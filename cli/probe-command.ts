/**
 * `jishi profiles` and `jishi probe`: the device catalog, and one read of a device with a profile.
 *
 * probe opens the device and reads it once. A device that sends by itself (an MQTT plug, a serial instrument in
 * listen mode) may have sent nothing yet: probe then retries the read until its first values come, up to --wait
 * seconds (default 30 for those devices, 0 for polled ones). Any other failure (broker unreachable, device offline
 * by its LWT / availability topic, an exception, a port that cannot be opened) ends the probe at once.
 */
import { systemClock } from '../common/clock.ts';
import { JishiError } from '../common/errors.ts';
import { silentLogger } from '../common/log.ts';
import { formatTransport, parseTransportUrl, type TransportKind } from '../common/transport-url.ts';
import type { RawFrame, ReadResult } from '../agent/drivers/driver.ts';
import { createDriver, hasDriver, SUPPORTED_TRANSPORTS } from '../agent/drivers/index.ts';
import { getProfile, listProfiles, profileIds } from '../devices/catalog.ts';
import { profileDefaults, profileFields } from '../devices/profile.ts';
import { escapeSerial } from '../devices/serial-codec.ts';
import { displayWidth } from './live-table.ts';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => displayWidth(r[c] ?? ''))));
  return rows.map((r) => r.map((cell, c) => cell + ' '.repeat(widths[c]! - displayWidth(cell))).join('  ').trimEnd()).join('\n');
}

export function runProfiles(opts: { json?: boolean }, out: NodeJS.WritableStream = process.stdout): void {
  const profiles = listProfiles();
  if (opts.json) {
    out.write(`${JSON.stringify(profiles, null, 2)}\n`);
    return;
  }
  const rows = [
    ['profile', 'device', 'transports', 'fields'],
    ...profiles.map((p) => [p.id, `${p.vendor} ${p.model}`, p.transports.join(', '), profileFields(p).map((f) => f.field).join(' ')]),
  ];
  out.write(`${table(rows)}\n\nDrivers in this version: ${SUPPORTED_TRANSPORTS.join(', ')}. Use: jishi probe <profile> <transport-url>\n`);
}

export interface ProbeOptions {
  json?: boolean;
  raw?: boolean;
  /**
   * Seconds to wait for the first values: read() is retried while it fails with DEVICE_TIMEOUT ("no message yet",
   * "no line matched yet", no answer). Default: DEFAULT_PUSH_WAIT_S for devices that send by themselves (MQTT,
   * serial listen mode), 0 (one read) for polled ones (Modbus, serial query mode).
   */
  wait?: number;
}

/** How long probe waits by default for the first message of a device that sends by itself, s. */
export const DEFAULT_PUSH_WAIT_S = 30;
/** Pause between two reads while waiting, ms. */
const RETRY_EVERY_MS = 100;
/** After the first values of an MQTT device, how long to collect the rest of its burst (SENSOR + STATE...), ms. */
const MQTT_SETTLE_MS = 300;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `30 s`, `1.5 s` */
function seconds(s: number): string {
  return `${Number(s.toFixed(3))} s`;
}

/** A device error's message without the target it often starts with (probe names the target itself). */
function reason(err: unknown, target: string): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.startsWith(`${target}: `) ? message.slice(target.length + 2) : message;
}

function isTimeout(err: unknown): boolean {
  return err instanceof JishiError && err.code === 'JISHI_ERR_DEVICE_TIMEOUT';
}

/** One raw frame as text lines: Modbus register words in hex, serial exchanges as > sent / < received, MQTT topic: payload. */
function rawLines(frame: RawFrame, kind: TransportKind): string[] {
  if (typeof frame.data !== 'string') return [`${frame.request}: ${frame.data.map((w) => w.toString(16).padStart(4, '0')).join(' ')}`];
  if (kind === 'serial') {
    // The driver gives the request already escaped (`MEAS:POW?\n`); `listen` marks a line the instrument printed by itself.
    const sent = frame.request === '' || frame.request === 'listen' ? [] : [`> ${frame.request}`];
    return [...sent, `< ${escapeSerial(frame.data)}`];
  }
  return [`${frame.request}: ${frame.data.replace(/[\x00-\x1f\x7f]/g, (c) => escapeSerial(c))}`];
}

export async function runProbe(
  profileId: string,
  url: string,
  opts: ProbeOptions,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<void> {
  const profile = getProfile(profileId);
  if (profile === undefined) throw new Error(`unknown profile "${profileId}" (known: ${profileIds().join(', ')}; see jishi profiles)`);
  const parsed = parseTransportUrl(url, profileDefaults(profile));
  if (!parsed.ok) throw new Error(`bad transport URL "${url}": ${parsed.errors.join('; ')}`);
  const transport = parsed.transport;
  if (!profile.transports.includes(transport.kind)) {
    throw new Error(`profile ${profile.id} does not support ${transport.kind} (supported: ${profile.transports.join(', ')})`);
  }
  if (!hasDriver(transport.kind)) {
    throw new Error(`${transport.kind} transport is not available in this version; supported: ${SUPPORTED_TRANSPORTS.join(', ')}`);
  }
  if (opts.wait !== undefined && !(Number.isFinite(opts.wait) && opts.wait >= 0)) throw new Error(`--wait must be a number of seconds >= 0, got ${opts.wait}`);
  const target = formatTransport(transport);
  /** Devices that send by themselves: read() answers from what they sent, which may be nothing yet. */
  const pushes = profile.kind === 'mqtt' || (profile.kind === 'serial' && profile.mode === 'listen');
  const waitS = opts.wait ?? (pushes ? DEFAULT_PUSH_WAIT_S : 0);
  const driver = createDriver(
    { id: 'probe', profile, transport, target, pollIntervalMs: 0 },
    { clock: systemClock, logger: silentLogger() },
  );
  const fail = (e: unknown): JishiError =>
    new JishiError(e instanceof JishiError ? e.code : 'JISHI_ERR_INTERNAL', `${profile.id} at ${target}: ${reason(e, target)}`, { cause: e });
  try {
    const started = Date.now();
    const deadline = started + waitS * 1000;
    const announce = (): void => {
      err.write(`waiting up to ${seconds(waitS)} for ${profile.id} on ${target} (Ctrl-C to stop)\n`);
    };
    try {
      await driver.open();
    } catch (e) {
      throw fail(e);
    }
    const readOptions = opts.raw ? { raw: true } : {};
    const wantsReadings = profileFields(profile).length > 0;
    let announced = false;
    // A listen-mode read itself blocks up to the transport timeout for a first line: say what is going on first.
    if (waitS > 0 && profile.kind === 'serial' && profile.mode === 'listen') {
      announce();
      announced = true;
    }
    let result: ReadResult | undefined;
    for (;;) {
      try {
        result = await driver.read(readOptions);
        // An MQTT status message alone (a plug's relay state) may come before the values: wait for those too.
        if (profile.kind !== 'mqtt' || !wantsReadings || Object.keys(result.readings).length > 0 || Date.now() >= deadline) break;
      } catch (e) {
        if (!isTimeout(e)) throw fail(e);
        if (Date.now() >= deadline) {
          if (result !== undefined) break;
          if (waitS === 0) throw fail(e);
          const hint = profile.kind === 'mqtt' ? ' (check that the device is on and publishes under this topic)' : '';
          const message = `${profile.id} at ${target}: no values within ${seconds(waitS)}: ${reason(e, target)}${hint}`;
          throw new JishiError('JISHI_ERR_DEVICE_TIMEOUT', message, { cause: e });
        }
      }
      if (!announced) {
        announce();
        announced = true;
      }
      await sleep(Math.max(0, Math.min(RETRY_EVERY_MS, deadline - Date.now())));
    }
    if (profile.kind === 'mqtt') {
      // A device publishes several messages at once (Tasmota SENSOR and STATE): take the rest of that burst too.
      await sleep(MQTT_SETTLE_MS);
      try {
        result = await driver.read(readOptions);
      } catch (e) {
        throw fail(e);
      }
    }
    const ms = Date.now() - started;
    if (opts.json) {
      out.write(`${JSON.stringify({ profile: profile.id, target, ms, ...result }, null, 2)}\n`);
      return;
    }
    const units = new Map(profileFields(profile).map((f) => [f.field, f.unit]));
    const rows = [['field', 'value', 'unit'], ...Object.entries(result.readings).map(([k, v]) => [k, String(v), units.get(k) ?? ''])];
    out.write(`${profile.vendor} ${profile.model} at ${target} (${ms} ms)\n\n${table(rows)}\n`);
    if (result.status !== undefined) out.write(`status: ${result.status}\n`);
    if (opts.raw && result.raw) {
      out.write('\nraw:\n');
      for (const frame of result.raw) for (const line of rawLines(frame, transport.kind)) out.write(`  ${line}\n`);
    }
  } finally {
    await driver.close();
  }
}
