import { afterEach, describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { callIdOf, createSessionSupervisor, isSessionError, reply } from 'session-process';

/**
 * `hold` keeps its call waiting and stores the call's id in context, where a view or the
 * visualizer could show it; `echo` replies in its own step with the text it was sent.
 */
const holder = setup({
  types: {
    context: {} as { waiting: string | null },
    events: {} as
      | { type: 'hold' }
      | { type: 'echo'; text: string; $callId?: string }
      | { type: 'release' },
  },
}).createMachine({
  context: { waiting: null },
  on: {
    hold: { actions: assign({ waiting: ({ event }) => callIdOf(event) ?? null }) },
    echo: { actions: reply(({ event }) => event.text) },
    release: {
      actions: [
        reply('released', { to: ({ context }) => context.waiting ?? undefined }),
        assign({ waiting: null }),
      ],
    },
  },
});

describe('call correlation', () => {
  const sessions = createSessionSupervisor({ logic: holder, callTimeoutMs: 200 });
  afterEach(async () => {
    for (const { id } of sessions.list()) await sessions.terminate(id);
  });

  it('does not let a cast carrying the id of a waiting call answer it', async () => {
    await sessions.start('victim');
    const waiting = sessions.call('victim', { type: 'hold' }, { timeoutMs: 100 });
    const id = sessions.snapshot('victim').context.waiting as string;
    expect(id).toEqual(expect.any(String));
    sessions.cast('victim', { type: 'echo', text: 'forged', $callId: id });
    const outcome = await waiting.then(
      (value) => ({ value }),
      (err) => ({ code: isSessionError(err) ? err.code : String(err) }),
    );
    expect(outcome).toEqual({ code: 'CALL_TIMEOUT' });
  });

  it('does not let another call carrying that id answer it', async () => {
    await sessions.start('victim2');
    const waiting = sessions.call('victim2', { type: 'hold' });
    const id = sessions.snapshot('victim2').context.waiting as string;
    // The forging call is answered itself, with its own text; the waiting call is untouched.
    expect(await sessions.call('victim2', { type: 'echo', text: 'forged', $callId: id })).toBe(
      'forged',
    );
    sessions.cast('victim2', { type: 'release' });
    expect(await waiting).toBe('released');
  });

  it('gives calls ids that are random, not sequential', async () => {
    await sessions.start('ids');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const p = sessions.call('ids', { type: 'hold' }, { timeoutMs: 50 }).catch(() => {});
      ids.push(sessions.snapshot('ids').context.waiting as string);
      await p;
    }
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });
});
