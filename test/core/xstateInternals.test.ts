import { afterEach, describe, expect, it, vi } from 'vitest';

afterEach(() => {
  vi.doUnmock('xstate');
  vi.resetModules();
});

describe('the XState internals check', () => {
  it('refuses to create a supervisor on an xstate whose system lacks _relay, naming it', async () => {
    vi.doMock('xstate', async (importOriginal) => {
      const xstate = await importOriginal<typeof import('xstate')>();
      return {
        ...xstate,
        createActor: ((logic: any, options?: any) => {
          const actor = xstate.createActor(logic, options);
          delete (actor.system as unknown as Record<string, unknown>)._relay;
          return actor;
        }) as typeof xstate.createActor,
      };
    });
    const { createSessionSupervisor } = await import('session-process');
    const { setup } = await import('xstate');
    expect(() => createSessionSupervisor({ logic: setup({}).createMachine({}) })).toThrow(
      /lacks system\._relay.*peerDependencies/,
    );
  });

  it('accepts the installed xstate', async () => {
    const { createSessionSupervisor } = await import('session-process');
    const { setup } = await import('xstate');
    const sessions = createSessionSupervisor({ logic: setup({}).createMachine({}) });
    await sessions.start('ok');
    await sessions.rename('ok', 'renamed');
    expect(sessions.system.get('renamed')).toBeDefined();
    await sessions.shutdown();
  });
});
