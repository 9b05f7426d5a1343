import assert from 'node:assert/strict';
import { type ConformanceSuite, write } from './ConformanceSuite.js';

/** @internal Records round-trip as opaque text; every write is a compare-and-set on its version. */
export function recordCases({ describe, test }: ConformanceSuite): void {
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
}
