import { afterEach, describe, expect, it, vi } from 'vitest';
import { setup } from 'xstate';
import { createSessionSupervisor, type SessionSupervisor } from 'session-process';

/** The demo cart's shape: an item holds a reservation that lapses after a delay. */
const reserving = setup({}).createMachine({
  initial: 'held',
  states: { held: { after: { 60000: 'lapsed' } }, lapsed: {} },
});
const quick = setup({}).createMachine({
  initial: 'held',
  states: { held: { after: { 30: 'lapsed' } }, lapsed: {} },
});

describe('delayed transitions of many sessions', () => {
  let sessions: SessionSupervisor | undefined;
  afterEach(() => sessions?.shutdown());

  // With XState's own scheduler each stop scanned every timer of the system: 20,000 sessions
  // took about a minute to end, far past the test timeout. Each now costs its own timers.
  it('terminates 20,000 sessions that each hold a pending after timer', async () => {
    sessions = createSessionSupervisor({ logic: reserving, startRate: false });
    for (let i = 0; i < 20_000; i++) await sessions.start(`s${i}`);
    for (let i = 0; i < 20_000; i++) await sessions.terminate(`s${i}`);
    expect(sessions.count).toBe(0);
  });

  it('keeps answering other sessions while 20,000 sessions expire together', async () => {
    sessions = createSessionSupervisor({
      logics: { reserving, quick },
      startRate: false,
      idleTimeoutMs: 300,
    });
    for (let i = 0; i < 20_000; i++) await sessions.start(`e${i}`, { logic: 'reserving' });
    await sessions.start('keeper', { logic: 'reserving' });
    // A caller keeps touching its own session through the storm and notes how many other
    // sessions were still there each time it was answered.
    const seen: number[] = [];
    while (sessions.count > 1) {
      sessions.touch('keeper');
      seen.push(sessions.count);
      await new Promise((r) => setImmediate(r));
    }
    const during = seen.filter((n) => n > 1 && n < 20_001);
    expect(during.length).toBeGreaterThan(10);
    expect(sessions.started('keeper')).toBe(true);
  });

  // Time is the subject here: the fake clock makes "not yet" and "now" exact.
  describe('on a fake clock', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it("fires each session's own timer, and ending one leaves the others' armed", async () => {
      vi.useFakeTimers();
      sessions = createSessionSupervisor({ logic: quick });
      await sessions.start('a');
      await sessions.start('b');
      await sessions.terminate('a');
      await vi.advanceTimersByTimeAsync(29);
      expect(sessions.snapshot('b').value).toBe('held');
      await vi.advanceTimersByTimeAsync(1);
      expect(sessions.snapshot('b').value).toBe('lapsed');
    });

    it('keeps the timers of a renamed session', async () => {
      vi.useFakeTimers();
      sessions = createSessionSupervisor({ logic: quick });
      await sessions.start('old');
      await sessions.rename('old', 'new');
      await vi.advanceTimersByTimeAsync(29);
      expect(sessions.snapshot('new').value).toBe('held');
      await vi.advanceTimersByTimeAsync(1);
      expect(sessions.snapshot('new').value).toBe('lapsed');
    });
  });
});
