import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { createSessionSupervisor, isSessionError, type SessionSupervisor } from 'session-process';
import { counterMachine } from '../../machines/counter.js';
import { trackTimers, workerMachine } from './fixtures.js';

let sessions: SessionSupervisor;
afterEach(async () => {
  vi.useRealTimers();
  await sessions?.shutdown();
});

describe('call', () => {
  it('resolves with a reply given in the same step', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    await sessions.start('c', { input: { value: 12 } });
    expect(await sessions.call('c', { type: 'get_value' })).toBe(12);
  });

  it('resolves with a reply given later, after an invoked promise settles', async () => {
    sessions = createSessionSupervisor({ logic: workerMachine });
    await sessions.start('w');
    const result = await sessions.call('w', { type: 'slow', ms: 20 });
    expect(result).toEqual({ waited: 20 });
    expect(sessions.snapshot('w').value).toBe('idle');
  });

  it('keeps concurrent calls apart', async () => {
    sessions = createSessionSupervisor({ logic: workerMachine });
    await sessions.start('a');
    await sessions.start('b');
    const [a, b] = await Promise.all([
      sessions.call('a', { type: 'slow', ms: 30 }),
      sessions.call('b', { type: 'slow', ms: 5 }),
    ]);
    expect([a, b]).toEqual([{ waited: 30 }, { waited: 5 }]);
  });

  it('with until, resolves with the first snapshot that satisfies it', async () => {
    sessions = createSessionSupervisor({ logic: workerMachine });
    await sessions.start('w');
    const snap = await sessions.call(
      'w',
      { type: 'who' },
      { until: (s) => s.context.seenId !== null },
    );
    expect(snap).toMatchObject({ value: 'idle', context: { seenId: 'w' } });
  });

  it('with until, resolves at once when the step itself satisfies it', async () => {
    sessions = createSessionSupervisor({ logic: workerMachine });
    await sessions.start('w');
    const snap = await sessions.call('w', { type: 'inc' }, { until: (s) => s.context.n === 1 });
    expect(snap).toMatchObject({ context: { n: 1 } });
  });

  it('rejects at once with EVENT_NOT_ACCEPTED when the current state cannot take the event', async () => {
    // "At once" without a stopwatch: on a fake clock no time passes, so a call that waited for
    // its timeout instead would still be pending below.
    vi.useFakeTimers();
    let err: any;
    try {
      sessions = createSessionSupervisor({ logic: workerMachine });
      await sessions.start('w');
      sessions.cast('w', { type: 'lock' });
      void sessions.call('w', { type: 'get' }).catch((e: any) => (err = e));
      await vi.advanceTimersByTimeAsync(0);
    } finally {
      vi.useRealTimers();
    }
    expect(isSessionError(err, 'EVENT_NOT_ACCEPTED')).toBe(true);
    expect(err.message).toContain("'get'");
    expect(sessions.stats().pendingCalls).toBe(0);
  });

  it('rejects with CALL_TIMEOUT after the default 5 s when the machine never replies', async () => {
    vi.useFakeTimers();
    sessions = createSessionSupervisor({ logic: workerMachine });
    await sessions.start('w');
    const p = sessions.call('w', { type: 'silent' });
    const settled = vi.fn();
    p.catch(settled);
    await vi.advanceTimersByTimeAsync(4_999);
    expect(settled).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    const err: any = await p.catch((e: any) => e);
    expect(isSessionError(err, 'CALL_TIMEOUT')).toBe(true);
    expect(err.timeoutMs).toBe(5_000);
    expect(sessions.stats().pendingCalls).toBe(0);
  });

  it('honours timeoutMs per call', async () => {
    sessions = createSessionSupervisor({ logic: workerMachine });
    await sessions.start('w');
    const err: any = await sessions
      .call('w', { type: 'silent' }, { timeoutMs: 20 })
      .catch((e: any) => e);
    expect(isSessionError(err, 'CALL_TIMEOUT')).toBe(true);
  });

  it('ignores a late reply once the call has timed out', async () => {
    vi.useFakeTimers(); // the timeout and the late reply, each at its exact time
    try {
      sessions = createSessionSupervisor({ logic: workerMachine });
      await sessions.start('w');
      const pending = sessions
        .call('w', { type: 'slow', ms: 40 }, { timeoutMs: 10 })
        .catch((e: any) => e);
      await vi.advanceTimersByTimeAsync(10);
      expect(isSessionError(await pending, 'CALL_TIMEOUT')).toBe(true);
      await vi.advanceTimersByTimeAsync(30); // the reply arrives, late
    } finally {
      vi.useRealTimers();
    }
    expect(sessions.snapshot('w').value).toBe('idle');
    expect(await sessions.call('w', { type: 'get' })).toBe(0);
  });

  it('rejects with SESSION_NOT_FOUND for a missing session', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    const err: any = await sessions.call('nobody', { type: 'get_value' }).catch((e: any) => e);
    expect(isSessionError(err, 'SESSION_NOT_FOUND')).toBe(true);
    expect(err.sessionId).toBe('nobody');
  });

  it('rejects with SESSION_ENDED when the session is terminated while the call waits', async () => {
    sessions = createSessionSupervisor({ logic: workerMachine });
    await sessions.start('w');
    const p = sessions.call('w', { type: 'slow', ms: 1_000 });
    await sessions.terminate('w');
    const err: any = await p.catch((e: any) => e);
    expect(isSessionError(err, 'SESSION_ENDED')).toBe(true);
    expect(err.reason).toBe('terminated');
  });

  it('rejects with SESSION_CRASHED, cause attached, when the session crashes while the call waits', async () => {
    sessions = createSessionSupervisor({ logic: workerMachine, onError: () => {} });
    await sessions.start('w');
    const p = sessions.call('w', { type: 'boom.later', ms: 10 }, { until: () => false });
    const err: any = await p.catch((e: any) => e);
    expect(isSessionError(err, 'SESSION_CRASHED')).toBe(true);
    expect(err.cause.message).toBe('boom after a delay');
  });

  it('rejects with SESSION_CRASHED when the event itself makes the machine throw', async () => {
    sessions = createSessionSupervisor({ logic: workerMachine, onError: () => {} });
    await sessions.start('w');
    const err: any = await sessions.call('w', { type: 'boom' }).catch((e: any) => e);
    expect(isSessionError(err, 'SESSION_CRASHED')).toBe(true);
    expect(sessions.started('w')).toBe(false);
  });

  it('leaves no pending call, timer or actor listener behind after any outcome', async () => {
    const timers = trackTimers();
    onTestFinished(timers.restore);
    sessions = createSessionSupervisor({ logic: workerMachine, onError: () => {} });
    await sessions.start('w');
    expect(timers.live.size).toBe(1); // the idle deadline
    const actor = sessions.system.get('w') as unknown as { observers: Set<unknown> };
    await sessions.call('w', { type: 'get' });
    await sessions.call('w', { type: 'slow', ms: 5 });
    await sessions.call('w', { type: 'inc' }, { until: (s) => s.context.n > 0 });
    await sessions.call('w', { type: 'who' }, { until: (s) => s.context.seenId !== null });
    await sessions.call('w', { type: 'silent' }, { timeoutMs: 5 }).catch(() => {});
    await sessions
      .call('w', { type: 'silent' }, { timeoutMs: 5, until: () => false })
      .catch(() => {});
    expect(sessions.stats().pendingCalls).toBe(0);
    expect(actor.observers.size).toBe(0);
    expect(timers.live.size).toBe(1);
    await sessions.call('w', { type: 'boom' }).catch(() => {});
    expect(timers.live.size).toBe(0); // the crash ended the session and its deadline
    expect(sessions.stats().pendingCalls).toBe(0);
  });
});
