/**
 * Catalog-wide invariants: what must hold for every device profile, whoever adds it (STYLE point 2).
 * - ids unique and kebab-case, every devices/<vendor>/<model>.ts file registered;
 * - field names snake_case ending in a unit suffix that matches the field's unit;
 * - no two fields of one function code share a register; scale finite and non-zero;
 * - defaults and transports usable;
 * - every profile is served by the Modbus TCP simulator and read back by the real driver.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { registerResolution } from './helpers/trace-readings.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModbusTcpDriver } from '../agent/drivers/modbus-tcp.ts';
import { ManualClock, systemClock } from '../common/clock.ts';
import { silentLogger } from '../common/log.ts';
import { parseTransportUrl, TRANSPORT_KINDS, type ModbusTcpTransport } from '../common/transport-url.ts';
import { KNOWN_READING_FIELDS } from '../common/wire.ts';
import { CATALOG, listProfiles, profileIds } from '../devices/catalog.ts';
import { checkProfile } from '../devices/profile-schema.ts';
import { profileFields, REGISTER_COUNT, type DeviceProfile, type ModbusProfile } from '../devices/profile.ts';
import { startModbusTcpSimulator, type ModbusTcpSimulator } from '../devices/simulators/modbus-tcp.ts';
import { createTrace, DEMO_TRACES, type Trace } from '../devices/traces.ts';

const DEVICES_DIR = fileURLToPath(new URL('../devices/', import.meta.url));
/** Folders under devices/ that hold code, not vendors' profiles. */
const NOT_VENDORS = new Set(['simulators']);

/** Field name suffix -> the unit its value must be in. `power_factor` (unit `1`) is the one name without one. */
const UNIT_SUFFIXES: Record<string, string> = {
  _kwh: 'kWh',
  _var: 'var',
  _va: 'VA',
  _hz: 'Hz',
  _w: 'W',
  _v: 'V',
  _a: 'A',
};
const FIELD_NAME = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

/** The unit a field name promises, or undefined when it ends in no known suffix. */
function unitOfName(name: string): string | undefined {
  if (name === 'power_factor') return '1';
  const suffix = Object.keys(UNIT_SUFFIXES).find((s) => name.endsWith(s));
  return suffix === undefined ? undefined : UNIT_SUFFIXES[suffix];
}

/** Every devices/<vendor>/<model>.ts file, relative to devices/. */
function profileFiles(): string[] {
  const files: string[] = [];
  for (const dir of readdirSync(DEVICES_DIR, { withFileTypes: true })) {
    if (!dir.isDirectory() || NOT_VENDORS.has(dir.name)) continue;
    for (const file of readdirSync(join(DEVICES_DIR, dir.name), { withFileTypes: true })) {
      if (file.isFile() && file.name.endsWith('.ts')) files.push(`${dir.name}/${file.name}`);
    }
  }
  return files.sort();
}

function isProfile(value: unknown): value is DeviceProfile {
  return typeof value === 'object' && value !== null && 'kind' in value && 'id' in value && ('fields' in value || 'messages' in value);
}

const ALL_PROFILES = listProfiles();
/** The Modbus profiles (register maps); MQTT and serial profiles have their own invariants below. */
const PROFILES = ALL_PROFILES.filter((p): p is ModbusProfile => p.kind === 'modbus');

describe('device catalog', () => {
  it('has unique, kebab-case ids, and the map is keyed by them', () => {
    const ids = ALL_PROFILES.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(profileIds()).toEqual(ids);
    for (const p of ALL_PROFILES) {
      expect(p.id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(CATALOG.get(p.id)).toBe(p);
    }
  });

  it('registers every profile file, and every registered profile comes from one', async () => {
    const files = profileFiles();
    expect(files.length).toBeGreaterThan(0);
    const fromFiles = new Set<DeviceProfile>();
    for (const file of files) {
      const mod = (await import(pathToFileURL(join(DEVICES_DIR, file)).href)) as Record<string, unknown>;
      const exported = Object.values(mod).filter(isProfile);
      expect(exported.length, `devices/${file} exports no profile`).toBeGreaterThan(0);
      for (const p of exported) {
        expect(CATALOG.get(p.id), `devices/${file}: ${p.id} is not in devices/catalog.ts`).toBe(p);
        fromFiles.add(p);
      }
    }
    for (const p of ALL_PROFILES) expect(fromFiles.has(p), `${p.id} has no devices/<vendor>/<model>.ts file`).toBe(true);
  });

  it.each(ALL_PROFILES.map((p) => ({ id: p.id, p })))('$id meets the invariants every profile meets (checkProfile)', ({ p }) => {
    expect(checkProfile(p)).toEqual([]);
    for (const key of ['vendor', 'model', 'description', 'source'] as const) expect(p[key].trim(), key).not.toBe('');
    expect(profileFields(p).length + ('status' in p && p.status ? 1 : 0)).toBeGreaterThan(0);
  });
});

describe.each(PROFILES.map((p) => ({ id: p.id, p })))('profile $id', ({ p }) => {
  it('describes itself and quotes its source', () => {
    for (const key of ['vendor', 'model', 'description', 'source'] as const) expect(p[key].trim(), key).not.toBe('');
  });

  it('names fields in snake_case with the unit at the end, matching the field unit', () => {
    const names = p.fields.map((f) => f.field);
    expect(new Set(names).size, 'duplicate field names').toBe(names.length);
    expect(p.fields.length).toBeGreaterThan(0);
    for (const f of p.fields) {
      expect(f.field).toMatch(FIELD_NAME);
      expect(f.unit.trim(), `${f.field}: unit`).not.toBe('');
      expect(unitOfName(f.field), `${f.field}: name ends in no known unit suffix`).toBeDefined();
      expect(f.unit, `${f.field}: unit`).toBe(unitOfName(f.field));
      const known = (KNOWN_READING_FIELDS as Record<string, string>)[f.field];
      if (known !== undefined) expect(f.unit, f.field).toBe(known);
    }
    // The fields the engine and the dashboards rely on.
    expect(names).toContain('power_w');
    expect(names).toContain('energy_kwh');
  });

  it('has no two fields of one function code sharing a register', () => {
    for (const f of p.fields) {
      expect(Number.isInteger(f.address) && f.address >= 0 && f.address + REGISTER_COUNT[f.type] <= 0x10000, f.field).toBe(true);
      for (const g of p.fields) {
        if (f === g || f.fn !== g.fn) continue;
        const overlap = f.address < g.address + REGISTER_COUNT[g.type] && g.address < f.address + REGISTER_COUNT[f.type];
        expect(overlap, `${f.field} overlaps ${g.field} (fn ${f.fn})`).toBe(false);
      }
    }
  });

  it('has a finite non-zero scale and a finite offset on every field', () => {
    for (const f of p.fields) {
      expect(Number.isFinite(f.scale) && f.scale !== 0, `${f.field}: scale ${f.scale}`).toBe(true);
      expect(Number.isFinite(f.offset), `${f.field}: offset ${f.offset}`).toBe(true);
    }
  });

  it('has usable defaults and lists its transports', () => {
    expect(Number.isInteger(p.defaults.unit) && p.defaults.unit >= 1 && p.defaults.unit <= 247, `unit ${p.defaults.unit}`).toBe(true);
    expect(Number.isInteger(p.defaults.baud) && p.defaults.baud > 0, `baud ${p.defaults.baud}`).toBe(true);
    expect(p.transports.length).toBeGreaterThan(0);
    expect(new Set(p.transports).size).toBe(p.transports.length);
    for (const t of p.transports) expect(TRANSPORT_KINDS).toContain(t);
    if (p.kind === 'modbus') for (const t of p.transports) expect(t).toMatch(/^modbus-/);
  });
});

describe('every profile in the Modbus TCP simulator, read by the real driver', () => {
  const EPOCH = Date.UTC(2025, 0, 6, 9, 30, 0);
  const clock = new ManualClock(EPOCH + 3_600_000);
  const traceIds = Object.keys(DEMO_TRACES) as Array<keyof typeof DEMO_TRACES>;
  const devices = PROFILES.map((profile, i) => ({
    unit: i + 1,
    profile,
    trace: createTrace(DEMO_TRACES[traceIds[i % traceIds.length]!], { seed: 100 + i, epochMs: EPOCH }) as Trace,
  }));
  let sim: ModbusTcpSimulator;

  beforeAll(async () => {
    sim = await startModbusTcpSimulator({ clock, devices });
    for (const d of devices) sim.setState(d.unit, 'active');
  });
  afterAll(async () => {
    await sim?.close();
  });

  it.each(devices.map((d) => ({ id: d.profile.id, d })))('$id: power_w and energy_kwh match the trace', async ({ d }) => {
    const parsed = parseTransportUrl(sim.url(d.unit));
    if (!parsed.ok || parsed.transport.kind !== 'modbus-tcp') throw new Error(`bad simulator URL ${sim.url(d.unit)}`);
    const driver = new ModbusTcpDriver({ profile: d.profile, transport: parsed.transport as ModbusTcpTransport }, {
      clock: systemClock,
      logger: silentLogger(),
    });
    try {
      const { readings } = await driver.read();
      expect(Object.keys(readings).sort()).toEqual(d.profile.fields.map((f) => f.field).sort());
      const want = d.trace.at(clock.now());
      expect(want.power_w).toBeGreaterThan(0);
      for (const name of ['power_w', 'energy_kwh'] as const) {
        const field = d.profile.fields.find((f) => f.field === name)!;
        const got = readings[name]!;
        expect(Math.abs(got - want[name]), `${name}: read ${got}, trace ${want[name]}`).toBeLessThanOrEqual(registerResolution(field, want[name]));
      }
    } finally {
      await driver.close();
    }
  });
});
