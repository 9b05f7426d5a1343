import type { Cluster, Redis } from 'ioredis';
import { StoreUnavailableError } from '../../index.js';

/** Runs an operation within a time bound. @internal */
export type Bounded = <T>(what: string, operation: () => Promise<T>) => Promise<T>;

/**
 * Bounds every operation of the store by `timeoutMs`, whatever the client's own options.
 *
 * An ioredis client by default queues commands while it is disconnected (`enableOfflineQueue`)
 * and retries forever, so a command to a Redis that is down waits indefinitely, and one that was
 * queued runs whenever Redis comes back, long after its caller gave up. So commands are sent
 * only on a ready connection: while the client is (re)connecting an operation waits for
 * `ready` and, if the bound passes first, rejects without ever having been sent. A command
 * already sent when the connection drops can still be applied after its caller saw the
 * rejection (ioredis resends it, up to `maxRetriesPerRequest`): each write's compare-and-set
 * makes that harmless, the next write of that session then conflicts.
 *
 * @internal
 */
export function bounded(redis: Redis | Cluster, timeoutMs: number): Bounded {
  // One pair of listeners however many operations wait (no MaxListenersExceededWarning).
  let whenReady: Promise<void> | undefined;
  const waitReady = (): Promise<void> => {
    whenReady ??= new Promise<void>((resolve, reject) => {
      const done = () => {
        redis.off('ready', onReady);
        redis.off('end', onEnd);
        whenReady = undefined;
      };
      const onReady = () => {
        done();
        resolve();
      };
      const onEnd = () => {
        done();
        reject(new Error('the connection to Redis has ended'));
      };
      redis.on('ready', onReady);
      redis.on('end', onEnd);
      // A client created with `lazyConnect` waits for a first command or connect().
      if (redis.status === 'wait') redis.connect().catch(() => {});
    });
    return whenReady;
  };

  return async (what, operation) => {
    if (redis.status === 'end')
      throw new StoreUnavailableError(new Error(`redisStore ${what}: the connection has ended`));
    let timer: NodeJS.Timeout | undefined;
    let expired = false;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        expired = true;
        reject(
          new StoreUnavailableError(
            new Error(
              `redisStore ${what}: no answer from Redis within ${timeoutMs} ms (connection ${redis.status})`,
            ),
          ),
        );
      }, timeoutMs);
    });
    const attempt = async () => {
      if (redis.status !== 'ready') await waitReady();
      if (expired) throw new Error('expired'); // never sent: the caller has its rejection
      return operation();
    };
    try {
      return await Promise.race([attempt(), deadline]);
    } catch (err) {
      throw err instanceof StoreUnavailableError ? err : new StoreUnavailableError(err);
    } finally {
      clearTimeout(timer);
    }
  };
}
