import { afterEach, describe, expect, it } from 'vitest';
import {
  createSessionSupervisor,
  isSessionError,
  memoryStore,
  type SessionStore,
  type SessionSupervisor,
} from 'session-process';
import { shelf } from './fixtures.js';

const open: SessionSupervisor[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.shutdown();
});
function supervisor(store: SessionStore, options: { wakeIntervalMs?: number } = {}) {
  const s = createSessionSupervisor({
    logics: { shelf },
    store,
    durability: 'durable',
    maxStoredSessions: 3,
    maxSessions: 100,
    onError: () => {},
    ...options,
  });
  open.push(s);
  return s;
}
const passivate = (s: SessionSupervisor, id: string) =>
  (s as unknown as { passivate(id: string): Promise<boolean> }).passivate(id);
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('maxStoredSessions', () => {
  it('refuses a start beyond it with passivated sessions counted, and admits one once a record is deleted', async () => {
    const store = memoryStore();
    const s = supervisor(store, { wakeIntervalMs: 50 });
    for (const id of ['a', 'b', 'c']) {
      await s.start(id, { logic: 'shelf' });
      await s.call(id, { type: 'put', sku: id });
      expect(await passivate(s, id)).toBe(true);
    }
    expect(s.count).toBe(0);
    expect(store.size).toBe(3);

    const refused = await failure(s.start('d', { logic: 'shelf' }));
    expect(isSessionError(refused, 'SESSION_LIMIT_REACHED')).toBe(true);
    expect(
      isSessionError(await failure(s.ensure('d', { logic: 'shelf' })), 'SESSION_LIMIT_REACHED'),
    ).toBe(true);
    expect(s.stats().refused).toBe(2);
    // Stored sessions still come back: the bound is on new ones.
    expect(await s.call('a', { type: 'count' })).toBe(1);

    await s.terminate('a');
    await expect
      .poll(async () => (await failure(s.start('d', { logic: 'shelf' }))) === undefined, {
        timeout: 5_000,
      })
      .toBe(true);
    expect(s.started('d')).toBe(true);
  });

  it('counts what an earlier process stored', async () => {
    const store = memoryStore();
    const first = supervisor(store);
    for (const id of ['a', 'b', 'c']) await first.start(id, { logic: 'shelf' });
    await first.shutdown();

    const next = supervisor(store);
    expect(
      isSessionError(await failure(next.start('d', { logic: 'shelf' })), 'SESSION_LIMIT_REACHED'),
    ).toBe(true);
  });

  it('does not let concurrent starts overshoot it', async () => {
    const s = supervisor(memoryStore());
    const outcomes = await Promise.all(
      ['a', 'b', 'c', 'd', 'e'].map((id) => failure(s.start(id, { logic: 'shelf' }))),
    );
    expect(outcomes.filter((o) => o === undefined)).toHaveLength(3);
  });

  it('needs a store that can count', () => {
    const { count: _, ...uncounted } = memoryStore();
    expect(() => supervisor(uncounted as SessionStore)).toThrow(/count\(\)/);
    expect(() => createSessionSupervisor({ logics: { shelf }, maxStoredSessions: 3 })).toThrow(
      /needs a store/,
    );
  });
});
