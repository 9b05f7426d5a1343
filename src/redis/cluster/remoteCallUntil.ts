import type { EventObject } from 'xstate';
import { CallTimeoutError, type SessionSnapshot } from '../../index.js';
import type { RemoteViews } from './RemoteViews.js';
import type { ReplyBody } from './Router.js';
import { fromWire } from './wireError.js';

/**
 * @internal A call with `until` to a session owned elsewhere: the owner answers with the snapshot
 * after the event's step (a predicate cannot cross the wire), and the later snapshots come through
 * a view of the session.
 */
export function remoteCallUntil<T>(
  views: RemoteViews,
  send: () => Promise<ReplyBody>,
  current: SessionSnapshot | undefined,
  id: string,
  event: EventObject,
  timeoutMs: number,
  until: (s: SessionSnapshot) => boolean,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      off();
      fn();
    };
    const check = (s: SessionSnapshot) => {
      try {
        if (until(s)) finish(() => resolve(s as T));
      } catch (err) {
        finish(() => reject(err));
      }
    };
    const timer = setTimeout(
      () => finish(() => reject(new CallTimeoutError(id, event.type, timeoutMs))),
      timeoutMs,
    );
    const off = views.subscribe(
      id,
      (m) => {
        if (m.type === 'snapshot') check(m.snapshot);
        else
          finish(() =>
            reject(
              fromWire({
                code: 'SESSION_ENDED',
                name: 'SessionEndedError',
                message: `Session '${id}' ended (${m.reason})`,
                sessionId: id,
                reason: m.reason,
              }),
            ),
          );
      },
      {},
      current,
    );
    send().then(
      (body) => {
        if (body.x) check(body.x);
      },
      (err) => finish(() => reject(err)),
    );
  });
}
