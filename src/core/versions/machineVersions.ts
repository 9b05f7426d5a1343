import type { AnyStateMachine } from 'xstate';
import { VersionChain, type MachineVersionsOptions } from './VersionChain.js';

/** A logic that `machineVersions` returned: the newest machine, carrying all its versions. */
export type VersionedMachine<TMachine extends AnyStateMachine = AnyStateMachine> = TMachine & {
  /** The versions, oldest first, and the migrations between them. */
  readonly versions: VersionChain;
};

type Last<T extends readonly unknown[]> = T extends readonly [...unknown[], infer L] ? L : never;

/**
 * The versions of a session machine, oldest first, with the migrations between them, shaped as
 * XState v6's `machineVersions([...])` (so migrations written for it carry over). The result is
 * the newest machine (new sessions start on it) and goes wherever a logic goes (`logic`,
 * `logics`); a stored session of an older version is migrated step by step when it is restored,
 * its pending `after` timers moved with their states (kept with their due times, or dropped and
 * reported through `onError`). A record newer than every version here is refused with
 * `SESSION_VERSION_AHEAD` and left untouched. `verifyMigrations` (`session-process/testing`)
 * proves the migrations cover every reachable configuration of every older version.
 *
 * Each machine needs `version` in its config, and all share one `id`.
 *
 * @example
 * ```ts
 * import { createSessionSupervisor, machineVersions, memoryStore } from 'session-process';
 * import { createMachine } from 'xstate';
 *
 * const cartV1 = createMachine({ id: 'cart', version: '1', initial: 'browsing', states: { browsing: {} } });
 * const cartV2 = createMachine({ id: 'cart', version: '2', initial: 'open', states: { open: {} } });
 * const cart = machineVersions([cartV1, cartV2], {
 *   migrations: { '1': (snapshot) => ({ ...snapshot, value: 'open' }) },
 * });
 * const sessions = createSessionSupervisor({ logics: { cart }, store: memoryStore() });
 * ```
 */
export function machineVersions<
  const TMachines extends readonly [AnyStateMachine, ...AnyStateMachine[]],
>(
  machines: TMachines,
  options: MachineVersionsOptions = {},
): VersionedMachine<Last<TMachines> & AnyStateMachine> {
  const versions = new VersionChain(machines, options);
  // A copy of the newest machine (the user's object is left as it was) that carries the rest.
  const newest = versions.newestMachine.provide({}) as AnyStateMachine;
  Object.defineProperty(newest, 'versions', { value: versions, enumerable: false });
  return newest as VersionedMachine<Last<TMachines> & AnyStateMachine>;
}

/** @internal The versions a logic carries, when `machineVersions` made it. */
export function versionsOf(logic: unknown): VersionChain | undefined {
  const v = (logic as { versions?: unknown } | null)?.versions;
  return v instanceof VersionChain ? v : undefined;
}
