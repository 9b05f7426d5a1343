import type { SessionStore, StoreWrite } from '../../index.js';

/**
 * @internal
 * What each topic of `storeConformance` registers its cases with: vitest's `describe`, a `test`
 * whose function gets a fresh empty store (closed after the test, then disposed), and `track` for
 * a store a case opens itself (closed with the others).
 */
export interface ConformanceSuite {
  describe: (name: string, factory: () => void) => unknown;
  test: (title: string, fn: (store: SessionStore) => Promise<void>) => unknown;
  track: (store: SessionStore) => void;
}

/** @internal One write of a batch, in the order the cases read: expected version, then new. */
export function write(
  id: string,
  expectedVersion: number,
  version: number,
  data: string,
  dueAt: number | null,
): StoreWrite {
  return { id, expectedVersion, version, data, dueAt };
}
