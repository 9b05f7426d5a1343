import { describe, expect, it } from 'vitest';
import { createMachine, fromPromise } from 'xstate';
import { exploreConfigurations } from '../../src/testing/exploreConfigurations.js';

describe('exploreConfigurations', () => {
  it('lists each configuration with its history memory, pending delays, children and path', () => {
    const machine = createMachine({
      id: 'm',
      initial: 'form',
      states: {
        form: {
          initial: 'one',
          states: { one: { on: { next: 'two' } }, two: {}, hist: { type: 'history' } },
          on: { help: 'help' },
        },
        help: {
          after: { 1000: 'form.hist' },
          invoke: { id: 'fetch', src: fromPromise(async () => 1) },
          on: { back: 'form.hist' },
        },
      },
    });
    const { configurations } = exploreConfigurations(machine, {
      events: [{ type: 'next' }, { type: 'help' }, { type: 'back' }],
    });
    const keys = configurations.map((c) => ({
      value: c.snapshot.value,
      history: c.history,
      timers: c.timers.map((t) => `${t.event.type}@${t.dueInMs}`),
      children: c.children.map((c) => `${c.id}:${c.kind}`),
      events: c.events.map((e) => e.type),
    }));
    expect(keys).toEqual([
      { value: { form: 'one' }, history: {}, timers: [], children: [], events: [] },
      { value: { form: 'two' }, history: {}, timers: [], children: [], events: ['next'] },
      {
        value: 'help',
        history: { 'm.form.hist': ['m.form.one'] },
        timers: ['xstate.after.1000.m.help@1000'],
        children: ['fetch:promise'],
        events: ['help'],
      },
      {
        value: 'help',
        history: { 'm.form.hist': ['m.form.two'] },
        timers: ['xstate.after.1000.m.help@1000'],
        children: ['fetch:promise'],
        events: ['next', 'help'],
      },
      {
        value: { form: 'one' },
        history: { 'm.form.hist': ['m.form.one'] },
        timers: [],
        children: [],
        events: ['help', 'back'],
      },
      {
        value: { form: 'two' },
        history: { 'm.form.hist': ['m.form.two'] },
        timers: [],
        children: [],
        events: ['next', 'help', 'back'],
      },
      {
        value: { form: 'two' },
        history: { 'm.form.hist': ['m.form.one'] },
        timers: [],
        children: [],
        events: ['help', 'back', 'next'],
      },
    ]);
  });
});
