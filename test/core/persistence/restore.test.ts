import { describe, expect, it, vi } from 'vitest';
import {
  isSessionError,
  memoryStore,
  type SessionMessage,
  type SessionSupervisor,
} from 'session-process';
import { shelf, shelfCharges } from './fixtures.js';
import { supervisors } from '../../support/supervisors.js';

const supervisor = supervisors({ logics: { shelf } });
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (isSessionError(e) ? e.code : String(e)),
  );

describe('a stored session', () => {
  it('outlives its supervisor and comes back on first use, state and version kept', async () => {
    const store = memoryStore();
    const first = supervisor({ store });
    await first.start('cart-1', { logic: 'shelf' });
    first.cast('cart-1', { type: 'add', sku: 'A1' });
    expect(await first.call('cart-1', { type: 'count' })).toBe(1);
    const version = first.snapshot('cart-1').version;
    await first.shutdown();

    const second = supervisor({ store });
    expect(second.count).toBe(0);
    expect(second.started('cart-1')).toBe(true);
    expect(await second.call('cart-1', { type: 'count' })).toBe(1);
    expect(second.snapshot('cart-1').context.items).toEqual(['A1']);
    expect(second.snapshot('cart-1').version).toBeGreaterThanOrEqual(version);
  });

  it.each([
    ['snapshot', (s: SessionSupervisor) => s.snapshot('c').context.items],
    ['cast', (s: SessionSupervisor) => s.cast('c', { type: 'add', sku: 'B' })],
    ['touch', (s: SessionSupervisor) => s.touch('c')],
    ['subscribe', (s: SessionSupervisor) => s.subscribe('c', () => {})],
    ['ensure', (s: SessionSupervisor) => s.ensure('c', { logic: 'shelf' })],
    ['restore', (s: SessionSupervisor) => s.restore('c')],
  ])('is reached by %s as if it had never left', async (_name, use) => {
    const store = memoryStore();
    const first = supervisor({ store });
    await first.start('c', { logic: 'shelf' });
    first.cast('c', { type: 'add', sku: 'A' });
    await first.shutdown();
    const second = supervisor({ store });
    await use(second);
    expect(second.count).toBe(1);
    expect(second.snapshot('c').context.items[0]).toBe('A');
  });

  it('refuses start on a stored ID with SESSION_ALREADY_STARTED', async () => {
    const store = memoryStore();
    const first = supervisor({ store });
    await first.start('taken', { logic: 'shelf' });
    await first.shutdown();
    const second = supervisor({ store });
    expect(await codeOf(second.start('taken', { logic: 'shelf' }))).toBe('SESSION_ALREADY_STARTED');
  });

  it('is deleted by terminate, in memory or not', async () => {
    const store = memoryStore();
    const first = supervisor({ store });
    await first.start('a', { logic: 'shelf' });
    await first.start('b', { logic: 'shelf' });
    await first.terminate('a');
    expect(await store.load('a')).toBeUndefined();
    await first.shutdown();
    const second = supervisor({ store });
    await second.terminate('b');
    expect(await store.load('b')).toBeUndefined();
    expect(second.started('b')).toBe(false);
    expect(await codeOf(second.call('b', { type: 'count' }))).toBe('SESSION_NOT_FOUND');
  });

  it('keeps its record when the supervisor shuts down, and tells subscribers shutdown', async () => {
    const store = memoryStore();
    const s = supervisor({ store });
    await s.start('k', { logic: 'shelf' });
    const seen: SessionMessage[] = [];
    s.subscribe('k', (m) => seen.push(m));
    await s.shutdown();
    expect(seen.at(-1)).toMatchObject({ type: 'ended', reason: 'shutdown' });
    expect(await store.load('k')).toBeDefined();
  });

  it('runs an invocation that was running when it was saved again after the restore', async () => {
    const store = memoryStore();
    const first = supervisor({ store });
    await first.start('p', { logic: 'shelf' });
    const before = shelfCharges.count;
    first.cast('p', { type: 'pay' });
    await first.shutdown(); // saved while paying
    const second = supervisor({ store });
    expect(second.snapshot('p').value).toBe('paying');
    await vi.waitFor(() =>
      expect(second.snapshot('p')).toMatchObject({ value: 'open', context: { paid: 1 } }),
    );
    expect(shelfCharges.count).toBe(before + 2);
  });

  it('moves its record with rename', async () => {
    const store = memoryStore();
    const s = supervisor({ store });
    await s.start('old', { logic: 'shelf' });
    s.cast('old', { type: 'add', sku: 'R' });
    await s.rename('old', 'new');
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(await store.load('old')).toBeUndefined();
    expect(JSON.parse((await store.load('new'))!.data).snapshot.context.items).toEqual(['R']);
  });

  it('keeps running under its new ID when it is renamed while a save of the old ID is in flight', async () => {
    // The shop's login: a fresh cart's first save still on its way when the ID rotates. The old
    // ID's save must not count as the new ID's record (the next save would expect a version the
    // new ID never had, and the session would be left as if another node had written it).
    const store = memoryStore();
    let hold: (() => void) | undefined;
    const held = new Promise<void>((resolve) => (hold = resolve));
    const save = store.save.bind(store);
    let saves = 0;
    store.save = async (writes) => {
      if (saves++ === 0) await held;
      return save(writes);
    };
    const errors: unknown[] = [];
    const s = supervisor({ store, durability: 'durable', onError: (e) => errors.push(e) });
    await s.start('old', { logic: 'shelf' });
    const firstPut = s.call('old', { type: 'put', sku: 'A' });
    await new Promise((r) => setImmediate(r));
    expect(saves).toBe(1); // the old ID's save is in flight
    const renamed = s.rename('old', 'new');
    hold!();
    await renamed;
    expect(await firstPut).toBe(1);
    expect(await s.call('new', { type: 'put', sku: 'B' })).toBe(2);
    expect(await s.call('new', { type: 'put', sku: 'C' })).toBe(3);
    expect(errors).toEqual([]);
    expect(await store.load('old')).toBeUndefined();
    expect(JSON.parse((await store.load('new'))!.data).snapshot.context.items).toEqual([
      'A',
      'B',
      'C',
    ]);
  });
});
