import { afterEach, describe, expect, it } from 'vitest';
import { assign, enqueueActions, setup } from 'xstate';
import {
  createSessionSupervisor,
  isSessionError,
  reply,
  type SessionMessage,
  type SessionSupervisor,
} from 'session-process';

/** `flood` schedules `count` delayed events in one step; `waiting` re-arms one `after` timer. */
const flood = setup({
  types: {
    context: {} as { n: number },
    events: {} as
      | { type: 'flood'; count: number }
      | { type: 'tick' }
      | { type: 'get' }
      | { type: 'wait' }
      | { type: 'again' }
      | { type: 'leave' },
    input: {} as { timers?: number } | undefined,
  },
}).createMachine({
  context: { n: 0 },
  entry: enqueueActions(({ enqueue, event }) => {
    const count = (event as { input?: { timers?: number } }).input?.timers ?? 0;
    for (let i = 0; i < count; i++) enqueue.raise({ type: 'tick' }, { delay: 60_000 });
  }),
  initial: 'calm',
  states: {
    calm: { on: { wait: 'waiting' } },
    waiting: {
      after: { 60000: 'calm' },
      on: { again: { target: 'waiting', reenter: true }, leave: 'calm' },
    },
  },
  on: {
    flood: {
      actions: [
        assign({ n: ({ context }) => context.n + 1 }),
        enqueueActions(({ enqueue, event }) => {
          for (let i = 0; i < event.count; i++) enqueue.raise({ type: 'tick' }, { delay: 60_000 });
        }),
        reply(({ context }) => context.n),
      ],
    },
    get: { actions: reply(({ context }) => context.n) },
  },
});

let sessions: SessionSupervisor | undefined;
afterEach(() => sessions?.shutdown());

describe('maxTimers', () => {
  it('refuses one event that schedules 100,000 delays at the cap, quickly, and keeps the session as it was', async () => {
    sessions = createSessionSupervisor({ logic: flood });
    await sessions.start('s');
    const messages: SessionMessage[] = [];
    sessions.subscribe('s', (m) => messages.push(m));
    const before = sessions.snapshot('s');

    const t0 = performance.now();
    const outcome = await sessions
      .call('s', { type: 'flood', count: 100_000 })
      .catch((e: unknown) => e);
    const tookMs = performance.now() - t0;

    expect(isSessionError(outcome, 'TOO_MANY_TIMERS')).toBe(true);
    expect(outcome).toMatchObject({ sessionId: 's', limit: 1_000 });
    expect(tookMs).toBeLessThan(1_000); // 13.4 s before the cap
    expect(sessions.snapshot('s')).toEqual(before);
    expect(messages).toEqual([]);
    // None of the refused step's timers was kept: the session may still schedule 1,000.
    expect(await sessions.call('s', { type: 'flood', count: 1_000 })).toBe(1);
    const over = await sessions.call('s', { type: 'flood', count: 1 }).catch((e: unknown) => e);
    expect(isSessionError(over, 'TOO_MANY_TIMERS')).toBe(true);
    expect(await sessions.call('s', { type: 'get' })).toBe(1);
  });

  it('reports a refused cast to onError and leaves the session running', async () => {
    const errors: Array<{ err: unknown; source: string; sessionId?: string }> = [];
    sessions = createSessionSupervisor({
      logic: flood,
      maxTimers: 10,
      onError: (err, info) => errors.push({ err, ...info }),
    });
    await sessions.start('c');
    sessions.cast('c', { type: 'flood', count: 10 });
    expect(errors).toEqual([]);
    sessions.cast('c', { type: 'flood', count: 1 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ source: 'refused', sessionId: 'c' });
    expect(isSessionError(errors[0]!.err, 'TOO_MANY_TIMERS')).toBe(true);
    expect(await sessions.call('c', { type: 'get' })).toBe(1);
  });

  it('counts a re-armed or cancelled timer once', async () => {
    const errors: unknown[] = [];
    sessions = createSessionSupervisor({
      logic: flood,
      maxTimers: 1,
      onError: (err) => errors.push(err),
    });
    await sessions.start('a');
    sessions.cast('a', { type: 'wait' });
    for (let i = 0; i < 5; i++) sessions.cast('a', { type: 'again' });
    expect(sessions.snapshot('a').value).toBe('waiting');
    expect(errors).toEqual([]);
    sessions.cast('a', { type: 'leave' });
    expect(await sessions.call('a', { type: 'flood', count: 1 })).toBe(1);
  });

  it('fails a start whose initial state would exceed it', async () => {
    sessions = createSessionSupervisor({ logic: flood, maxTimers: 5 });
    const outcome = await sessions.start('i', { input: { timers: 6 } }).catch((e: unknown) => e);
    expect(isSessionError(outcome, 'SESSION_INIT_FAILED')).toBe(true);
    expect(isSessionError((outcome as Error).cause, 'TOO_MANY_TIMERS')).toBe(true);
    await sessions.start('j', { input: { timers: 5 } });
    expect(sessions.started('j')).toBe(true);
  });
});
