import { describe, expect, it } from 'vitest';
import { setup } from 'xstate';
import { createSessionSupervisor, isSessionError, reply } from 'session-process';

const guarded = setup({
  types: { events: {} as { type: 'check' } },
  guards: {
    explodes: () => {
      throw new Error('guard failed');
    },
  },
}).createMachine({
  on: { check: { guard: 'explodes', actions: reply('ok') } },
});

describe('a guard that throws', () => {
  it('rejects the call with SESSION_CRASHED instead of throwing synchronously', async () => {
    const sessions = createSessionSupervisor({ logic: guarded, onError: () => {} });
    await sessions.start('g');
    let result: Promise<unknown> | undefined;
    expect(() => {
      result = sessions.call('g', { type: 'check' });
    }).not.toThrow();
    const err = await result!.catch((e: unknown) => e);
    expect(isSessionError(err, 'SESSION_CRASHED')).toBe(true);
    expect(String((err as Error).cause)).toMatch(/guard failed/);
    await sessions.shutdown();
  });
});
