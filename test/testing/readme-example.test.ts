// signIn.test.ts
import { reply } from 'session-process';
import { createSessionTestModel } from 'session-process/testing';
import { expect, it } from 'vitest';
import { assign, fromPromise, setup } from 'xstate';

// A session machine: sign in with a one-time code that expires after 5 minutes; three wrong
// codes lock the session. `verify` is an invoked promise; `status` is answered with `reply`.
const signInMachine = setup({
  types: {
    context: {} as { email: string | null; code: string | null; attempts: number },
    events: {} as
      | { type: 'code.request'; email: string }
      | { type: 'code.submit'; code: string }
      | { type: 'status' },
  },
  actors: {
    verify: fromPromise<boolean, { email: string; code: string }>(
      async ({ input }) => input.code === '123456', // a real app asks its mail service
    ),
  },
  guards: {
    locksOut: ({ context }) => context.attempts >= 2,
  },
  delays: {
    codeExpiry: 5 * 60_000,
  },
}).createMachine({
  id: 'signIn',
  context: { email: null, code: null, attempts: 0 },
  initial: 'anonymous',
  on: {
    status: {
      actions: reply(({ context }) => ({ email: context.email, attempts: context.attempts })),
    },
  },
  states: {
    anonymous: {
      on: {
        'code.request': {
          target: 'awaitingCode',
          actions: assign({ email: ({ event }) => event.email, attempts: 0 }),
        },
      },
    },
    awaitingCode: {
      after: { codeExpiry: 'anonymous' },
      on: {
        'code.submit': {
          target: 'verifying',
          actions: assign({ code: ({ event }) => event.code }),
        },
      },
    },
    verifying: {
      invoke: {
        id: 'verify',
        src: 'verify',
        input: ({ context }) => ({ email: context.email ?? '', code: context.code ?? '' }),
        onDone: [
          { guard: ({ event }) => event.output, target: 'signedIn' },
          { guard: 'locksOut', target: 'locked' },
          {
            target: 'awaitingCode',
            actions: assign({ attempts: ({ context }) => context.attempts + 1 }),
          },
        ],
        onError: { target: 'awaitingCode' },
      },
    },
    signedIn: {},
    locked: {},
  },
});

const model = createSessionTestModel(signInMachine, {
  // The events to try, with payloads. Delayed events (the 5-minute expiry) are added for you;
  // list the outcomes of invoked actors as done/error events with their output or error.
  events: [
    { type: 'code.request', email: 'ada@example.com' },
    { type: 'code.submit', code: '123456' },
    { type: 'status' },
    { type: 'xstate.done.actor.verify', output: true },
    { type: 'xstate.done.actor.verify', output: false },
    { type: 'xstate.error.actor.verify', error: 'mail service down' },
  ],
  // Events sent with `call` (the others with `cast`), and a check of their replies.
  calls: ['status'],
  checkReply: ({ reply, expected }) => {
    const { email, attempts } = expected.context as { email: string | null; attempts: number };
    expect(reply).toEqual({ email, attempts });
  },
});

// One vitest test per generated path, then one that prints the coverage and fails unless every
// state and transition was reached (`minCoverage` accepts less).
model.describe('signInMachine (model-based)');

// Or run every path yourself and look at the report.
it('reaches every state and transition', async () => {
  const report = await model.run({ paths: 'transitions' });
  expect(report.failures).toEqual([]);
  expect(report.coverage.transitions.reached).toBe(report.coverage.transitions.total);
});

// The same paths catch an implementation that differs from the model.
it('fails on an implementation whose guard changed', async () => {
  const implementation = signInMachine.provide({ guards: { locksOut: () => false } });
  const report = await model.run({ implementation, print: false });
  expect(report.failures[0]?.message).toContain('expected state: {"context":{"attempts":2,');
});
