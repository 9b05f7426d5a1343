/** Codes of {@link SigningKeyError}. */
export type SigningKeyErrorCode = 'SIGNING_KEY_MISSING' | 'SIGNING_KEY_WEAK';

/**
 * The app's cookie signing keys (`app.keys`) are missing or too short while koa-session signs its
 * cookie (its `signed` option, `true` by default). Thrown by `sessionProcess()` when it is created
 * with `{ app }`, so a misconfigured server fails at start-up instead of answering every request
 * with a keygrip error. The message says what to set.
 *
 * @example
 * ```ts
 * try {
 *   app.use(sessionProcess(sessions, { app }));
 * } catch (err) {
 *   if (err instanceof SigningKeyError) console.error(err.message); // "Set app.keys ..."
 *   throw err;
 * }
 * ```
 */
export class SigningKeyError extends Error {
  override name = 'SigningKeyError' as const;
  /** `SIGNING_KEY_MISSING` (no `app.keys`) or `SIGNING_KEY_WEAK` (a key below `minKeyLength`). */
  readonly code: SigningKeyErrorCode;
  constructor(code: SigningKeyErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

const HOW =
  'Set app.keys to one or more secrets of at least %d characters, newest first, from the ' +
  'environment (e.g. app.keys = process.env.COOKIE_SECRET.split(","); generate one with ' +
  '`openssl rand -base64 32`), or pass { signed: false } to sessionProcess() if koa-session ' +
  'runs with signed: false.';

/**
 * @internal Checks `keys` (Koa's `app.keys`): present, non-empty, each a string (or Buffer) of at
 * least `minLength` characters. Old keys still verify signatures, so a weak old key is as weak as
 * a weak new one: every key is checked.
 */
export function assertSigningKeys(keys: unknown, minLength: number): void {
  const how = HOW.replace('%d', String(minLength));
  // A Keygrip instance (Koa accepts one as `app.keys`) does not show its keys: trust it.
  if (keys !== null && typeof keys === 'object' && !Array.isArray(keys)) return;
  const list: unknown[] | undefined = Array.isArray(keys) ? keys : undefined;
  if (list === undefined || list.length === 0)
    throw new SigningKeyError(
      'SIGNING_KEY_MISSING',
      `koa-session signs its cookie but app.keys is not set. ${how}`,
    );
  list.forEach((key, i) => {
    const length = typeof key === 'string' || Buffer.isBuffer(key) ? key.length : 0;
    if (length < minLength)
      throw new SigningKeyError(
        'SIGNING_KEY_WEAK',
        `app.keys[${i}] is ${typeof key === 'string' || Buffer.isBuffer(key) ? `${length} characters long` : `not a string`}: too weak to sign session cookies. ${how}`,
      );
  });
}
