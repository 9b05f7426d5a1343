import { assign, fromPromise, setup } from 'xstate';

/**
 * A machine with every shape the visualizer draws: a parallel root with two regions, nested
 * compound states, guarded and delayed transitions, an invoked promise with onDone/onError, a
 * final state and targetless transitions. Secrets in context check `sanitize`.
 */
export const wizardMachine = setup({
  types: {
    context: {} as {
      user: string | null;
      password: string | null;
      plan: string | null;
      steps: number;
      profile: { name: string; apiToken: string };
    },
    events: {} as
      | { type: 'auth.login'; user: string; password: string }
      | { type: 'auth.logout' }
      | { type: 'wizard.next' }
      | { type: 'wizard.back' }
      | { type: 'wizard.choose'; plan: string }
      | { type: 'wizard.submit' }
      | { type: 'wizard.retry' }
      | { type: 'wizard.ping' },
  },
  guards: {
    isLoggedIn: ({ context }) => context.user !== null,
    hasPlan: ({ context }) => context.plan !== null,
  },
  actors: {
    saveProfile: fromPromise(async () => ({ ok: true })),
  },
}).createMachine({
  id: 'wizard',
  type: 'parallel',
  context: {
    user: null,
    password: null,
    plan: null,
    steps: 0,
    profile: { name: 'Ada', apiToken: 'tok_live_123' },
  },
  on: { 'wizard.ping': { actions: assign({ steps: ({ context }) => context.steps }) } },
  states: {
    auth: {
      initial: 'anonymous',
      states: {
        anonymous: {
          on: {
            'auth.login': {
              target: 'loggedIn',
              actions: assign({
                user: ({ event }) => event.user,
                password: ({ event }) => event.password,
              }),
            },
          },
        },
        loggedIn: { on: { 'auth.logout': 'anonymous' } },
      },
    },
    flow: {
      initial: 'editing',
      states: {
        editing: {
          initial: 'intro',
          states: {
            intro: { on: { 'wizard.next': 'plan' } },
            plan: {
              on: {
                'wizard.choose': {
                  actions: assign({ plan: ({ event }) => event.plan }),
                },
                'wizard.next': { target: 'confirm', guard: 'hasPlan' },
                'wizard.back': 'intro',
              },
            },
            confirm: {
              on: { 'wizard.back': 'plan' },
              after: { 600000: 'intro' },
            },
          },
          on: {
            'wizard.submit': { target: 'saving', guard: 'isLoggedIn' },
          },
        },
        saving: {
          invoke: {
            src: 'saveProfile',
            onDone: 'done',
            onError: 'failed',
          },
        },
        failed: { on: { 'wizard.retry': 'saving' } },
        done: { type: 'final' },
      },
    },
  },
});
