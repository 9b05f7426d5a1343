import { describe, expect, it } from 'vitest';
import { assign, createMachine, fromPromise, setup } from 'xstate';
import { machineVersions } from 'session-process';
import { verifyMigrations } from 'session-process/testing';

const quiet = { print: false } as const;

describe('verifyMigrations', () => {
  it('catches a state with no mapping, with the path that reaches it', () => {
    const v1 = createMachine({
      id: 'm',
      version: '1',
      initial: 'a',
      states: { a: { on: { go: 'b' } }, b: { on: { go: 'c' } }, c: {} },
    });
    const v2 = createMachine({
      id: 'm',
      version: '2',
      initial: 'a',
      states: { a: { on: { go: 'b' } }, b: { on: { go: 'd' } }, d: {} },
    });
    const versions = machineVersions([v1, v2]);
    const { failures, checked } = verifyMigrations(versions, {
      events: [{ type: 'go' }],
      ...quiet,
    });
    expect(checked).toBe(3);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      version: '1',
      value: 'c',
      path: [{ type: 'go' }, { type: 'go' }],
    });
    expect(failures[0]!.reason).toMatch(/names states version '2' does not have: m\.c/);
  });

  it('catches a mapping that fails only for some contexts, reached after several events', () => {
    const counter = (version: string) =>
      setup({ types: { context: {} as { n: number } } }).createMachine({
        id: 'counter',
        version,
        context: { n: 0 },
        initial: 'low',
        states: {
          low: {
            on: {
              inc: [
                { guard: ({ context }) => context.n >= 3, target: 'high' },
                { actions: assign({ n: ({ context }) => context.n + 1 }) },
              ],
            },
          },
          high: {},
          ...(version === '2' ? { small: {}, large: {} } : {}),
        },
      });
    const versions = machineVersions([counter('1'), counter('2')], {
      migrations: {
        // Wrong for n = 2 and 3 only: `medium` does not exist.
        '1': (s) => ({
          ...s,
          value: s.value === 'high' ? 'large' : s.context.n < 2 ? 'small' : 'medium',
        }),
      },
    });
    const { failures } = verifyMigrations(versions, { events: [{ type: 'inc' }], ...quiet });
    expect(failures.map((f) => f.context)).toEqual([{ n: 2 }, { n: 3 }]);
    expect(failures[1]!.path).toEqual([{ type: 'inc' }, { type: 'inc' }, { type: 'inc' }]);
    expect(failures[1]!.message).toContain('reached by: inc › inc › inc');
  });

  it('catches a timer the new state cannot hold', () => {
    const v1 = createMachine({
      id: 't',
      version: '1',
      initial: 'idle',
      states: { idle: { on: { hold: 'held' } }, held: { after: { 5000: 'idle' } } },
    });
    const v2 = createMachine({
      id: 't',
      version: '2',
      initial: 'idle',
      // The hold became a 10 s one, and the migration does not say what to do with a 5 s timer.
      states: { idle: { on: { hold: 'held' } }, held: { after: { 10000: 'idle' } } },
    });
    const { failures } = verifyMigrations(machineVersions([v1, v2]), {
      events: [{ type: 'hold' }],
      ...quiet,
    });
    expect(failures.map((f) => [f.value, f.path.map((e) => e.type)])).toContainEqual([
      'held',
      ['hold'],
    ]);
    expect(failures.map((f) => f.reason).join('\n')).toMatch(
      /timer 'xstate\.after\.5000\.t\.held'/,
    );
  });

  it('catches a running child whose src is gone', () => {
    const v1 = setup({ actors: { charge: fromPromise(async () => 'ok') } }).createMachine({
      id: 'p',
      version: '1',
      initial: 'idle',
      states: {
        idle: { on: { pay: 'paying' } },
        paying: { invoke: { id: 'charge', src: 'charge', onDone: 'idle' } },
      },
    });
    const v2 = setup({ actors: { pay: fromPromise(async () => 'ok') } }).createMachine({
      id: 'p',
      version: '2',
      initial: 'idle',
      states: {
        idle: { on: { pay: 'paying' } },
        paying: { invoke: { id: 'charge', src: 'pay', onDone: 'idle' } },
      },
    });
    const { failures } = verifyMigrations(machineVersions([v1, v2]), {
      events: [{ type: 'pay' }, { type: 'xstate.done.actor.charge', output: 'ok' }],
      ...quiet,
    });
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]).toMatchObject({ value: 'paying', path: [{ type: 'pay' }] });
    expect(failures.map((f) => f.reason).join('\n')).toMatch(
      /running child 'charge' \(src 'charge'\): version '2' has no actor 'charge'/,
    );
  });

  it('catches a history memory pointing at a removed state', () => {
    const v1 = createMachine({
      id: 'w',
      version: '1',
      initial: 'form',
      states: {
        form: {
          initial: 'name',
          states: {
            name: { on: { next: 'address' } },
            address: { on: { next: 'card' } },
            card: {},
            hist: { type: 'history' },
          },
          on: { help: 'help' },
        },
        help: { on: { back: 'form.hist' } },
      },
    });
    const v2 = createMachine({
      id: 'w',
      version: '2',
      initial: 'form',
      states: {
        form: {
          initial: 'name',
          // `address` was folded into `name`.
          states: { name: { on: { next: 'card' } }, card: {}, hist: { type: 'history' } },
          on: { help: 'help' },
        },
        help: { on: { back: 'form.hist' } },
      },
    });
    const versions = machineVersions([v1, v2], {
      migrations: {
        '1': (s) => {
          const form = (s.value as { form?: string }).form;
          return form === 'address' ? { ...s, value: { form: 'name' } } : s;
        },
      },
    });
    const { failures } = verifyMigrations(versions, {
      events: [{ type: 'next' }, { type: 'help' }, { type: 'back' }],
      ...quiet,
    });
    // The memory outlives the visit to `help`: form.address and form.card after `back` hold it too.
    expect(failures.map((f) => f.path.map((e) => e.type).join(' '))).toEqual([
      'next help',
      'next help back',
      'next help back next',
    ]);
    expect(failures[0]).toMatchObject({
      value: 'help',
      path: [{ type: 'next' }, { type: 'help' }],
    });
    expect(failures[0]!.reason).toMatch(
      /history memory of 'w\.form\.hist' points at 'w\.form\.address'/,
    );
  });

  it('fails when the search stops at its limit instead of claiming completeness', () => {
    const grow = (version: string) =>
      setup({ types: { context: {} as { n: number } } }).createMachine({
        id: 'g',
        version,
        context: { n: 0 },
        on: { inc: { actions: assign({ n: ({ context }) => context.n + 1 }) } },
      });
    const lines: string[] = [];
    const report = verifyMigrations(machineVersions([grow('1'), grow('2')]), {
      events: [{ type: 'inc' }],
      limit: 50,
      print: (text) => lines.push(text),
    });
    expect(report.covered).toMatchObject({ limit: 50, key: 'value+context', events: ['inc'] });
    expect(report.covered.versions[0]).toMatchObject({ version: '1', stopped: true });
    expect(report.failures.map((f) => f.reason)).toEqual([
      expect.stringMatching(/the search stopped.*more than 50 traversal steps.*context\.n/),
    ]);
    expect(lines.join('\n')).toMatch(/STOPPED at the limit/);
  });

  it('passes and says what it covered when every configuration migrates', () => {
    const lines: string[] = [];
    const v1 = createMachine({
      id: 'm',
      version: '1',
      initial: 'a',
      states: { a: { on: { go: 'b' } }, b: {} },
    });
    const v2 = createMachine({
      id: 'm',
      version: '2',
      initial: 'a',
      states: { a: { on: { go: 'b' } }, b: {}, c: {} },
    });
    const report = verifyMigrations(machineVersions([v1, v2]), {
      events: [{ type: 'go' }],
      print: (text) => lines.push(text),
    });
    expect(report).toMatchObject({ checked: 2, failures: [] });
    expect(lines[0]).toMatch(
      /m migrations to v2: 2 configurations checked \(v1: 2 configurations\)/,
    );
  });
});
