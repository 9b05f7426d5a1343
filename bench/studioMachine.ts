import { assign, setup, stateIn } from 'xstate';

/** Context of {@link studioMachine}. */
export interface StudioContext {
  /** Unsaved edits, at most `maxEdits`. */
  edits: number;
  /** Failed connection attempts in a row, at most `maxRetries`. */
  retries: number;
}

/** Input of {@link studioMachine}. */
export interface StudioInput {
  /** Edits kept before `edit` is refused. @default 120 */
  maxEdits?: number;
  /** Connection attempts retried before giving up. @default 2 */
  maxRetries?: number;
}

/**
 * A document editor's session, sized to test the model-based runner at scale: a parallel root
 * with `connection` (offline | connecting | online, retrying a failed connection up to
 * `maxRetries` times) and `document` (clean | dirty | saving; a save starts only when online,
 * and at most `maxEdits` unsaved edits are kept). With the defaults it has 1,205 distinct
 * states by value and context (5 of the connection times 241 of the document), and its
 * 'transitions' plan 3,129 paths of up to 125 steps.
 *
 * @example
 * ```ts
 * const model = createSessionTestModel(studioMachine, { events: studioEvents });
 * const report = await model.run(); // every path, 100 % of states and transitions
 * ```
 */
export const studioMachine = setup({
  types: {
    context: {} as StudioContext & { limits: Required<StudioInput> },
    input: {} as StudioInput | undefined,
    events: {} as
      | { type: 'connect' }
      | { type: 'connect.ok' }
      | { type: 'connect.fail' }
      | { type: 'drop' }
      | { type: 'edit' }
      | { type: 'save' }
      | { type: 'save.ok' }
      | { type: 'save.fail' },
  },
  guards: {
    retriesLeft: ({ context }) => context.retries < context.limits.maxRetries,
    belowMaxEdits: ({ context }) => context.edits < context.limits.maxEdits,
  },
  actions: {
    countRetry: assign({ retries: ({ context }) => context.retries + 1 }),
    resetRetries: assign({ retries: 0 }),
    countEdit: assign({ edits: ({ context }) => context.edits + 1 }),
    resetEdits: assign({ edits: 0 }),
  },
}).createMachine({
  id: 'studio',
  type: 'parallel',
  context: ({ input }) => ({
    edits: 0,
    retries: 0,
    limits: { maxEdits: input?.maxEdits ?? 120, maxRetries: input?.maxRetries ?? 2 },
  }),
  states: {
    connection: {
      initial: 'offline',
      states: {
        offline: { on: { connect: 'connecting' } },
        connecting: {
          on: {
            'connect.ok': { target: 'online', actions: 'resetRetries' },
            'connect.fail': [
              { guard: 'retriesLeft', actions: 'countRetry' },
              { target: 'offline', actions: 'resetRetries' },
            ],
          },
        },
        online: { on: { drop: 'offline' } },
      },
    },
    document: {
      initial: 'clean',
      states: {
        clean: { on: { edit: { target: 'dirty', actions: 'countEdit' } } },
        dirty: {
          on: {
            edit: { guard: 'belowMaxEdits', actions: 'countEdit' },
            save: { guard: stateIn('#studio.connection.online'), target: 'saving' },
          },
        },
        saving: {
          on: {
            'save.ok': { target: 'clean', actions: 'resetEdits' },
            'save.fail': { target: 'dirty' },
          },
        },
      },
    },
  },
});

/** Every event of {@link studioMachine}, for its model. */
export const studioEvents = [
  { type: 'connect' },
  { type: 'connect.ok' },
  { type: 'connect.fail' },
  { type: 'drop' },
  { type: 'edit' },
  { type: 'save' },
  { type: 'save.ok' },
  { type: 'save.fail' },
];
