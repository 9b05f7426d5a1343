import { describe, expect, it } from 'vitest';
import { createSessionSupervisor, memoryStore, type SessionStore } from 'session-process';
import { shelf } from './fixtures.js';

/** A memory store whose writes wait until `release()`. */
function heldStore() {
  const inner = memoryStore();
  let open!: () => void;
  let gate = new Promise<void>((r) => (open = r));
  const store: SessionStore = {
    ...inner,
    name: 'held',
    quarantine: (id, version, marker) => inner.quarantine(id, version, marker),
    quarantined: (limit) => inner.quarantined(limit),
    load: (id) => inner.load(id),
    loadSync: (id) => inner.loadSync!(id),
    due: (until, limit) => inner.due(until, limit),
    delete: (id) => inner.delete(id),
    close: () => inner.close(),
    save: async (writes) => {
      await gate;
      return inner.save(writes);
    },
  };
  return {
    store,
    release: () => open(),
    hold: () => {
      gate = new Promise<void>((r) => (open = r));
    },
  };
}

const until = async (fn: () => boolean) => {
  for (let i = 0; i < 500 && !fn(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(fn()).toBe(true);
};

describe("stats().store under 'eventual'", () => {
  it('counts the acknowledged changes not saved yet, until they are', async () => {
    const held = heldStore();
    held.release();
    const sessions = createSessionSupervisor({ logics: { shelf }, store: held.store });
    await sessions.start('a', { logic: 'shelf' });
    await until(() => sessions.stats().store?.unsaved === 0);
    held.hold();
    // Each call is answered at once: acknowledged, not saved.
    for (let i = 0; i < 3; i++) await sessions.call('a', { type: 'put', sku: `s${i}` });
    expect(sessions.stats().store?.unsaved).toBe(3);
    held.release();
    await until(() => sessions.stats().store?.unsaved === 0);
    expect(sessions.stats().store?.lost).toBe(0);
    await sessions.shutdown();
  });

  it('counts as lost the changes shutdown could not save by its deadline', async () => {
    const held = heldStore();
    held.release();
    const sessions = createSessionSupervisor({
      logics: { shelf },
      store: held.store,
      shutdownTimeoutMs: 200,
      onError: () => {},
    });
    await sessions.start('a', { logic: 'shelf' });
    await until(() => sessions.stats().store?.unsaved === 0);
    held.hold();
    await sessions.call('a', { type: 'put', sku: 'x' });
    await sessions.call('a', { type: 'put', sku: 'y' });
    await sessions.shutdown();
    expect(sessions.stats().store?.lost).toBe(2);
  });
});

describe("stats().store under 'durable'", () => {
  it('counts a change whose call still waits for its save', async () => {
    const held = heldStore();
    held.release();
    const sessions = createSessionSupervisor({
      logics: { shelf },
      store: held.store,
      durability: 'durable',
    });
    await sessions.start('a', { logic: 'shelf' });
    await until(() => sessions.stats().store?.unsaved === 0);
    held.hold();
    let answered = false;
    const call = sessions.call('a', { type: 'put', sku: 'x' }).then(() => (answered = true));
    await until(() => sessions.stats().store?.unsaved === 1);
    expect(answered).toBe(false);
    held.release();
    await call;
    expect(sessions.stats().store?.unsaved).toBe(0);
    await sessions.shutdown();
  });
});
