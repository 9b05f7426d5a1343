import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import {
  createSessionSupervisor,
  type EndReason,
  isSessionError,
  type SessionSupervisor,
} from 'session-process';
import { counterMachine } from '../../machines/counter.js';
import { trackTimers, workerMachine } from './fixtures.js';

let sessions: SessionSupervisor;
afterEach(async () => {
  await sessions?.shutdown();
  vi.useRealTimers();
});

describe('idle timeout', () => {
  it('ends a session exactly idleTimeoutMs after its last activity, with reason expired', async () => {
    vi.useFakeTimers();
    const expired: unknown[] = [];
    sessions = createSessionSupervisor({ logic: counterMachine, idleTimeoutMs: 60_000 });
    sessions.on('expire', (e) => expired.push(e));
    await sessions.start('b');
    vi.advanceTimersByTime(59_999);
    expect(sessions.started('b')).toBe(true);
    vi.advanceTimersByTime(1);
    expect(sessions.started('b')).toBe(false);
    expect(expired).toMatchObject([{ sessionId: 'b', cause: 'idle', idleMs: 60_000 }]);
    expect(sessions.stats().ended.expired).toBe(1);
  });

  it('counts call, cast and touch as activity, per session', async () => {
    vi.useFakeTimers();
    sessions = createSessionSupervisor({ logic: counterMachine, idleTimeoutMs: 1_000 });
    await sessions.start('called');
    await sessions.start('cast');
    await sessions.start('touched');
    await sessions.start('idle');
    vi.advanceTimersByTime(900);
    await sessions.call('called', { type: 'get_value' });
    sessions.cast('cast', { type: 'add_one' });
    sessions.touch('touched');
    vi.advanceTimersByTime(100);
    expect(sessions.list().map((s) => s.id)).toEqual(['called', 'cast', 'touched']);
    vi.advanceTimersByTime(899);
    expect(sessions.count).toBe(3);
    vi.advanceTimersByTime(1);
    expect(sessions.count).toBe(0);
  });

  it('does not expire a session while it has subscribers, and does once they leave', async () => {
    vi.useFakeTimers();
    sessions = createSessionSupervisor({ logic: counterMachine, idleTimeoutMs: 1_000 });
    await sessions.start('a');
    const off = sessions.subscribe('a', () => {});
    vi.advanceTimersByTime(5_000);
    expect(sessions.started('a')).toBe(true);
    off();
    vi.advanceTimersByTime(999);
    expect(sessions.started('a')).toBe(true);
    vi.advanceTimersByTime(1);
    expect(sessions.started('a')).toBe(false);
  });

  it('with subscribersKeepAlive: false, expires a watched session too', async () => {
    vi.useFakeTimers();
    sessions = createSessionSupervisor({
      logic: counterMachine,
      idleTimeoutMs: 1_000,
      subscribersKeepAlive: false,
    });
    await sessions.start('a');
    const messages: unknown[] = [];
    sessions.subscribe('a', (m) => messages.push(m));
    vi.advanceTimersByTime(1_000);
    expect(messages).toEqual([{ type: 'ended', reason: 'expired' }]);
  });
});

describe('maxLifetimeMs', () => {
  it('ends a session at its absolute lifetime whatever its activity', async () => {
    vi.useFakeTimers();
    sessions = createSessionSupervisor({
      logic: counterMachine,
      idleTimeoutMs: 1_000,
      maxLifetimeMs: 2_500,
    });
    await sessions.start('a');
    const expired: unknown[] = [];
    sessions.on('expire', (e) => expired.push(e));
    for (let i = 0; i < 4; i++) {
      vi.advanceTimersByTime(600);
      sessions.touch('a');
    }
    expect(sessions.started('a')).toBe(true); // 2,400 ms
    vi.advanceTimersByTime(100);
    expect(sessions.started('a')).toBe(false);
    expect(expired).toMatchObject([{ sessionId: 'a', cause: 'lifetime' }]);
  });
});

describe('maxSessions', () => {
  it('refuses starts beyond the limit with SESSION_LIMIT_REACHED, and accepts again once one ends', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine, maxSessions: 3 });
    for (const id of ['a', 'b', 'c']) await sessions.start(id);
    const err: any = await sessions.start('d').catch((e: any) => e);
    expect(isSessionError(err, 'SESSION_LIMIT_REACHED')).toBe(true);
    expect(err.status).toBe(503);
    expect(err.retryAfterMs).toBeGreaterThan(0);
    await sessions.terminate('a');
    await sessions.start('d');
    expect(sessions.count).toBe(3);
  });
});

describe('startRate', () => {
  it('refuses starts beyond the rate with RATE_LIMITED until the window closes', async () => {
    vi.useFakeTimers();
    sessions = createSessionSupervisor({
      logic: counterMachine,
      startRate: { limit: 2, intervalMs: 1_000 },
    });
    const limited: unknown[] = [];
    sessions.on('rate-limited', (e) => limited.push(e));
    await sessions.start('a');
    vi.advanceTimersByTime(400);
    await sessions.start('b');
    const err: any = await sessions.start('c').catch((e: any) => e);
    expect(isSessionError(err, 'RATE_LIMITED')).toBe(true);
    expect(err.status).toBe(429);
    expect(err.retryAfterMs).toBe(600);
    expect(limited).toMatchObject([{ sessionId: 'c', limit: 2, retryAfterMs: 600 }]);
    vi.advanceTimersByTime(600);
    await sessions.start('c');
    expect(sessions.count).toBe(3);
  });

  it('is on by default (1,000 starts per second) and can be switched off', async () => {
    vi.useFakeTimers();
    sessions = createSessionSupervisor({ logic: counterMachine });
    let refused = 0;
    for (let i = 0; i < 1_001; i++) await sessions.start(`s${i}`).catch(() => refused++);
    expect(refused).toBe(1);
    await sessions.shutdown();
    sessions = createSessionSupervisor({ logic: counterMachine, startRate: false });
    for (let i = 0; i < 1_500; i++) await sessions.start(`s${i}`);
    expect(sessions.count).toBe(1_500);
  });
});

describe('ended', () => {
  const cases: Array<[EndReason, (s: SessionSupervisor) => Promise<void> | void]> = [
    ['terminated', (s) => s.terminate('x')],
    ['expired', () => void vi.advanceTimersByTime(1_000)],
    ['crashed', (s) => s.cast('x', { type: 'boom' })],
    ['shutdown', (s) => s.shutdown()],
  ];

  it.each(cases)(
    'reaches every subscriber exactly once when the session is %s',
    async (reason, end) => {
      vi.useFakeTimers();
      const stops: unknown[] = [];
      sessions = createSessionSupervisor({
        logic: workerMachine,
        idleTimeoutMs: 1_000,
        subscribersKeepAlive: false,
        onError: () => {},
      });
      sessions.on('stop', (e) => stops.push(e));
      await sessions.start('x');
      const seen: unknown[][] = [[], [], []];
      for (const list of seen) sessions.subscribe('x', (m) => list.push(m));
      sessions.cast('x', { type: 'inc' });
      await end(sessions);
      // nothing more arrives, whatever happens next
      await sessions.terminate('x').catch(() => {});
      await sessions.shutdown();
      for (const list of seen) {
        const ended = list.filter((m: any) => m.type === 'ended');
        expect(ended).toHaveLength(1);
        expect(ended[0]).toMatchObject({ type: 'ended', reason });
        expect(list.at(-1)).toBe(ended[0]);
      }
      if (reason === 'crashed')
        expect((seen[0]!.at(-1) as { error: Error }).error.message).toBe('boom in action');
      expect(stops).toMatchObject([{ sessionId: 'x', reason }]);
    },
  );
});

describe('a cycle of 10,000 starts and terminations', () => {
  it('leaves no actor, timer, call or listener behind', async () => {
    const timers = trackTimers();
    onTestFinished(timers.restore);
    sessions = createSessionSupervisor({ logic: workerMachine, startRate: false });
    const system = sessions.system as unknown as { getAll(): Record<string, unknown> };
    for (let i = 0; i < 10_000; i++) {
      const id = `cycle-${i}`;
      await sessions.start(id);
      const off = sessions.subscribe(id, () => {});
      sessions.cast(id, { type: 'inc' });
      await sessions.call(id, { type: 'get' });
      if (i % 2) off();
      await sessions.terminate(id);
    }
    expect(sessions.count).toBe(0);
    expect(Object.keys(system.getAll())).toEqual([]);
    expect(sessions.stats()).toMatchObject({
      total: 0,
      pendingCalls: 0,
      subscribers: 0,
      started: 10_000,
    });
    expect(timers.live.size).toBe(0);
  });
});
