import { isSessionError, type SessionSupervisor } from '../index.js';

/** @internal What {@link restoreForView} found for a view's session. */
export type RestoreVerdict =
  | { kind: 'running'; running: boolean }
  | { kind: 'refuse'; code: 'SESSION_ROTATED' | 'SESSION_REPLACED'; message: string }
  | { kind: 'failed'; error: unknown; status: number };

/**
 * @internal
 * Brings a view's session into memory and says whether it runs, or why the upgrade is refused or
 * failed. Not `started()`: with a store that loads asynchronously (Redis), a session that left
 * memory (passivated, or saved before a restart) is there only once `restore` has read it, and
 * the feed's subscribe needs it in memory.
 */
export async function restoreForView(
  sessions: SessionSupervisor,
  sessionId: string,
): Promise<RestoreVerdict> {
  try {
    return { kind: 'running', running: await sessions.restore(sessionId) };
  } catch (err) {
    if (isSessionError(err, 'INVALID_SESSION_ID')) return { kind: 'running', running: false };
    if (isSessionError(err, 'SESSION_ROTATED')) {
      // Another request of this browser rotated the ID a moment ago (a login in another tab):
      // its cookie holds the new ID by now, so the client connects again (retryable).
      return {
        kind: 'refuse',
        code: 'SESSION_ROTATED',
        message: 'The session moved to a new ID; connect again',
      };
    }
    if (
      isSessionError(err, 'SESSION_RESTORE_FAILED') ||
      (isSessionError(err, 'SESSION_VERSION_AHEAD') &&
        typeof (err as { retryAfterMs?: unknown }).retryAfterMs !== 'number')
    ) {
      // The stored session cannot come back here (quarantined, or written by a newer version
      // than any live node holds; in a cluster, while a node holding it is alive, the error
      // carries retryAfterMs and the client retries): the page's next request gets a fresh session under a new cookie
      // (the Koa middleware's `onRestoreFailed`), and the client reconnects after it.
      return {
        kind: 'refuse',
        code: 'SESSION_REPLACED',
        message:
          "The cookie's session cannot be restored; the next page request starts a fresh one",
      };
    }
    // The store did not answer (STORE_UNAVAILABLE): not the peer's fault, and not a reason to
    // stop its client.
    return { kind: 'failed', error: err, status: isSessionError(err) ? err.status : 500 };
  }
}
