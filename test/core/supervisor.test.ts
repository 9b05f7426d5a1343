import { afterEach, describe, expect, it } from 'vitest';
import { createSessionSupervisor, isSessionError, type SessionSupervisor } from 'session-process';
import { counterMachine } from '../../machines/counter.js';
import { kvMachine } from '../../machines/kv.js';
import { brokenMachine, workerMachine } from './fixtures.js';

let sessions: SessionSupervisor;
afterEach(async () => {
  await sessions?.shutdown();
});

const codeOf = async (p: Promise<unknown> | (() => unknown)) => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return isSessionError(err) ? err.code : `not a SessionError: ${String(err)}`;
  }
  return 'no error';
};

describe('start', () => {
  it('starts a session whose machine gets the input', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    const handle = await sessions.start('s1', { input: { value: 41 } });
    expect(handle.id).toBe('s1');
    expect(sessions.started('s1')).toBe(true);
    expect(sessions.snapshot('s1')).toEqual({
      value: {},
      context: { count: 41 },
      status: 'active',
      version: 1,
    });
  });

  it('rejects a second start of the same ID with SESSION_ALREADY_STARTED and keeps the first', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    await sessions.start('s1', { input: { value: 7 } });
    expect(await codeOf(sessions.start('s1', { input: { value: 1 } }))).toBe(
      'SESSION_ALREADY_STARTED',
    );
    expect(await sessions.call('s1', { type: 'get_value' })).toBe(7);
  });

  it.each([
    ['empty', ''],
    ['129 characters', 'a'.repeat(129)],
    ['a space', 'a b'],
    ['a slash', 'a/b'],
    ['an at sign', '@'],
    ['a number', 42],
    ['null', null],
  ])('rejects an ID with %s as INVALID_SESSION_ID', async (_name, id) => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    expect(await codeOf(sessions.start(id as string))).toBe('INVALID_SESSION_ID');
    expect(await codeOf(sessions.ensure(id as string))).toBe('INVALID_SESSION_ID');
    expect(await codeOf(sessions.call(id as string, { type: 'get_value' }))).toBe(
      'INVALID_SESSION_ID',
    );
    expect(await codeOf(() => sessions.cast(id as string, { type: 'add_one' }))).toBe(
      'INVALID_SESSION_ID',
    );
    expect(sessions.count).toBe(0);
  });

  it('accepts 128 characters of [A-Za-z0-9_-]', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    const id = `aZ09_-${'x'.repeat(122)}`;
    await sessions.start(id);
    expect(sessions.started(id)).toBe(true);
  });

  it('starts a named logic and refuses an unknown one with UNKNOWN_LOGIC', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine, logics: { kv: kvMachine } });
    const handle = await sessions.start('k', { logic: 'kv' });
    expect(handle.logic).toBe('kv');
    expect(await handle.call({ type: 'ping' })).toBe('pong');
    expect(await codeOf(sessions.start('x', { logic: 'nope' }))).toBe('UNKNOWN_LOGIC');
    expect(sessions.started('x')).toBe(false);
  });

  it('refuses a start without any logic with UNKNOWN_LOGIC', async () => {
    sessions = createSessionSupervisor({});
    expect(await codeOf(sessions.start('x'))).toBe('UNKNOWN_LOGIC');
  });

  it('reports a machine that throws while starting as SESSION_INIT_FAILED and keeps nothing', async () => {
    sessions = createSessionSupervisor({ logic: brokenMachine, onError: () => {} });
    const err: any = await sessions.start('b').catch((e: any) => e);
    expect(isSessionError(err, 'SESSION_INIT_FAILED')).toBe(true);
    expect((err as Error).cause).toBeInstanceOf(Error);
    expect(sessions.started('b')).toBe(false);
    expect(sessions.system.get('b')).toBeUndefined();
    // the ID is free again
    expect(await codeOf(sessions.start('b'))).toBe('SESSION_INIT_FAILED');
  });

  it('registers each session actor in the supervisor system under its ID', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    const handle = await sessions.start('s1');
    expect(sessions.system.get('s1')).toBe(handle.actor);
    expect(handle.actor.id).toBe('s1');
    await sessions.terminate('s1');
    expect(sessions.system.get('s1')).toBeUndefined();
  });
});

describe('ensure', () => {
  it('starts a missing session and returns the running one afterwards', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    await sessions.ensure('e', { input: { value: 3 } });
    sessions.cast('e', { type: 'add_one' });
    await sessions.ensure('e', { input: { value: 100 } });
    expect(await sessions.call('e', { type: 'get_value' })).toBe(4);
    expect(sessions.count).toBe(1);
  });
});

describe('cast', () => {
  it('sends the event without waiting', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    await sessions.start('c');
    expect(sessions.cast('c', { type: 'add_one' })).toBeUndefined();
    sessions.cast('c', { type: 'add_one' });
    expect(sessions.snapshot('c').context.count).toBe(2);
  });

  it('throws SESSION_NOT_FOUND for a missing session', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    expect(await codeOf(() => sessions.cast('missing', { type: 'add_one' }))).toBe(
      'SESSION_NOT_FOUND',
    );
  });

  it('refuses something that is not an event object', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    await sessions.start('c');
    expect(await codeOf(() => sessions.cast('c', 'add_one' as never))).toBe('EVENT_NOT_ACCEPTED');
    expect(await codeOf(() => sessions.cast('c', { kind: 'x' } as never))).toBe(
      'EVENT_NOT_ACCEPTED',
    );
  });
});

describe('terminate', () => {
  it('ends the session and frees its ID', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    await sessions.start('t', { input: { value: 5 } });
    await sessions.terminate('t');
    expect(sessions.started('t')).toBe(false);
    expect(await codeOf(sessions.call('t', { type: 'get_value' }))).toBe('SESSION_NOT_FOUND');
    await sessions.start('t');
    expect(await sessions.call('t', { type: 'get_value' })).toBe(0);
  });

  it('rejects SESSION_NOT_FOUND for a missing session', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    expect(await codeOf(sessions.terminate('missing'))).toBe('SESSION_NOT_FOUND');
  });

  it('ends a session whose machine reaches a final state', async () => {
    sessions = createSessionSupervisor({ logic: workerMachine });
    await sessions.start('f');
    const messages: unknown[] = [];
    sessions.subscribe('f', (m) => messages.push(m));
    sessions.cast('f', { type: 'finish' });
    expect(sessions.started('f')).toBe(false);
    expect(messages).toEqual([{ type: 'ended', reason: 'terminated' }]);
  });
});

describe('snapshot', () => {
  it('is plain and serializable, and its version grows with each change', async () => {
    sessions = createSessionSupervisor({ logic: kvMachine });
    await sessions.start('k');
    const a = sessions.snapshot('k');
    sessions.cast('k', { type: 'put', key: 'a', value: [1, 2] });
    const b = sessions.snapshot('k');
    expect(JSON.parse(JSON.stringify(b))).toEqual({
      value: {},
      context: { data: { a: [1, 2] } },
      status: 'active',
      version: 2,
    });
    expect(b.version).toBeGreaterThan(a.version);
    expect(sessions.snapshot('k').version).toBe(b.version);
  });

  it('throws SESSION_NOT_FOUND for a missing session', async () => {
    sessions = createSessionSupervisor({ logic: kvMachine });
    expect(await codeOf(() => sessions.snapshot('nope'))).toBe('SESSION_NOT_FOUND');
  });
});

describe('subscribe', () => {
  it('delivers each change with its version, and nothing after unsubscribing', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    await sessions.start('s');
    const seen: Array<[number, number]> = [];
    const off = sessions.subscribe('s', (m) => {
      if (m.type === 'snapshot') seen.push([m.version, m.snapshot.context.count]);
    });
    sessions.cast('s', { type: 'add_one' });
    sessions.cast('s', { type: 'add_one' });
    off();
    sessions.cast('s', { type: 'add_one' });
    expect(seen).toEqual([
      [2, 1],
      [3, 2],
    ]);
  });

  it('with select, notifies only when the selected value changes', async () => {
    sessions = createSessionSupervisor({ logic: kvMachine });
    await sessions.start('s');
    const seen: unknown[] = [];
    sessions.subscribe('s', (m) => m.type === 'snapshot' && seen.push(m.selected), {
      select: (s) => s.context.data.a ?? null,
    });
    sessions.cast('s', { type: 'put', key: 'b', value: 1 });
    sessions.cast('s', { type: 'put', key: 'a', value: 'x' });
    sessions.cast('s', { type: 'put', key: 'c', value: 1 });
    sessions.cast('s', { type: 'put', key: 'a', value: 'y' });
    expect(seen).toEqual(['x', 'y']);
  });

  it('keeps the session running when a listener throws', async () => {
    const errors: unknown[] = [];
    sessions = createSessionSupervisor({
      logic: counterMachine,
      onError: (e, info) => errors.push([info.source, (e as Error).message]),
    });
    await sessions.start('s');
    sessions.subscribe('s', () => {
      throw new Error('listener bug');
    });
    sessions.cast('s', { type: 'add_one' });
    expect(await sessions.call('s', { type: 'get_value' })).toBe(1);
    expect(errors).toEqual([['listener', 'listener bug']]);
  });

  it('throws SESSION_NOT_FOUND for a missing session', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    expect(await codeOf(() => sessions.subscribe('nope', () => {}))).toBe('SESSION_NOT_FOUND');
  });
});

describe('list, count and stats', () => {
  it('describe the running sessions', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine, logics: { kv: kvMachine } });
    const before = Date.now();
    await sessions.start('a');
    await sessions.start('b', { logic: 'kv' });
    await sessions.start('c');
    await sessions.terminate('c');
    expect(sessions.count).toBe(2);
    const rows = sessions.list();
    expect(rows.map((r) => [r.id, r.logic])).toEqual([
      ['a', 'default'],
      ['b', 'kv'],
    ]);
    expect(rows[0]!.startedAt).toBeGreaterThanOrEqual(before);
    expect(sessions.list({ offset: 1, limit: 1 }).map((r) => r.id)).toEqual(['b']);
    const stats = sessions.stats();
    expect(stats).toMatchObject({
      total: 2,
      byLogic: { default: 1, kv: 1 },
      started: 3,
      pendingCalls: 0,
    });
    expect(stats.ended.terminated).toBe(1);
  });
});

describe('touch', () => {
  it('returns whether the session exists', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    await sessions.start('a');
    expect(sessions.touch('a')).toBe(true);
    expect(sessions.touch('b')).toBe(false);
  });
});

describe('rename', () => {
  it('moves the live process to the new ID with its state, and the old ID reaches nothing', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    await sessions.start('old', { input: { value: 9 } });
    const ended: unknown[] = [];
    sessions.subscribe('old', (m) => ended.push(m));
    const handle = await sessions.rename('old', 'new');
    expect(handle.id).toBe('new');
    expect(await sessions.call('new', { type: 'get_value' })).toBe(9);
    expect(sessions.started('old')).toBe(false);
    expect(await codeOf(sessions.call('old', { type: 'get_value' }))).toBe('SESSION_ROTATED');
    expect(sessions.system.get('new')).toBe(handle.actor);
    expect(sessions.system.get('old')).toBeUndefined();
    expect(ended).toEqual([{ type: 'ended', reason: 'rotated' }]);
  });

  it('refuses a new ID that is taken', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    await sessions.start('a');
    await sessions.start('b');
    expect(await codeOf(sessions.rename('a', 'b'))).toBe('SESSION_ALREADY_STARTED');
    expect(await codeOf(sessions.rename('a', 'x y'))).toBe('INVALID_SESSION_ID');
  });
});

describe('shutdown', () => {
  it('ends every session and refuses new ones', async () => {
    sessions = createSessionSupervisor({ logic: counterMachine });
    await sessions.start('a');
    await sessions.start('b');
    await sessions.shutdown();
    expect(sessions.count).toBe(0);
    expect(await codeOf(sessions.start('c'))).toBe('SESSION_INIT_FAILED');
    expect(sessions.stats().ended.shutdown).toBe(2);
  });
});
