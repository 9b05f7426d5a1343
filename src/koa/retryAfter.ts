import { isSessionError } from '../index.js';

/**
 * @internal Gives a refused start (`SESSION_LIMIT_REACHED` 503, `RATE_LIMITED` 429), and a
 * `SESSION_VERSION_AHEAD` (503) that a cluster node says to retry (a node holding the version is
 * alive), a
 * `Retry-After` header in whole seconds, rounded up, at least 1 (RFC 9110 §10.2.3), from the
 * error's `retryAfterMs`, and `SESSION_ROTATED` (409) `Retry-After: 0`: retry at once, the browser
 * holds the new ID by then. The header goes on the error's `headers`, which Koa's `ctx.onerror`
 * sets on the response after clearing the others (so no `Set-Cookie` either), and the error keeps
 * its class and `code` for any error-handling middleware upstream. Any other value is returned
 * untouched.
 */
export function withRetryAfter(err: unknown): unknown {
  if (isSessionError(err, 'SESSION_ROTATED')) {
    const e = err as unknown as { headers?: Record<string, string> };
    e.headers = { ...e.headers, 'Retry-After': '0' };
    return err;
  }
  const ahead =
    isSessionError(err, 'SESSION_VERSION_AHEAD') &&
    typeof (err as { retryAfterMs?: unknown }).retryAfterMs === 'number';
  if (
    !ahead &&
    !isSessionError(err, 'SESSION_LIMIT_REACHED') &&
    !isSessionError(err, 'RATE_LIMITED')
  )
    return err;
  const e = err as unknown as { retryAfterMs?: unknown; headers?: Record<string, string> };
  const ms =
    typeof e.retryAfterMs === 'number' && Number.isFinite(e.retryAfterMs) ? e.retryAfterMs : 1_000;
  e.headers = { ...e.headers, 'Retry-After': String(Math.max(1, Math.ceil(ms / 1_000))) };
  return err;
}
