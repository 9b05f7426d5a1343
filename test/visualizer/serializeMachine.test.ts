import { and, createMachine, not, stateIn } from 'xstate';
import { describe, expect, it } from 'vitest';
import { serializeMachine } from 'session-process/visualizer';
import { wizardMachine } from './wizardMachine.js';

describe('serializeMachine', () => {
  it('keeps the tree: ids, keys, types and initial states', () => {
    const def = serializeMachine(wizardMachine);
    expect(def.id).toBe('wizard');
    expect(def.root.type).toBe('parallel');
    expect(def.root.states.map((s) => [s.id, s.type])).toEqual([
      ['wizard.auth', 'compound'],
      ['wizard.flow', 'compound'],
    ]);
    const flow = def.root.states[1]!;
    expect(flow.initial).toEqual(['wizard.flow.editing']);
    expect(flow.states.map((s) => s.type)).toEqual(['compound', 'atomic', 'atomic', 'final']);
  });

  it('describes transitions: event, guard, targets, delays, invocations', () => {
    const def = serializeMachine(wizardMachine);
    const flow = def.root.states[1]!;
    const editing = flow.states[0]!;
    const [intro, plan, confirm] = editing.states;
    expect(intro!.transitions).toMatchObject([
      { event: 'wizard.next', kind: 'event', targets: ['wizard.flow.editing.plan'] },
    ]);
    expect(plan!.transitions.find((t) => t.event === 'wizard.next')).toMatchObject({
      guard: 'hasPlan',
      targets: ['wizard.flow.editing.confirm'],
    });
    expect(plan!.transitions.find((t) => t.event === 'wizard.choose')).toMatchObject({
      targets: [],
      actions: ['assign'],
    });
    expect(confirm!.transitions.find((t) => t.kind === 'after')).toMatchObject({
      delay: 600_000,
      label: 'after 10 min',
      targets: ['wizard.flow.editing.intro'],
    });
    // The raise/cancel pair XState adds for `after` is not shown as entry/exit actions.
    expect(confirm!.entry).toEqual([]);
    const saving = flow.states[1]!;
    expect(saving.invokes).toEqual([{ id: expect.any(String), src: 'saveProfile' }]);
    expect(saving.transitions.map((t) => [t.kind, t.label, t.targets[0]])).toEqual([
      ['done', 'done: saveProfile', 'wizard.flow.done'],
      ['error', 'error: saveProfile', 'wizard.flow.failed'],
    ]);
  });

  it('names combined, negated, state and inline guards, always and history', () => {
    const machine = createMachine({
      id: 'm',
      initial: 'a',
      states: {
        a: {
          always: { target: 'b', guard: and(['x', not('y')]) },
          on: {
            go: { target: 'b', guard: stateIn('#m.b') },
            inline: { target: 'b', guard: () => true },
            named: { target: 'hist', guard: { type: 'withParams', params: { n: 1 } } },
          },
          after: { slowly: 'b' },
        },
        b: {},
        hist: { type: 'history', history: 'deep' },
      },
    });
    const [a, , hist] = serializeMachine(machine).root.states;
    const byEvent = Object.fromEntries(a!.transitions.map((t) => [t.event || 'always', t]));
    expect(byEvent.always).toMatchObject({ kind: 'always', label: 'always', guard: 'x && !y' });
    expect(byEvent.go!.guard).toBe('in(#m.b)');
    expect(byEvent.inline!.guard).toBe('inline guard');
    expect(byEvent.named!.guard).toBe('withParams');
    expect(a!.transitions.find((t) => t.kind === 'after')).toMatchObject({
      delay: 'slowly',
      label: 'after slowly',
    });
    expect(hist).toMatchObject({ type: 'history', history: 'deep' });
  });
});
