import assert from 'node:assert/strict';
import { type ConformanceSuite, write } from './ConformanceSuite.js';

/** @internal The due-time index the waker reads: `due(until, limit)`. */
export function dueCases({ describe, test }: ConformanceSuite): void {
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
}
