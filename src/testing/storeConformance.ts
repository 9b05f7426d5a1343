import assert from 'node:assert/strict';
import type { SessionStore, StoreWrite } from '../index.js';

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

    describe('load, save and delete', () => {
      test('load answers undefined for an unknown id', async (store) => {
        assert.equal(await store.load('nobody'), undefined);
      });

      test('a saved record loads back as it was written', async (store) => {
        const data = JSON.stringify({ value: 'cart', context: { items: [{ sku: 'A1', qty: 2 }] } });
        assert.deepEqual(await store.save([write('s1', 0, 1, data, 1_000)]), ['ok']);
        assert.deepEqual(await store.load('s1'), { id: 's1', version: 1, data, dueAt: 1_000 });
      });

      test('data is opaque text: unicode, escapes and raw control characters survive', async (store) => {
        const data = `${JSON.stringify({ s: 'é漢字🛒\u2028"\\\n\t\u0000\u{10FFFF}' })} 🛒\n\r'"\\`;
        await store.save([write('u', 0, 1, data, null)]);
        assert.equal((await store.load('u'))?.data, data);
      });

      test('a 100 KB record round-trips', async (store) => {
        const data = JSON.stringify({ blob: 'x€'.repeat(50_000) });
        assert.ok(data.length > 100_000);
        await store.save([write('big', 0, 1, data, null)]);
        assert.equal((await store.load('big'))?.data, data);
      });

      test('ids of 128 characters with - and _ are distinct keys', async (store) => {
        const a = `${'a'.repeat(126)}-_`;
        const b = `${'a'.repeat(126)}_-`;
        await store.save([write(a, 0, 1, 'A', null), write(b, 0, 1, 'B', null)]);
        assert.equal((await store.load(a))?.data, 'A');
        assert.equal((await store.load(b))?.data, 'B');
      });

      test('versions up to 2^53 - 1 round-trip exactly', async (store) => {
        const big = Number.MAX_SAFE_INTEGER;
        await store.save([write('v', 0, big - 1, 'a', null)]);
        assert.deepEqual(await store.save([write('v', big - 1, big, 'b', null)]), ['ok']);
        assert.equal((await store.load('v'))?.version, big);
      });

      test('a write replaces the record it expects', async (store) => {
        await store.save([write('s', 0, 1, 'one', 5)]);
        assert.deepEqual(await store.save([write('s', 1, 2, 'two', null)]), ['ok']);
        assert.deepEqual(await store.load('s'), { id: 's', version: 2, data: 'two', dueAt: null });
      });

      test('delete removes the record, and a new one can be written from version 0', async (store) => {
        await store.save([write('d', 0, 1, 'x', null)]);
        await store.delete('d');
        assert.equal(await store.load('d'), undefined);
        assert.deepEqual(await store.save([write('d', 0, 1, 'again', null)]), ['ok']);
        assert.equal((await store.load('d'))?.data, 'again');
      });

      test('delete of an unknown id resolves', async (store) => {
        await store.delete('nobody');
      });

      test('an empty batch resolves to no results', async (store) => {
        assert.deepEqual(await store.save([]), []);
      });
    });

    describe('versions (compare-and-set)', () => {
      test('a new record (expectedVersion 0) conflicts with an existing one', async (store) => {
        await store.save([write('c', 0, 1, 'first', null)]);
        assert.deepEqual(await store.save([write('c', 0, 1, 'second', null)]), ['conflict']);
        assert.equal((await store.load('c'))?.data, 'first');
      });

      test('a stale write conflicts and leaves the record unchanged', async (store) => {
        await store.save([write('c', 0, 1, 'v1', 10)]);
        await store.save([write('c', 1, 2, 'v2', 20)]);
        assert.deepEqual(await store.save([write('c', 1, 3, 'stale', 30)]), ['conflict']);
        assert.deepEqual(await store.load('c'), { id: 'c', version: 2, data: 'v2', dueAt: 20 });
      });

      test('a write expecting a record that does not exist conflicts', async (store) => {
        assert.deepEqual(await store.save([write('ghost', 3, 4, 'x', null)]), ['conflict']);
        assert.equal(await store.load('ghost'), undefined);
      });

      test('a conflicting write in a batch does not stop the others; results keep their order', async (store) => {
        await store.save([write('b', 0, 1, 'b1', null)]);
        const results = await store.save([
          write('a', 0, 1, 'a1', null),
          write('b', 0, 1, 'clash', null),
          write('c', 0, 1, 'c1', null),
          write('b', 7, 8, 'stale', null),
        ]);
        assert.deepEqual(results, ['ok', 'conflict', 'ok', 'conflict']);
        assert.equal((await store.load('a'))?.data, 'a1');
        assert.equal((await store.load('b'))?.data, 'b1');
        assert.equal((await store.load('c'))?.data, 'c1');
      });

      test('writes of one session in one batch apply in order', async (store) => {
        const results = await store.save([
          write('o', 0, 1, 'one', null),
          write('o', 1, 2, 'two', null),
        ]);
        assert.deepEqual(results, ['ok', 'ok']);
        assert.equal((await store.load('o'))?.version, 2);
      });
    });

    describe('count (optional: maxStoredSessions needs it)', () => {
      test('count() counts the records written and not deleted', async (store) => {
        if (store.count === undefined) return;
        assert.equal(await store.count(), 0);
        await store.save([write('a', 0, 1, 'x', null), write('b', 0, 1, 'y', 5)]);
        await store.save([write('a', 1, 2, 'x2', null), write('b', 0, 1, 'dup', null)]);
        assert.equal(await store.count(), 2);
        await store.delete('a');
        assert.equal(await store.count(), 1);
      });
    });

    describe('due-time index', () => {
      test('due lists records due at or before `until`, earliest first, at most `limit`', async (store) => {
        await store.save([
          write('late', 0, 1, 'x', 3_000),
          write('early', 0, 1, 'x', 1_000),
          write('mid', 0, 1, 'x', 2_000),
          write('future', 0, 1, 'x', 9_000),
        ]);
        assert.deepEqual(await store.due(3_000, 10), [
          { id: 'early', dueAt: 1_000 },
          { id: 'mid', dueAt: 2_000 },
          { id: 'late', dueAt: 3_000 },
        ]);
        assert.deepEqual(await store.due(3_000, 2), [
          { id: 'early', dueAt: 1_000 },
          { id: 'mid', dueAt: 2_000 },
        ]);
        assert.deepEqual(await store.due(999, 10), []);
      });

      test('a record with a null dueAt is never due', async (store) => {
        await store.save([write('never', 0, 1, 'x', null), write('soon', 0, 1, 'x', 5)]);
        assert.deepEqual(await store.due(Number.MAX_SAFE_INTEGER, 10), [{ id: 'soon', dueAt: 5 }]);
      });

      test('an update moves or clears the due time', async (store) => {
        await store.save([write('m', 0, 1, 'x', 1_000), write('n', 0, 1, 'x', 1_000)]);
        await store.save([write('m', 1, 2, 'x', 5_000), write('n', 1, 2, 'x', null)]);
        assert.deepEqual(await store.due(4_000, 10), []);
        assert.deepEqual(await store.due(5_000, 10), [{ id: 'm', dueAt: 5_000 }]);
        await store.save([write('n', 2, 3, 'x', 100)]);
        assert.deepEqual(await store.due(4_000, 10), [{ id: 'n', dueAt: 100 }]);
      });

      test('a conflicting write does not change the due time', async (store) => {
        await store.save([write('k', 0, 1, 'x', 1_000)]);
        await store.save([write('k', 0, 1, 'x', 10), write('k', 5, 6, 'x', null)]);
        assert.deepEqual(await store.due(2_000, 10), [{ id: 'k', dueAt: 1_000 }]);
      });

      test('a deleted record is not due', async (store) => {
        await store.save([write('gone', 0, 1, 'x', 10), write('kept', 0, 1, 'x', 20)]);
        await store.delete('gone');
        assert.deepEqual(await store.due(1_000, 10), [{ id: 'kept', dueAt: 20 }]);
      });

      test('stale entries do not crowd out due ones under a small limit', async (store) => {
        const ids = Array.from({ length: 5 }, (_, i) => `t${i}`);
        await store.save(ids.map((id, i) => write(id, 0, 1, 'x', 10 + i)));
        for (const id of ids.slice(0, 4)) await store.delete(id);
        await store.save([write('t4', 1, 2, 'x', 50)]);
        assert.deepEqual(await store.due(1_000, 1), [{ id: 't4', dueAt: 50 }]);
      });
    });

    describe('quarantine', () => {
      const marker = { at: 1_700_000_000_000, reason: 'unknown state "removed"' };

      test('a quarantined record stays under its id with its marker, and is listed', async (store) => {
        await store.save([write('q', 0, 1, 'broken', 10), write('ok', 0, 1, 'fine', 20)]);
        assert.equal(await store.quarantine('q', 1, marker), 'ok');
        assert.deepEqual(await store.load('q'), {
          id: 'q',
          version: 1,
          data: 'broken',
          dueAt: null,
          quarantine: marker,
        });
        assert.deepEqual(await store.load('ok'), { id: 'ok', version: 1, data: 'fine', dueAt: 20 });
        assert.deepEqual(await store.quarantined(10), [
          { id: 'q', quarantinedAt: marker.at, reason: marker.reason },
        ]);
      });

      test('a quarantined record is never due', async (store) => {
        await store.save([write('q', 0, 1, 'x', 10), write('ok', 0, 1, 'x', 20)]);
        await store.quarantine('q', 1, marker);
        assert.deepEqual(await store.due(Number.MAX_SAFE_INTEGER, 10), [{ id: 'ok', dueAt: 20 }]);
        assert.deepEqual(await store.due(Number.MAX_SAFE_INTEGER, 1), [{ id: 'ok', dueAt: 20 }]);
      });

      test('a quarantined record is frozen: saves to it conflict', async (store) => {
        await store.save([write('q', 0, 1, 'x', 10)]);
        await store.quarantine('q', 1, marker);
        assert.deepEqual(
          await store.save([write('q', 1, 2, 'y', 30), write('q', 0, 1, 'z', null)]),
          ['conflict', 'conflict'],
        );
        assert.equal((await store.load('q'))?.data, 'x');
        assert.deepEqual(await store.due(Number.MAX_SAFE_INTEGER, 10), []);
      });

      test('quarantine conflicts for an unknown id, another version, or a second time', async (store) => {
        await store.save([write('q', 0, 1, 'x', 10)]);
        assert.equal(await store.quarantine('nobody', 1, marker), 'conflict');
        assert.equal(await store.load('nobody'), undefined);
        assert.equal(await store.quarantine('q', 2, marker), 'conflict');
        assert.equal((await store.load('q'))?.quarantine, undefined);
        const tries = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store.quarantine('q', 1, { at: marker.at + i, reason: `r${i}` }),
          ),
        );
        assert.equal(tries.filter((r) => r === 'ok').length, 1);
        const first = tries.indexOf('ok');
        assert.deepEqual((await store.load('q'))?.quarantine, {
          at: marker.at + first,
          reason: `r${first}`,
        });
      });

      test('delete removes a quarantined record, its listing and its marker', async (store) => {
        await store.save([write('q', 0, 1, 'x', 10)]);
        await store.quarantine('q', 1, marker);
        await store.delete('q');
        assert.equal(await store.load('q'), undefined);
        assert.deepEqual(await store.quarantined(10), []);
        assert.deepEqual(await store.save([write('q', 0, 1, 'new', 5)]), ['ok']);
        assert.deepEqual(await store.load('q'), { id: 'q', version: 1, data: 'new', dueAt: 5 });
      });

      test('quarantined lists the oldest quarantine first, at most `limit`', async (store) => {
        const ids = ['a', 'b', 'c', 'd'];
        await store.save(ids.map((id) => write(id, 0, 1, 'x', 1)));
        for (const [i, at] of [40, 10, 30, 20].entries())
          await store.quarantine(ids[i]!, 1, { at, reason: `r${at}` });
        assert.deepEqual(await store.quarantined(3), [
          { id: 'b', quarantinedAt: 10, reason: 'r10' },
          { id: 'd', quarantinedAt: 20, reason: 'r20' },
          { id: 'c', quarantinedAt: 30, reason: 'r30' },
        ]);
      });

      if (options.reopen) {
        const reopen = options.reopen;
        test('the marker survives a reopen of the store', async (store) => {
          await store.save([write('q', 0, 1, 'x', 10), write('ok', 0, 1, 'y', 20)]);
          await store.quarantine('q', 1, marker);
          const again = await reopen(store);
          opened.push(again);
          assert.deepEqual((await again.load('q'))?.quarantine, marker);
          assert.deepEqual(await again.due(Number.MAX_SAFE_INTEGER, 10), [{ id: 'ok', dueAt: 20 }]);
          assert.deepEqual(await again.quarantined(10), [
            { id: 'q', quarantinedAt: marker.at, reason: marker.reason },
          ]);
        });
      }
    });

    describe('concurrency', () => {
      test('of 100 concurrent creations of one id, exactly one is ok', async (store) => {
        const results = await Promise.all(
          Array.from({ length: 100 }, (_, i) => store.save([write('race', 0, 1, `w${i}`, null)])),
        );
        const oks = results.flat().filter((r) => r === 'ok');
        assert.equal(oks.length, 1);
        const winner = results.findIndex((r) => r[0] === 'ok');
        assert.equal((await store.load('race'))?.data, `w${winner}`);
      });

      test('of 100 concurrent updates expecting the same version, exactly one is ok', async (store) => {
        await store.save([write('race', 0, 1, 'base', null)]);
        const results = await Promise.all(
          Array.from({ length: 100 }, (_, i) => store.save([write('race', 1, 2, `w${i}`, i)])),
        );
        assert.equal(results.flat().filter((r) => r === 'ok').length, 1);
        const winner = results.findIndex((r) => r[0] === 'ok');
        assert.deepEqual(await store.load('race'), {
          id: 'race',
          version: 2,
          data: `w${winner}`,
          dueAt: winner,
        });
      });

      test('concurrent saves and loads of different ids all succeed', async (store) => {
        const ids = Array.from({ length: 200 }, (_, i) => `p${i}`);
        const saved = await Promise.all(ids.map((id) => store.save([write(id, 0, 1, id, null)])));
        assert.ok(saved.every((r) => r[0] === 'ok'));
        const loaded = await Promise.all(ids.map((id) => store.load(id)));
        assert.deepEqual(
          loaded.map((r) => r?.data),
          ids,
        );
      });
    });

    if (options.versions !== false)
      describe('counts per logic and version', () => {
        const rec = (logic: string, logicVersion?: string) =>
          JSON.stringify({
            format: 1,
            logic,
            ...(logicVersion ? { logicVersion } : {}),
            snapshot: {},
          });
        test('versions counts the records of each logic and version, updates and deletes included', async (store) => {
          assert.equal(typeof store.versions, 'function', 'the store has no versions()');
          assert.deepEqual(await store.versions!(), []);
          await store.save([
            write('a', 0, 1, rec('cart', '1'), null),
            write('b', 0, 1, rec('cart', '1'), 5),
            write('c', 0, 1, rec('cart', '2'), null),
            write('d', 0, 1, rec('counter'), null),
          ]);
          // `a` moves to version 2 (a migrated session written again); `b` ends.
          await store.save([write('a', 1, 2, rec('cart', '2'), null)]);
          await store.delete('b');
          const rows = (await store.versions!()).map((r) => ({ ...r }));
          rows.sort((x, y) => `${x.logic} ${x.version}`.localeCompare(`${y.logic} ${y.version}`));
          assert.deepEqual(rows, [
            { logic: 'cart', version: '2', count: 2 },
            { logic: 'counter', version: null, count: 1 },
          ]);
        });
      });

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

function write(
  id: string,
  expectedVersion: number,
  version: number,
  data: string,
  dueAt: number | null,
): StoreWrite {
  return { id, expectedVersion, version, data, dueAt };
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
