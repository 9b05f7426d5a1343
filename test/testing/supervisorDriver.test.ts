import { createSessionTestModel } from 'session-process/testing';
import { describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';

const quiet = { print: false } as const;

/** A wizard whose session ends in a top-level final state. */
const wizard = setup({
  types: {
    context: {} as { answer: string | null; sealed: boolean },
    events: {} as { type: 'answer'; value: string } | { type: 'submit' } | { type: 'quit' },
  },
  actions: {
    keepAnswer: assign({ answer: ({ event }) => (event.type === 'answer' ? event.value : null) }),
    seal: assign({ sealed: true }),
  },
}).createMachine({
  id: 'wizard',
  context: { answer: null, sealed: false },
  initial: 'asking',
  states: {
    asking: {
      on: {
        answer: { target: 'review', actions: 'keepAnswer' },
        quit: 'abandoned',
      },
    },
    review: {
      on: { submit: { target: 'submitted', actions: 'seal' }, answer: { actions: 'keepAnswer' } },
    },
    submitted: { type: 'final' },
    abandoned: { type: 'final' },
  },
});

const wizardEvents = [{ type: 'answer', value: 'yes' }, { type: 'submit' }, { type: 'quit' }];

describe('top-level final states', () => {
  it('ends paths in a final state, compares it and covers it', async () => {
    const model = createSessionTestModel(wizard, { events: wizardEvents });
    const report = await model.run(quiet);
    expect(report.failures).toEqual([]);
    expect(report.coverage.states).toEqual({ reached: 5, total: 5, missing: [] });
    expect(report.coverage.transitions).toEqual({ reached: 4, total: 4, missing: [] });
    expect(report.paths.map((p) => p.title)).toContain(
      'answer {"value":"yes"} › submit ⇒ submitted (final)',
    );
  });

  it('catches a wrong action on the transition into the final state, comparing the final context', async () => {
    const implementation = wizard.provide({ actions: { seal: () => {} } });
    const model = createSessionTestModel(wizard, { events: wizardEvents });
    const report = await model.run({ ...quiet, implementation });
    const failure = report.failures.find((f) => f.step > 0);
    expect(failure?.title).toBe('answer {"value":"yes"} › submit ⇒ submitted (final)');
    expect(failure?.step).toBe(2);
    expect(failure?.expected).toBe(
      '{"context":{"answer":"yes","sealed":true},"value":"submitted"} (final: the session ended)',
    );
    expect(failure?.actual).toBe(
      '{"context":{"answer":"yes","sealed":false},"value":"submitted"} (final: the session ended)',
    );
    expect(failure?.message).toContain('✗ 2. submit → expected submitted (final)');
  });

  it('catches an implementation that does not end where the model does', async () => {
    // The mutant's `submitted` is not final: the session goes on.
    const notFinal = setup({
      types: { context: {} as { answer: string | null; sealed: boolean } },
    }).createMachine({
      id: 'wizard',
      context: { answer: null, sealed: false },
      initial: 'asking',
      states: {
        asking: {
          on: {
            answer: { target: 'review', actions: assign({ answer: ({ event }) => event.value }) },
            quit: 'abandoned',
          },
        },
        review: { on: { submit: { target: 'submitted', actions: assign({ sealed: true }) } } },
        submitted: {},
        abandoned: { type: 'final' },
      },
    });
    const model = createSessionTestModel(wizard, { events: wizardEvents });
    const report = await model.run({ ...quiet, implementation: notFinal });
    const failure = report.failures.find((f) => f.path.at(-1)?.type === 'submit');
    expect(failure?.expected).toBe(
      '{"context":{"answer":"yes","sealed":true},"value":"submitted"} (final: the session ended)',
    );
    expect(failure?.actual).toBe('{"context":{"answer":"yes","sealed":true},"value":"submitted"}');
  });
});
