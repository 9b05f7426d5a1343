import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { createSessionSupervisor, type SessionSupervisor } from 'session-process';
import { counterMachine } from '../../machines/counter.js';

let sessions: SessionSupervisor;
afterEach(async () => {
  await sessions?.shutdown();
});

describe('telemetry', () => {
  it('reports start, call, cast and stop through on() with durations in milliseconds', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    const events: Array<[string, any]> = [];
    for (const name of ['start', 'call', 'cast', 'stop'] as const)
      sessions.on(name, (e) => events.push([name, e]));
    await sessions.start('t');
    sessions.cast('t', { type: 'add_one' });
    await sessions.call('t', { type: 'get_value' });
    await sessions.terminate('t');
    expect(events.map(([n]) => n)).toEqual(['start', 'cast', 'call', 'stop']);
    expect(events[0]![1]).toMatchObject({ sessionId: 't', logic: 'default', restart: false });
    expect(events[0]![1].durationMs).toBeGreaterThanOrEqual(0);
    expect(events[2]![1]).toMatchObject({
      sessionId: 't',
      eventType: 'get_value',
      outcome: 'reply',
    });
    expect(events[3]![1]).toMatchObject({ sessionId: 't', reason: 'terminated' });
  });

  it('publishes the same events on node:diagnostics_channel', async () => {
    const seen: unknown[] = [];
    const fn = (m: unknown) => seen.push(m);
    subscribe('session-process:call', fn);
    try {
      sessions = createSessionSupervisor({ logic: counterMachine });
      await sessions.start('t');
      await sessions.call('t', { type: 'get_value' });
      await sessions.call('t', { type: 'nope' } as never).catch(() => {});
      expect(seen).toMatchObject([
        { sessionId: 't', eventType: 'get_value', outcome: 'reply' },
        { sessionId: 't', eventType: 'nope', outcome: 'error', errorCode: 'EVENT_NOT_ACCEPTED' },
      ]);
    } finally {
      unsubscribe('session-process:call', fn);
    }
  });

  it('stops calling a listener once it is removed, and refuses unknown names', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    let n = 0;
    const off = sessions.on('start', () => n++);
    await sessions.start('a');
    off();
    await sessions.start('b');
    expect(n).toBe(1);
    expect(() => sessions.on('nope' as never, () => {})).toThrow(TypeError);
  });
});
