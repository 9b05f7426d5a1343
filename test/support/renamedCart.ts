import { assign, setup } from 'xstate';
import { reply, type SnapshotMigration } from 'session-process';

/** The events of {@link renamedCartAt}: `add` answers the new count, `items` the list. */
export type RenamedCartEvents = { type: 'add'; item: string } | { type: 'items' };

/**
 * A cart machine at `version`, for the version tests: version 2 (and any later one) renamed the
 * context field `items` to `entries`, so code of one version running a record of the other fails
 * visibly. `onAdd` runs with every add (a workload's log of what ran where).
 */
export function renamedCartAt(version: string, onAdd?: (self: object, item: string) => void) {
  const field = version === '1' ? 'items' : 'entries';
  return setup({
    types: { context: {} as Record<string, string[]>, events: {} as RenamedCartEvents },
  }).createMachine({
    id: 'cart',
    version,
    context: { [field]: [] },
    on: {
      add: {
        actions: [
          ({ self, event }) => onAdd?.(self, event.item),
          assign(({ context, event }) => ({ [field]: [...context[field]!, event.item] })),
          reply(({ context }) => context[field]!.length),
        ],
      },
      items: { actions: reply(({ context }) => context[field]) },
    },
  });
}

/** The migration from version 1: `items` becomes `entries`, the items kept. */
export const fromV1: SnapshotMigration = (snapshot) => {
  const { items, ...rest } = snapshot.context as { items: string[] };
  return { ...snapshot, context: { ...rest, entries: items } };
};
