import { randomBytes } from 'node:crypto';
import { InvalidSessionIdError } from './errors.js';

const VALID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Whether `value` is a valid session ID: 1–128 characters of `[A-Za-z0-9_-]`.
 *
 * @example
 * ```ts
 * isValidSessionId('k3J_x-9'); // true
 * isValidSessionId('a/b');     // false
 * ```
 */
export function isValidSessionId(value: unknown): value is string {
  return typeof value === 'string' && VALID.test(value);
}

/** @internal Throws `INVALID_SESSION_ID` unless `value` is valid. */
export function assertSessionId(value: unknown): asserts value is string {
  if (!isValidSessionId(value)) throw new InvalidSessionIdError(value);
}

/**
 * A new session ID: 192 bits from the CSPRNG, base64url without padding (32 characters).
 *
 * @example
 * ```ts
 * const id = generateSessionId(); // 'Xq3...'
 * await sessions.start(id);
 * ```
 */
export function generateSessionId(): string {
  return randomBytes(24).toString('base64url');
}
