import assert from 'node:assert/strict';
import { type ConformanceSuite, write } from './ConformanceSuite.js';

/** @internal Concurrent writers of one id (exactly one wins) and of many ids (all succeed). */
export function concurrencyCases({ describe, test }: ConformanceSuite): void {
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
}
