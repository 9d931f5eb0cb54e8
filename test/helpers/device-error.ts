import { expect } from 'vitest';
import { JishiError } from '../../common/errors.ts';

/** Awaits `p`, expecting it to reject with a JishiError (a driver's device error), and returns that error. */
export async function deviceError(p: Promise<unknown>): Promise<JishiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(JishiError);
  return err as JishiError;
}
