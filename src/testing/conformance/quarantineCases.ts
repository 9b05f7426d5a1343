import assert from 'node:assert/strict';
import type { SessionStore } from '../../index.js';
import { type ConformanceSuite, write } from './ConformanceSuite.js';

/**
 * @internal The quarantine marker: kept with the record, listed, never due, frozen, and (with
 * `reopen`) persisted.
 */
export function quarantineCases(
  { describe, test, track }: ConformanceSuite,
  reopen: ((store: SessionStore) => SessionStore | Promise<SessionStore>) | undefined,
): void {
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
      assert.deepEqual(await store.save([write('q', 1, 2, 'y', 30), write('q', 0, 1, 'z', null)]), [
        'conflict',
        'conflict',
      ]);
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

    if (reopen) {
      test('the marker survives a reopen of the store', async (store) => {
        await store.save([write('q', 0, 1, 'x', 10), write('ok', 0, 1, 'y', 20)]);
        await store.quarantine('q', 1, marker);
        const again = await reopen(store);
        track(again);
        assert.deepEqual((await again.load('q'))?.quarantine, marker);
        assert.deepEqual(await again.due(Number.MAX_SAFE_INTEGER, 10), [{ id: 'ok', dueAt: 20 }]);
        assert.deepEqual(await again.quarantined(10), [
          { id: 'q', quarantinedAt: marker.at, reason: marker.reason },
        ]);
      });
    }
  });
}
