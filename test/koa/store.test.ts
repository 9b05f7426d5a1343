import { memoryStore, type SessionStore } from 'session-process';
import { describe, expect, it } from 'vitest';
import { startApp, type TestApp } from './helpers.js';

let t: TestApp | undefined;
/** A memory store that, like Redis, can only load asynchronously. */
function asyncStore(): SessionStore {
  const inner = memoryStore();
  return {
    name: 'async-memory',
    load: (id) => inner.load(id),
    save: (writes) => inner.save(writes),
    delete: (id) => inner.delete(id),
    due: (until, limit) => inner.due(until, limit),
    quarantine: (id, version, marker) => inner.quarantine(id, version, marker),
    quarantined: (limit) => inner.quarantined(limit),
    close: () => inner.close(),
  };
}

describe('sessionProcess with a store', () => {
  it.each([
    ['a store that loads synchronously', () => memoryStore()],
    ['a store that loads asynchronously', asyncStore],
  ])(
    'brings a passivated session back instead of starting a fresh one, with %s',
    async (_, store) => {
      t = await startApp({ store: store(), passivateAfterMs: 50, durability: 'durable' });
      const browser = t.client();
      const { id } = await browser.json('POST', '/add');
      await browser.json('POST', '/add');
      await expect.poll(() => t!.sessions.count, { timeout: 5_000 }).toBe(0); // passivated
      expect(await browser.json('GET', '/count')).toEqual({ id, count: 2 });
    },
  );
});
