import type { LiveEvent, SnapshotMessage } from '../live/protocol.js';
// Types only, so the browser bundle never holds this file; LiveError and connectLive are named
// in the docs alone (no import, no cycle with connectLive.ts).

/**
 * The connection's state, as {@link LiveClient.state} reports it. `'replaced'`: the bridge refused
 * the view with `4410 SESSION_REPLACED` (the cookie's stored session cannot be restored) and the
 * client waits for the page's next request, which gets a fresh session: `onReplaced`'s promise,
 * or a call of `reconnect()`.
 */
export type LiveState = 'connecting' | 'open' | 'reconnecting' | 'replaced' | 'ended' | 'closed';

/** What {@link connectLive} returns. */
export interface LiveClient<TView = unknown> {
  /** Casts an event. Returns `false` (and sends nothing) while not connected. */
  send(event: LiveEvent): boolean;
  /**
   * Calls: resolves with the machine's reply, rejects with a {@link LiveError} (the core's code,
   * `EVENT_NOT_ALLOWED`, `CALL_TIMEOUT`, `NOT_CONNECTED`, `CONNECTION_LOST`, ...).
   */
  call<T = unknown>(event: LiveEvent, options?: { timeoutMs?: number }): Promise<T>;
  /** Closes for good: no reconnection; waiting calls reject with `CONNECTION_LOST`. */
  close(): void;
  /**
   * Connects again now, with the cookie the page holds now: after the page's request that follows
   * a `SESSION_REPLACED` refusal (state `'replaced'`), instead of the backoff's wait (state
   * `'reconnecting'`), or to follow the session that replaced an ended one (state `'ended'`,
   * `'closed'` after a refusal). Does nothing while connecting or open, and after `close()`.
   * @example
   * ```ts
   * await fetch('/api/cart', { method: 'POST', body }); // the page's next request
   * if (live.state === 'replaced') live.reconnect();
   * ```
   */
  reconnect(): void;
  readonly state: LiveState;
  /** The last snapshot received, if any. */
  readonly snapshot: SnapshotMessage<TView> | undefined;
}
