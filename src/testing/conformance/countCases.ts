import assert from 'node:assert/strict';
import { type ConformanceSuite, write } from './ConformanceSuite.js';

/** @internal `count()`, which maxStoredSessions needs (a store without it skips the case). */
export function countCases({ describe, test }: ConformanceSuite): void {
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
}

/** @internal `versions()`: the records of each logic and version, behind `sessions.versions()`. */
export function versionCountCases({ describe, test }: ConformanceSuite): void {
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
}
