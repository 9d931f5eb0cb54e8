/** `jishi profiles` and `jishi probe`: the device catalog, and one read of a device with a profile. */
import { systemClock } from '../common/clock.ts';
import { silentLogger } from '../common/log.ts';
import { formatTransport, parseTransportUrl } from '../common/transport-url.ts';
import { createDriver, hasDriver, SUPPORTED_TRANSPORTS } from '../agent/drivers/index.ts';
import { getProfile, listProfiles, profileIds } from '../devices/catalog.ts';
import { profileDefaults, profileFields } from '../devices/profile.ts';
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

export async function runProbe(
  profileId: string,
  url: string,
  opts: { json?: boolean; raw?: boolean },
  out: NodeJS.WritableStream = process.stdout,
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
  const target = formatTransport(transport);
  const driver = createDriver(
    { id: 'probe', profile, transport, target, pollIntervalMs: 0 },
    { clock: systemClock, logger: silentLogger() },
  );
  try {
    const started = Date.now();
    const result = await driver.read(opts.raw ? { raw: true } : {});
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
      for (const frame of result.raw) {
        const data = typeof frame.data === 'string' ? JSON.stringify(frame.data) : frame.data.map((w) => w.toString(16).padStart(4, '0')).join(' ');
        out.write(`  ${frame.request}: ${data}\n`);
      }
    }
  } finally {
    await driver.close();
  }
}
