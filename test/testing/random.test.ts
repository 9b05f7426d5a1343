import { createSeededRandom, createSessionTestModel } from 'session-process/testing';
import { describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';

const quiet = { print: false } as const;

/** A dice game: each roll draws a number; a six wins; a retry waits a random back-off. */
const diceMachine = setup({
  types: { context: {} as { roll: number; rolls: number } },
  guards: { isSix: ({ context }) => context.roll === 6 },
  actions: {
    roll: assign({
      roll: () => 1 + Math.floor(Math.random() * 6),
      rolls: ({ context }) => Math.min(context.rolls + 1, 3),
    }),
  },
  delays: { backoff: () => 1_000 + Math.floor(Math.random() * 4) * 1_000 },
}).createMachine({
  id: 'dice',
  context: { roll: 0, rolls: 0 },
  initial: 'ready',
  states: {
    ready: { on: { roll: { target: 'rolled', actions: 'roll' } } },
    rolled: {
      always: [{ guard: 'isSix', target: 'won' }, { target: 'waiting' }],
    },
    waiting: { after: { backoff: 'ready' }, on: { give_up: 'lost' } },
    won: { type: 'final' },
    lost: { type: 'final' },
  },
});
const events = [{ type: 'roll' }, { type: 'give_up' }];

describe('randomness', () => {
  it('reports a model that uses Math.random without a seed as nondeterministic', () => {
    const model = createSessionTestModel(diceMachine, { events });
    expect(() => model.getPaths()).toThrow(
      /dice: the model is nondeterministic: .* gave two different states on the same path[\s\S]*This is a property of the model, not a failure of the implementation\. Give the model a `seed`/,
    );
  });

  it('passes with a seed, and the same seed gives the same paths and results', async () => {
    const first = createSessionTestModel(diceMachine, { events, seed: 42 });
    const again = createSessionTestModel(diceMachine, { events, seed: 42 });
    const a = await first.run(quiet);
    const b = await again.run(quiet);
    expect(a.failures).toEqual([]);
    expect(a.paths).toEqual(b.paths);
    expect(a.coverage).toEqual(b.coverage);
    // Another seed rolls other numbers: other paths.
    const other = createSessionTestModel(diceMachine, { events, seed: 7 });
    expect(other.getPaths().map((p) => p.title)).not.toEqual(first.getPaths().map((p) => p.title));
  });

  it('leaves Math.random as it was after a run', async () => {
    const before = Math.random;
    await createSessionTestModel(diceMachine, { events, seed: 1 }).run(quiet);
    expect(Math.random).toBe(before);
  });

  it('catches a mutant that draws differently, printing the seed', async () => {
    const model = createSessionTestModel(diceMachine, { events, seed: 42 });
    const implementation = diceMachine.provide({
      actions: {
        roll: assign({
          roll: () => 1 + Math.floor(Math.random() * 5), // never a six
          rolls: ({ context }) => Math.min(context.rolls + 1, 3),
        }),
      },
    });
    const report = await model.run({ ...quiet, implementation });
    expect(report.failures.length).toBeGreaterThan(0);
    expect(report.failures[0]?.message).toContain(
      'seed: 42 (Math.random drew from it; run({ seed: 42 }) replays this path)',
    );
  });

  it('gives other drivers each step seed through driver.seed', async () => {
    const model = createSessionTestModel(diceMachine, { events, seed: 42 });
    const seeds: number[] = [];
    const report = await model.run({
      ...quiet,
      maxPaths: 1,
      minCoverage: 0,
      drive: async ({ supervisorOptions }) => {
        const { createSessionSupervisor } = await import('session-process');
        const { createSupervisorDriver } = await import('session-process/testing');
        const sessions = createSessionSupervisor(supervisorOptions);
        return {
          ...createSupervisorDriver(sessions),
          seed: (seed) => void seeds.push(seed),
          close: () => sessions.shutdown(),
        };
      },
    });
    expect(report.failures).toEqual([]);
    expect(seeds.length).toBeGreaterThan(1);
    expect(createSeededRandom(seeds[0] as number)()).toBe(createSeededRandom(seeds[0] as number)());
  });
});
