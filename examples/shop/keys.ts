import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Shortest cookie secret the shop accepts, in characters (what `sessionProcess` checks). */
export const MIN_SECRET_LENGTH = 32;

/**
 * The cookie signing keys (Koa's `app.keys`, newest first) from `COOKIE_SECRET`: one secret, or
 * several separated by commas while rotating keys (the new one first, the old one kept until the
 * cookies signed with it have expired).
 *
 * Without `COOKIE_SECRET`: in production (`NODE_ENV=production`) it throws at start-up, saying what
 * to set; elsewhere it uses a random development secret and warns, so `npm start` just works. With
 * `secretFile` that secret is kept in the file (made on first use, readable by its owner only), so
 * shoppers' cookies, and so their carts, survive a restart of the demo; without it, it lasts as
 * long as the process.
 *
 * @example
 * ```ts
 * app.keys = cookieKeys(process.env); // COOKIE_SECRET="$(openssl rand -base64 32)"
 * ```
 */
export function cookieKeys(
  env: Record<string, string | undefined>,
  warn: (message: string) => void = console.warn,
  secretFile?: string,
): string[] {
  const keys = (env.COOKIE_SECRET ?? '')
    .split(',')
    .map((key) => key.trim())
    .filter(Boolean);
  if (keys.length > 0) return keys;
  if (env.NODE_ENV === 'production') {
    throw new Error(
      `COOKIE_SECRET is not set. Set it to a random secret of at least ${MIN_SECRET_LENGTH} ` +
        'characters (e.g. COOKIE_SECRET="$(openssl rand -base64 32)"); while rotating keys, ' +
        'list the new one first: COOKIE_SECRET="new,old".',
    );
  }
  if (secretFile !== undefined) {
    warn(
      `COOKIE_SECRET is not set: using a development secret kept in ${secretFile}. ` +
        'Set COOKIE_SECRET in production (it is required with NODE_ENV=production).',
    );
    return [developmentSecret(secretFile)];
  }
  warn(
    'COOKIE_SECRET is not set: using a random secret for this process (sessions end when it ' +
      'stops). Set COOKIE_SECRET to keep them across restarts; it is required with NODE_ENV=production.',
  );
  return [randomBytes(32).toString('base64url')];
}

function developmentSecret(file: string): string {
  try {
    const kept = readFileSync(file, 'utf8').trim();
    if (kept.length >= MIN_SECRET_LENGTH) return kept;
  } catch {
    // not made yet
  }
  const secret = randomBytes(32).toString('base64url');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
