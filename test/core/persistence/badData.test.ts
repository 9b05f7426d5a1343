import { describe, expect, it } from 'vitest';
import {
  isSessionError,
  memoryStore,
  type SessionRecord,
  type SessionStore,
} from 'session-process';
import { shelf } from './fixtures.js';
import { supervisors } from '../../support/supervisors.js';

const supervisor = supervisors();
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as Error & { code?: string },
  );

/** A store holding `good` (a healthy cart) and `bad`, whose record `spoil` rewrites. */
async function storeWith(spoil: (record: SessionRecord) => string): Promise<SessionStore> {
  const store = memoryStore();
  const s = supervisor({ logics: { shelf }, store });
  await s.start('good', { logic: 'shelf' });
  await s.start('bad', { logic: 'shelf' });
  s.cast('good', { type: 'add', sku: 'G' });
  await s.shutdown();
  const stored = (await store.load('bad'))!;
  const data = spoil(JSON.parse(stored.data) as SessionRecord);
  await store.save([
    { ...stored, expectedVersion: stored.version, version: stored.version + 1, data },
  ]);
  return store;
}

describe('a record that cannot be restored', () => {
  it.each([
    ['corrupt JSON', () => '{"format":1,"id":"bad",', /JSON/],
    ['an unknown logic', (r: SessionRecord) => JSON.stringify({ ...r, logic: 'gone' }), /gone/],
    [
      'a state the machine no longer has',
      (r: SessionRecord) =>
        JSON.stringify({ ...r, snapshot: { ...(r.snapshot as object), value: 'removed' } }),
      /removed/,
    ],
    ['a record missing its fields', () => JSON.stringify({ format: 1, id: 'bad' }), /malformed/],
  ])(
    'with %s fails that session with SESSION_RESTORE_FAILED, quarantines the record, and others run on',
    async (_what, spoil, cause) => {
      const store = await storeWith(spoil);
      const kept = await store.load('bad');
      const errors: unknown[] = [];
      const s = supervisor({ logics: { shelf }, store, onError: (e) => errors.push(e) });

      const err = await failure(s.call('bad', { type: 'count' }));
      expect(isSessionError(err, 'SESSION_RESTORE_FAILED')).toBe(true);
      expect(String(err?.cause)).toMatch(cause);
      expect(() => s.snapshot('bad')).toThrow(
        expect.objectContaining({ code: 'SESSION_RESTORE_FAILED' }),
      );
      // Quarantined in the store: kept under its ID, out of the due index, reported once.
      await expect
        .poll(async () => (await store.load('bad'))?.quarantine)
        .toEqual({ at: expect.any(Number), reason: expect.stringMatching(cause) });
      expect(await store.load('bad')).toMatchObject({ data: kept!.data, version: kept!.version });
      expect(await store.due(Number.MAX_SAFE_INTEGER, 10)).not.toContainEqual(
        expect.objectContaining({ id: 'bad' }),
      );
      await failure(s.call('bad', { type: 'count' }));
      expect(s.touch('bad')).toBe(false);
      expect(errors.filter((e) => isSessionError(e, 'SESSION_RESTORE_FAILED'))).toHaveLength(1);
      expect(await s.quarantined()).toEqual([
        { id: 'bad', quarantinedAt: expect.any(Number), reason: expect.stringMatching(cause) },
      ]);

      expect(await s.call('good', { type: 'count' })).toBe(1);
      await s.start('fresh', { logic: 'shelf' });
      expect(await s.call('fresh', { type: 'count' })).toBe(0);
    },
  );

  it('is upgraded by migrate before it is restored', async () => {
    const store = await storeWith((r) =>
      JSON.stringify({
        ...r,
        logic: 'oldShelf',
        snapshot: { ...(r.snapshot as object), value: 'opened' },
      }),
    );
    const s = supervisor({
      logics: { shelf },
      store,
      migrate: (record) =>
        record.logic === 'oldShelf'
          ? {
              ...record,
              logic: 'shelf',
              snapshot: { ...(record.snapshot as object), value: 'open' },
            }
          : record,
    });
    expect(await s.call('bad', { type: 'count' })).toBe(0);
    expect(s.snapshot('bad').value).toBe('open');
  });
});

describe('a store that is down', () => {
  /** A memory store that fails every operation while `down` is set. */
  function flaky() {
    const inner = memoryStore();
    const state = { down: false };
    const guard =
      <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
      async (...a: A): Promise<R> => {
        if (state.down) throw new Error('connection refused');
        return fn(...a);
      };
    const store: SessionStore = {
      name: 'flaky',
      load: guard(inner.load),
      save: guard(inner.save),
      delete: guard(inner.delete),
      due: guard(inner.due),
      quarantine: guard(inner.quarantine),
      quarantined: guard(inner.quarantined),
      close: inner.close,
    };
    return { store, state };
  }

  it('gives STORE_UNAVAILABLE for a stored session, not a hang or a crash, and recovers', async () => {
    const { store, state } = flaky();
    const first = supervisor({ logics: { shelf }, store });
    await first.start('s', { logic: 'shelf' });
    first.cast('s', { type: 'add', sku: 'A' });
    await first.shutdown();
    state.down = true;
    const second = supervisor({ logics: { shelf }, store });
    const err = await failure(second.call('s', { type: 'count' }));
    expect(err?.code).toBe('STORE_UNAVAILABLE');
    expect(String(err?.message)).toMatch(/connection refused/);
    state.down = false;
    expect(await second.call('s', { type: 'count' })).toBe(1);
  });

  it('rejects durable calls with STORE_UNAVAILABLE while it is down, and saves once it is back', async () => {
    const { store, state } = flaky();
    const s = supervisor({ logics: { shelf }, store, durability: 'durable' });
    await s.start('d', { logic: 'shelf' });
    expect(await s.call('d', { type: 'put', sku: 'A' })).toBe(1);
    state.down = true;
    const err = await failure(s.call('d', { type: 'put', sku: 'B' }));
    expect(err?.code).toBe('STORE_UNAVAILABLE');
    state.down = false;
    expect(await s.call('d', { type: 'put', sku: 'C' })).toBe(3);
    const record = JSON.parse((await store.load('d'))!.data) as SessionRecord;
    expect((record.snapshot as { context: { items: string[] } }).context.items).toEqual([
      'A',
      'B',
      'C',
    ]);
  });
});
