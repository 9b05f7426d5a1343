import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { memoryStore } from 'session-process';
import { setup } from 'xstate';
import { shelf } from './fixtures.js';
import { supervisors } from '../../support/supervisors.js';

// Time is the subject here: the clock is faked (Date, timers and setImmediate).
beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(async () => {
  vi.useRealTimers();
});
const supervisor = supervisors({ logics: { shelf } });

describe('timers of a stored session', () => {
  it('fire at their original due time after a restart, not a full delay after the restore', async () => {
    const store = memoryStore();
    const first = supervisor({ store });
    await first.start('h', { logic: 'shelf', input: { holdMs: 2_000 } });
    first.cast('h', { type: 'hold' });
    await vi.advanceTimersByTimeAsync(500);
    await first.shutdown(); // the process stops 0.5 s into the 2 s hold

    const second = supervisor({ store });
    expect(second.snapshot('h').value).toBe('held'); // restored at 0.5 s
    await vi.advanceTimersByTimeAsync(1_490);
    expect(second.snapshot('h').value).toBe('held');
    await vi.advanceTimersByTimeAsync(20); // 2 s after entering `held`
    expect(second.snapshot('h').value).toBe('lapsed');
  });

  it('fire at once when their due time passed while no process ran', async () => {
    const store = memoryStore();
    const first = supervisor({ store });
    await first.start('late', { logic: 'shelf', input: { holdMs: 2_000 } });
    first.cast('late', { type: 'hold' });
    await first.shutdown();
    vi.setSystemTime(Date.now() + 60_000);
    const second = supervisor({ store });
    // The waker finds it due without anyone asking for it.
    await vi.advanceTimersByTimeAsync(10);
    expect(second.count).toBe(1);
    expect(second.snapshot('late').value).toBe('lapsed');
  });

  it('fire while the session is passivated: it is woken at its due time', async () => {
    const store = memoryStore();
    const s = supervisor({ store, passivateAfterMs: 100 });
    await s.start('p', { logic: 'shelf', input: { holdMs: 2_000 } });
    s.cast('p', { type: 'hold' });
    await vi.advanceTimersByTimeAsync(200);
    expect(s.count).toBe(0); // out of memory
    expect(JSON.parse((await store.load('p'))!.data).snapshot.value).toBe('held');
    await vi.advanceTimersByTimeAsync(1_780); // 1.98 s after entering `held`
    expect(JSON.parse((await store.load('p'))!.data).snapshot.value).toBe('held');
    await vi.advanceTimersByTimeAsync(40); // 2.02 s
    expect(JSON.parse((await store.load('p'))!.data).snapshot.value).toBe('lapsed');
  });

  it('count idle time across passivation and restarts: an idle session still expires and is deleted', async () => {
    const store = memoryStore();
    const first = supervisor({ store, idleTimeoutMs: 10_000 });
    await first.start('idle', { logic: 'shelf' });
    await vi.advanceTimersByTimeAsync(4_000);
    await first.shutdown();
    const second = supervisor({ store, idleTimeoutMs: 10_000, passivateAfterMs: 1_000 });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await store.load('idle')).toBeDefined();
    await vi.advanceTimersByTimeAsync(2_000); // 11 s after its last activity
    expect(await store.load('idle')).toBeUndefined();
    expect(second.started('idle')).toBe(false);
  });
});

describe('passivation', () => {
  it('takes 10,000 quiet sessions out of memory; each comes back with its state on its next call', async () => {
    const store = memoryStore();
    const s = supervisor({ store, passivateAfterMs: 1_000, startRate: false });
    for (let i = 0; i < 10_000; i++) {
      await s.start(`q${i}`, { logic: 'shelf' });
      s.cast(`q${i}`, { type: 'add', sku: `sku${i}` });
    }
    expect(s.count).toBe(10_000);
    await vi.advanceTimersByTimeAsync(1_100);
    expect(s.count).toBe(0);
    expect(s.stats().store?.passivated).toBe(10_000);
    for (let i = 0; i < 10_000; i += 997) {
      expect(await s.call(`q${i}`, { type: 'count' })).toBe(1);
      expect(s.snapshot(`q${i}`).context.items).toEqual([`sku${i}`]);
    }
  });

  it('keeps a session with subscribers in memory', async () => {
    const s = supervisor({ store: memoryStore(), passivateAfterMs: 100 });
    await s.start('watched', { logic: 'shelf' });
    s.subscribe('watched', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    expect(s.count).toBe(1);
  });
});

describe('delays past 2^31 - 1 ms (24.8 days)', () => {
  const DAY = 86_400_000;
  // setTimeout fires at once past 2^31 - 1 ms (the fake clock does as Node does): such delays
  // are chained, in memory and after a restore.
  const longHold = setup({
    types: { input: {} as { days: number } },
    delays: { long: ({ context }) => (context as { days: number }).days * DAY },
  }).createMachine({
    context: ({ input }) => ({ days: input.days }),
    initial: 'held',
    states: { held: { after: { long: 'lapsed' } }, lapsed: {} },
  });
  const options = { logics: { longHold }, idleTimeoutMs: 0, wakeIntervalMs: DAY };

  for (const days of [25, 30, 365]) {
    it(`fires a ${days}-day after at its due time, not before`, async () => {
      const s = supervisor({ ...options, store: memoryStore() });
      await s.start('long', { logic: 'longHold', input: { days } });
      await vi.advanceTimersByTimeAsync(1_000);
      expect(s.snapshot('long').value).toBe('held');
      await vi.advanceTimersByTimeAsync(days * DAY - 2_000);
      expect(s.snapshot('long').value).toBe('held');
      await vi.advanceTimersByTimeAsync(2_000);
      expect(s.snapshot('long').value).toBe('lapsed');
    });
  }

  it('fires a 30-day after at its due time after a restore, not before', async () => {
    const store = memoryStore();
    const first = supervisor({ ...options, store });
    await first.start('long', { logic: 'longHold', input: { days: 30 } });
    await vi.advanceTimersByTimeAsync(DAY);
    await first.shutdown();

    const second = supervisor({ ...options, store });
    expect(second.snapshot('long').value).toBe('held'); // restored 1 day in
    await vi.advanceTimersByTimeAsync(1_000);
    expect(second.snapshot('long').value).toBe('held');
    await vi.advanceTimersByTimeAsync(29 * DAY - 2_000);
    expect(second.snapshot('long').value).toBe('held');
    await vi.advanceTimersByTimeAsync(2_000);
    expect(second.snapshot('long').value).toBe('lapsed');
  });

  it('wakes a passivated session whose 30-day after falls due', async () => {
    const store = memoryStore();
    const s = supervisor({ ...options, store, passivateAfterMs: 1_000 });
    await s.start('long', { logic: 'longHold', input: { days: 30 } });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(s.count).toBe(0);
    await vi.advanceTimersByTimeAsync(30 * DAY - 4_000);
    expect(JSON.parse((await store.load('long'))!.data).snapshot.value).toBe('held');
    await vi.advanceTimersByTimeAsync(DAY);
    expect(JSON.parse((await store.load('long'))!.data).snapshot.value).toBe('lapsed');
  });

  it('keeps an idle timeout and a lifetime of 30 days', async () => {
    const s = supervisor({
      ...options,
      store: memoryStore(),
      idleTimeoutMs: 30 * DAY,
      maxLifetimeMs: 40 * DAY,
    });
    await s.start('idle', { logic: 'longHold', input: { days: 100 } });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(s.started('idle')).toBe(true);
    await vi.advanceTimersByTimeAsync(30 * DAY);
    expect(s.started('idle')).toBe(false);
  });
});
