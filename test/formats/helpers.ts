import { expect } from 'vitest';
import { ErrorCode, InputError } from '../../src/errors.js';

/** Runs fn and returns the InputError it must throw (any other outcome fails the test). */
export function inputError(fn: () => unknown, code?: ErrorCode): InputError {
  let thrown: unknown = null;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (!(thrown instanceof InputError)) {
    throw new Error(`expected an InputError, got ${thrown === null ? 'no error' : String((thrown as Error)?.stack ?? thrown)}`);
  }
  if (code) expect(thrown.code).toBe(code);
  return thrown;
}
