import { expect } from 'vitest';
import { ConfigError } from '../../common/errors.ts';

/** Runs `fn`, expecting it to throw a ConfigError, and returns that error for assertions on its issues. */
export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}
