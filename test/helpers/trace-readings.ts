import { expect } from 'vitest';
import { sdm120 } from '../../devices/eastron/sdm120.ts';
import type { ModbusProfile } from '../../devices/profile.ts';
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
