import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSessionSupervisor, isSessionError, type SessionSupervisor } from 'session-process';
import { counterMachine } from '../../machines/counter.js';
import { tick, workerMachine } from './fixtures.js';

let sessions: SessionSupervisor;
const escaped: unknown[] = [];
const onEscape = (err: unknown) => escaped.push(err);

// Anything that reaches these handlers has escaped the supervisor: the test fails on it.
beforeEach(() => {
  escaped.length = 0;
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
});
afterEach(async () => {
  await sessions?.shutdown();
  await tick(20);
  process.off('uncaughtException', onEscape);
  process.off('unhandledRejection', onEscape);
  expect(escaped).toEqual([]);
});

describe('isolation', () => {
  it('ends only the session whose machine throws, while 1,000 others keep answering calls', async () => {
    const reported: Array<[string | undefined, string]> = [];
    sessions = createSessionSupervisor({
      logic: workerMachine,
      startRate: false,
      onError: (err, info) => reported.push([info.sessionId, (err as Error).message]),
    });
    const ids = Array.from({ length: 1_000 }, (_, i) => `ok-${i}`);
    for (const id of ids) await sessions.start(id);
    await sessions.start('bad');
    const ended: unknown[] = [];
    sessions.subscribe('bad', (m) => ended.push(m));

    const calls = ids.map((id) => sessions.call(id, { type: 'slow', ms: 30 }));
    const crash = sessions
      .call('bad', { type: 'boom.later', ms: 10 }, { until: () => false })
      .catch((e: any) => e);
    const results = await Promise.all(calls);
    const err: any = await crash;

    expect(results.every((r) => (r as { waited: number }).waited === 30)).toBe(true);
    expect(isSessionError(err, 'SESSION_CRASHED')).toBe(true);
    expect(ended.filter((m: any) => m.type === 'ended')).toMatchObject([
      { type: 'ended', reason: 'crashed' },
    ]);
    expect(reported).toEqual([['bad', 'boom after a delay']]);
    expect(sessions.count).toBe(1_000);
    expect(sessions.started('bad')).toBe(false);
    // the supervisor still starts and serves sessions
    await sessions.start('bad');
    expect(await sessions.call('bad', { type: 'get' })).toBe(0);
    expect(await sessions.call('ok-999', { type: 'get' })).toBe(0);
  });

  it('contains a crash in a delayed step that no call is waiting for', async () => {
    sessions = createSessionSupervisor({ logic: workerMachine, onError: () => {} });
    await sessions.start('a');
    await sessions.start('b');
    sessions.cast('a', { type: 'boom.later', ms: 5 });
    await tick(30);
    expect(sessions.started('a')).toBe(false);
    expect(await sessions.call('b', { type: 'get' })).toBe(0);
    expect(sessions.stats().ended.crashed).toBe(1);
  });

  it('publishes the crash on the session-process:crash channel', async () => {
    const seen: unknown[] = [];
    const onCrash = (msg: unknown) => seen.push(msg);
    subscribe('session-process:crash', onCrash);
    try {
      sessions = createSessionSupervisor({ logic: workerMachine, onError: () => {} });
      await sessions.start('a');
      sessions.cast('a', { type: 'boom' });
      expect(seen).toMatchObject([{ sessionId: 'a', logic: 'default', restarting: false }]);
      expect((seen[0] as { error: Error }).error.message).toBe('boom in action');
    } finally {
      unsubscribe('session-process:crash', onCrash);
    }
  });
});

describe('restart on crash', () => {
  it('restarts the crashed session alone from its initial state, keeping its subscribers', async () => {
    sessions = createSessionSupervisor({
      logic: counterMachine,
      logics: { w: workerMachine },
      restart: { onCrash: true },
      onError: () => {},
    });
    await sessions.start('w', { logic: 'w' });
    await sessions.start('other', { input: { value: 5 } });
    const seen: any[] = [];
    sessions.subscribe('w', (m) => seen.push(m));
    sessions.cast('w', { type: 'inc' });
    sessions.cast('w', { type: 'inc' });
    const err: any = await sessions.call('w', { type: 'boom' }).catch((e: any) => e);
    expect(isSessionError(err, 'SESSION_CRASHED')).toBe(true);
    expect(sessions.started('w')).toBe(true);
    expect(await sessions.call('w', { type: 'get' })).toBe(0);
    expect(await sessions.call('other', { type: 'get_value' })).toBe(5);
    expect(seen.map((m) => (m.type === 'snapshot' ? m.snapshot.context.n : m.type))).toEqual([
      1, 2, 0,
    ]);
    expect(sessions.stats().restarts).toBe(1);
  });

  it('gives up after maxRestarts within withinMs and ends the session as crashed', async () => {
    sessions = createSessionSupervisor({
      logic: workerMachine,
      restart: { onCrash: true, maxRestarts: 2, withinMs: 60_000 },
      onError: () => {},
    });
    await sessions.start('w');
    const seen: any[] = [];
    sessions.subscribe('w', (m) => seen.push(m));
    sessions.cast('w', { type: 'boom' });
    sessions.cast('w', { type: 'boom' });
    expect(sessions.started('w')).toBe(true);
    sessions.cast('w', { type: 'boom' });
    expect(sessions.started('w')).toBe(false);
    expect(seen.filter((m) => m.type === 'ended')).toMatchObject([{ reason: 'crashed' }]);
    expect(sessions.stats().restarts).toBe(2);
  });
});

describe('getSessionId', () => {
  it('returns the session ID inside the machine, also from an invoked actor', async () => {
    sessions = createSessionSupervisor({ logic: workerMachine });
    await sessions.start('who-1');
    const snap = await sessions.call(
      'who-1',
      { type: 'who' },
      { until: (s) => s.context.seenId !== null },
    );
    expect((snap as { context: { seenId: string } }).context.seenId).toBe('who-1');
  });
});
