import { describe, expect, it } from 'vitest';
import {
  createSessionSupervisor,
  isSessionError,
  memoryStore,
  type SessionStore,
} from 'session-process';
import { shelf } from './fixtures.js';

/** A memory store whose writes fail synchronously once `broken` is set (as libsql does). */
function breakableStore(error: Error) {
  const inner = memoryStore();
  let saves = 0;
  const state = { broken: false, saves: () => saves };
  const store: SessionStore = {
    ...inner,
    name: 'breakable',
    load: (id) => inner.load(id),
    loadSync: (id) => inner.loadSync!(id),
    due: (until, limit) => inner.due(until, limit),
    delete: (id) => inner.delete(id),
    close: () => inner.close(),
    save(writes) {
      saves++;
      if (state.broken) throw error;
      return inner.save(writes);
    },
  };
  return { store, state };
}

function diskFull(): Error {
  return Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
}

describe('shutdown with a store that fails', () => {
  it('returns within shutdownTimeoutMs and reports each session it could not save, with the real cause', async () => {
    const { store, state } = breakableStore(diskFull());
    const errors: Array<{ error: unknown; sessionId: string | undefined }> = [];
    const sessions = createSessionSupervisor({
      logics: { shelf },
      store,
      shutdownTimeoutMs: 1_000,
      onError: (error, info) => errors.push({ error, sessionId: info.sessionId }),
    });
    await sessions.start('a', { logic: 'shelf' });
    await sessions.start('b', { logic: 'shelf' });
    await new Promise((r) => setTimeout(r, 50)); // both saved once
    state.broken = true;
    sessions.cast('a', { type: 'add', sku: 'A1' });
    sessions.cast('b', { type: 'add', sku: 'B1' });

    // A timer keeps firing while shutdown waits: the event loop is not starved.
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 20);
    const started = performance.now();
    const outcome = await Promise.race([
      sessions.shutdown().then(() => 'returned'),
      new Promise((r) => setTimeout(() => r('hung'), 10_000)),
    ]);
    const tookMs = performance.now() - started;
    clearInterval(ticker);

    expect(outcome).toBe('returned');
    expect(tookMs).toBeLessThan(5_000);
    expect(tookMs).toBeGreaterThanOrEqual(900);
    expect(ticks).toBeGreaterThan(5);
    // Retries back off on timers: a handful of attempts in a second, not a hot loop.
    expect(state.saves()).toBeLessThan(30);
    const unsaved = errors.filter((e) => e.sessionId !== undefined).map((e) => e.sessionId);
    expect(unsaved.sort()).toEqual(['a', 'b']);
    for (const { error } of errors) {
      expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
      expect((error as Error & { cause: { code?: string } }).cause.code).toBe('SQLITE_FULL');
    }
  });

  it('returns at once when the store is healthy: shutdownTimeoutMs is a bound, not a wait', async () => {
    const { store } = breakableStore(diskFull());
    const sessions = createSessionSupervisor({
      logics: { shelf },
      store,
      shutdownTimeoutMs: 5_000,
    });
    await sessions.start('a', { logic: 'shelf' });
    sessions.cast('a', { type: 'add', sku: 'A1' });
    const started = performance.now();
    await sessions.shutdown();
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(JSON.parse((await store.load('a'))!.data).snapshot.context.items).toEqual(['A1']);
  });

  it('returns within shutdownTimeoutMs when a write never settles', async () => {
    const { store } = breakableStore(diskFull());
    const errors: unknown[] = [];
    const sessions = createSessionSupervisor({
      logics: { shelf },
      store: { ...store, save: () => new Promise(() => {}) },
      shutdownTimeoutMs: 300,
      onError: (error) => errors.push(error),
    });
    await sessions.start('a', { logic: 'shelf' });
    const outcome = await Promise.race([
      sessions.shutdown().then(() => 'returned'),
      new Promise((r) => setTimeout(() => r('hung'), 5_000)),
    ]);
    expect(outcome).toBe('returned');
    expect(errors.some((e) => isSessionError(e, 'STORE_UNAVAILABLE'))).toBe(true);
  });

  it('refuses a shutdownTimeoutMs that is not a positive number', () => {
    expect(() => createSessionSupervisor({ logics: { shelf }, shutdownTimeoutMs: 0 })).toThrow(
      /shutdownTimeoutMs/,
    );
  });
});
