import { expect } from 'vitest';
import { parseTransportUrl, type ModbusTcpTransport } from '../../common/transport-url.ts';
import { sdm120 } from '../../devices/eastron/sdm120.ts';
import type { ModbusField, ModbusProfile } from '../../devices/profile.ts';
import type { Trace } from '../../devices/traces.ts';

/**
 * Asserts that a Modbus driver read exactly the profile's fields, each the trace's value at `at` as the float32
 * registers of the simulator hold it.
 */
export function expectTrace(readings: Record<string, number>, trace: Trace, at: number, profile: ModbusProfile = sdm120): void {
  const want = trace.at(at) as unknown as Record<string, number>;
  expect(Object.keys(readings).sort()).toEqual(profile.fields.map((f) => f.field).sort());
  for (const f of profile.fields) expect(readings[f.field], f.field).toBe(Math.fround(want[f.field]!));
}

/** How far a Modbus value may be off after encoding into registers: float rounding, or half a scaled step. */
export function registerResolution(field: ModbusField, value: number): number {
  switch (field.type) {
    case 'float32':
      return Math.abs(value) * 2 ** -23 + 1e-9;
    case 'float64':
      return Math.abs(value) * 2 ** -51 + 1e-12;
    default:
      return Math.abs(field.scale) / 2 + Math.abs(value) * 1e-12;
  }
}

/** A modbus-tcp transport from a test URL (throws on anything else). */
export function tcpTransport(url: string): ModbusTcpTransport {
  const parsed = parseTransportUrl(url);
  if (!parsed.ok || parsed.transport.kind !== 'modbus-tcp') throw new Error(`bad test URL ${url}`);
  return parsed.transport;
}
