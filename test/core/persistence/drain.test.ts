import { describe, expect, it } from 'vitest';
import { isSessionError, memoryStore, type SessionStore } from 'session-process';
import { shelf } from './fixtures.js';
import { supervisors } from '../../support/supervisors.js';

const supervisor = supervisors({ logics: { shelf } });

/** A memory store that loads only asynchronously, as Redis does. */
function asyncStore(): SessionStore {
  const { loadSync: _, ...store } = memoryStore() as SessionStore & { loadSync?: unknown };
  return store;
}

describe('read', () => {
  it('answers the current snapshot, bringing a stored session back first', async () => {
    const store = asyncStore();
    const sessions = supervisor({ store, durability: 'durable' });
    await sessions.start('c1', { logic: 'shelf' });
    await sessions.call('c1', { type: 'put', sku: 'A1' });
    expect((await sessions.read('c1')).context.items).toEqual(['A1']);
    await sessions.drain();
    expect(sessions.count).toBe(0);
    expect((await sessions.read('c1')).context.items).toEqual(['A1']);
    const err = await sessions.read('c2').catch((e: unknown) => e);
    expect(isSessionError(err, 'SESSION_NOT_FOUND')).toBe(true);
  });
});

describe('status', () => {
  it('says running, stored, rotated or absent without restoring or touching the session', async () => {
    const store = asyncStore();
    const sessions = supervisor({ store, durability: 'durable', rotatedIdTtlMs: 60_000 });
    expect(await sessions.status('s1')).toBe('absent');
    await sessions.start('s1', { logic: 'shelf' });
    const before = sessions.list()[0]!.lastActiveAt;
    await new Promise((r) => setTimeout(r, 5));
    expect(await sessions.status('s1')).toBe('running');
    expect(sessions.list()[0]!.lastActiveAt).toBe(before);

    await sessions.drain();
    expect(await sessions.status('s1')).toBe('stored');
    expect(sessions.count).toBe(0); // not restored by asking

    await sessions.restore('s1');
    await sessions.rename('s1', 's2');
    expect(await sessions.status('s1')).toBe('rotated');
    expect(await sessions.status('s2')).toBe('running');
    await sessions.terminate('s2');
    expect(await sessions.status('s2')).toBe('absent');
  });

  it('answers without a store too', async () => {
    const sessions = supervisor({});
    await sessions.start('m1', { logic: 'shelf' });
    expect(await sessions.status('m1')).toBe('running');
    expect(await sessions.status('m2')).toBe('absent');
    const err = await sessions.status('bad id').catch((e: unknown) => e);
    expect(isSessionError(err, 'INVALID_SESSION_ID')).toBe(true);
  });
});

describe('drain', () => {
  it('saves every session and takes it out of memory, after the calls waiting on it are answered', async () => {
    const store = memoryStore();
    const sessions = supervisor({ store, durability: 'durable' });
    for (const id of ['d1', 'd2', 'd3']) {
      await sessions.start(id, { logic: 'shelf' });
      await sessions.call(id, { type: 'put', sku: id });
    }
    // A call answered only after an invoked payment settles.
    const paying = sessions.call<{ context: { paid: number } }>(
      'd1',
      { type: 'pay' },
      { until: (s) => s.context.paid === 1 },
    );
    sessions.cast('d2', { type: 'add', sku: 'late' }); // a change not saved yet
    expect(await sessions.drain()).toBe(3);
    expect(sessions.count).toBe(0);
    expect((await paying).context.paid).toBe(1);

    // Everything is in the store: another process brings each back as it was.
    const next = supervisor({ store });
    expect((await next.read('d1')).context.paid).toBe(1);
    expect((await next.read('d2')).context.items).toEqual(['d2', 'late']);
    expect((await next.read('d3')).context.items).toEqual(['d3']);
  });

  it('hands over nothing without a store', async () => {
    const sessions = supervisor({});
    await sessions.start('n1', { logic: 'shelf' });
    expect(await sessions.drain()).toBe(0);
    expect(sessions.count).toBe(1);
  });
});
