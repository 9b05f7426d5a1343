import assert from 'node:assert/strict';
import type { SessionStore } from '../index.js';
import { concurrencyCases } from './conformance/concurrencyCases.js';
import { type ConformanceSuite, write } from './conformance/ConformanceSuite.js';
import { countCases, versionCountCases } from './conformance/countCases.js';
import { dueCases } from './conformance/dueCases.js';
import { quarantineCases } from './conformance/quarantineCases.js';
import { recordCases } from './conformance/recordCases.js';

/** The parts of vitest's API that {@link storeConformance} registers tests with. */
export interface ConformanceVitestApi {
  describe: (name: string, factory: () => void) => unknown;
  it: (name: string, fn: () => Promise<void>) => unknown;
  afterEach: (fn: () => Promise<void> | void) => unknown;
}

/** Options of {@link storeConformance}. */
export interface StoreConformanceOptions {
  /**
   * The vitest functions to register with. By default vitest's globals when enabled, else the
   * module vitest exposes to its workers.
   */
  vitest?: ConformanceVitestApi;
  /**
   * Whether the store counts its records per logic and version (`versions()`, behind
   * `sessions.versions()`); `false` leaves those cases out for a store without it.
   * @default true
   */
  versions?: boolean;
  /** Runs after each test's store is closed: drop its table or keys, say. */
  dispose?: (store: SessionStore) => Promise<void> | void;
  /**
   * Opens the data of `store` again, as the next process would (the same file, the same key
   * prefix). Given, the suite also checks that what a store persists (the quarantine marker)
   * survives a reopen; the suite closes what it returns.
   * @example
   * ```ts
   * storeConformance('sqliteStore', () => sqliteStore({ path: next() }), {
   *   reopen: (store) => sqliteStore({ path: pathOf(store) }),
   * });
   * ```
   */
  reopen?: (store: SessionStore) => SessionStore | Promise<SessionStore>;
}

/**
 * Registers the vitest tests that every {@link SessionStore} passes: records round-trip as
 * opaque text, every write is a compare-and-set on the version it replaces (a conflict does not
 * stop the other writes of a batch), the due-time index, the quarantine marker (kept, listed,
 * never due, frozen, persisted), concurrent writers, close. The memory,
 * SQLite and Redis stores run it; run it on yours.
 *
 * `createStore` is called once per test and must return an empty store (a fresh table, a unique
 * key prefix); the suite closes it after the test, then calls `dispose`.
 *
 * @example
 * ```ts
 * // test/pgStore.test.ts
 * import { storeConformance } from 'session-process/testing';
 * import { afterEach, describe, it } from 'vitest';
 * import { pgStore } from '../src/pgStore.js';
 *
 * let n = 0;
 * storeConformance('pgStore', () => pgStore({ pool, table: `sessions_test_${process.pid}_${n++}` }), {
 *   vitest: { describe, it, afterEach },
 *   dispose: (store) => (store as ReturnType<typeof pgStore>).drop(),
 * });
 * ```
 */
export function storeConformance(
  name: string,
  createStore: () => SessionStore | Promise<SessionStore>,
  options: StoreConformanceOptions = {},
): void {
  const { describe, it, afterEach } = resolveVitest(options.vitest);
  let opened: SessionStore[] = [];
  const fresh = async () => {
    const store = await createStore();
    opened.push(store);
    return store;
  };
  const test = (title: string, fn: (store: SessionStore) => Promise<void>) =>
    it(title, async () => fn(await fresh()));

  describe(`${name} (store conformance)`, () => {
    afterEach(async () => {
      const stores = opened;
      opened = [];
      for (const store of stores) {
        await store.close();
        await options.dispose?.(store);
      }
    });

    const suite: ConformanceSuite = { describe, test, track: (store) => opened.push(store) };
    recordCases(suite);
    countCases(suite);
    dueCases(suite);
    quarantineCases(suite, options.reopen);
    concurrencyCases(suite);
    if (options.versions !== false) versionCountCases(suite);

    describe('close', () => {
      test('close resolves, twice too, and later operations reject', async (store) => {
        await store.save([write('x', 0, 1, 'x', null)]);
        await store.close();
        await store.close();
        await assert.rejects(store.load('x'));
        await assert.rejects(store.save([write('y', 0, 1, 'y', null)]));
      });
    });
  });
}

/**
 * The vitest API without importing vitest (this module loads outside vitest too), found as
 * `createSessionTestModel`'s `describe()` finds it: given, globals, or `__vitest_index__`.
 */
function resolveVitest(given: ConformanceVitestApi | undefined): ConformanceVitestApi {
  if (given) return given;
  const g = globalThis as Record<string, any>;
  for (const candidate of [g, g.__vitest_index__])
    if (
      candidate &&
      typeof candidate.describe === 'function' &&
      typeof candidate.it === 'function' &&
      typeof candidate.afterEach === 'function'
    )
      return candidate as ConformanceVitestApi;
  throw new Error(
    'storeConformance registers vitest tests: call it in a vitest test file, or pass ' +
      "{ vitest: { describe, it, afterEach } } imported from 'vitest'",
  );
}
