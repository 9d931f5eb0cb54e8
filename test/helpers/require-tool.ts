/**
 * Test suites that need a real peer (influxd, mosquitto, socat) use `describe.skipIf(requireOrSkip(name, available))`.
 */
import { accessSync, constants } from 'node:fs';

/**
 * False when the tool is available. When it is missing the suite is skipped with a printed reason, except in
 * CI (CI=true), where a missing tool is an error: CI never skips an integration test silently.
 */
export function requireOrSkip(name: string, available: boolean): boolean {
  if (available) return false;
  if (process.env.CI === 'true') throw new Error(`${name} is required in CI but is not available`);
  console.warn(`skipping tests that need ${name}: it is not installed (set CI=true to make this an error)`);
  return true;
}

/** True when `path` exists and is executable. */
export function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
