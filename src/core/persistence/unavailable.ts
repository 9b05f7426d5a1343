import { isSessionError, StoreUnavailableError } from '../errors.js';

/**
 * @internal
 * A store's failure as the caller sees it: STORE_UNAVAILABLE, except a SessionError the store
 * chose to answer with (a cluster store's SESSION_ROTATED for an ID rotated away on another node).
 */
export function unavailable(cause: unknown, id?: string): unknown {
  if (isSessionError(cause) && cause.code !== 'STORE_UNAVAILABLE') return cause;
  return new StoreUnavailableError(cause, id);
}
