import type { AnyMachineSnapshot, AnyStateMachine, AnyStateNode, EventObject } from 'xstate';
import {
  type MigratableSnapshot,
  messageOf,
  type StoredTimer,
  type VersionedMachine,
} from '../../index.js';
import { formatEvent, formatEvents, formatValue, stableStringify } from '../format.js';
import { createInertScope } from '../inertScope.js';
import { activeStateNodes, analyzeMachine, descriptorMatches } from '../machineGraph.js';
import type { ModelEvent, ModelState } from '../types.js';
import { reachableConfigurations } from './reachableConfigurations.js';

/** Options of {@link verifyMigrations}: the model-based tests' own, plus `validate`. */
export interface VerifyMigrationsOptions {
  /**
   * The events to try in each state of every version, with their payloads, as for
   * `createSessionTestModel` (an event a version does not handle is not tried there). List the
   * done and error events of invocations (`xstate.done.actor.payment` with an `output`).
   */
  events: readonly ModelEvent[] | ((snapshot: AnyMachineSnapshot) => readonly ModelEvent[]);
  /**
   * Identity of a state for the traversal, as for `createSessionTestModel`: keep in it what a
   * guard or a migration reads, or configurations that differ there are never tried.
   * @default the value and the context as JSON with sorted keys
   */
  serializeState?: (state: ModelState) => string;
  /** The machines' `input`. @default undefined */
  input?: unknown;
  /** Most traversal steps per version; past it the run fails instead of claiming it is complete. @default 100_000 */
  limit?: number;
  /**
   * Checks a migrated snapshot (the newest version's, with its `timers`): throw, or return
   * `false` or a message, to fail it. For what the machine cannot say: a context field that
   * must be set, a total that must match its items.
   * @default undefined
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a validate that only throws returns nothing
  validate?: (snapshot: MigratableSnapshot) => boolean | string | undefined | void;
  /** Prints the summary: `true` to `console.log`, or a function. @default true */
  print?: boolean | ((text: string) => void);
}

/** A configuration of an older version that does not migrate to one the newest can run. */
export interface MigrationFailure {
  /** The version the configuration belongs to. */
  version: string;
  /** Its state value and context (before the migration). */
  value: unknown;
  context: unknown;
  /** The events from that version's initial state that reach it. */
  path: EventObject[];
  /** What is wrong: the migration threw, a state that does not exist, a timer dropped, ... */
  reason: string;
  /** All of the above, readable. */
  message: string;
}

/** What bounded the search, so that a pass says what it covered. */
export interface MigrationCoverage {
  /** How a configuration was identified: `'value+context'` (the default) or `'serializeState'`. */
  key: 'value+context' | 'serializeState';
  /** The event types tried (those listed, and those on the paths found). */
  events: string[];
  /** The traversal's step limit per version. */
  limit: number;
  /** Per older version: configurations found and traversal steps, and whether the search ended at the limit. */
  versions: Array<{ version: string; configurations: number; steps: number; stopped: boolean }>;
}

/** What {@link verifyMigrations} returns. */
export interface MigrationReport {
  /** Configurations migrated and checked. */
  checked: number;
  /** Empty when every configuration of every older version migrates to a runnable one and no search stopped at its limit. */
  failures: MigrationFailure[];
  covered: MigrationCoverage;
}

/**
 * Proves a chain of migrations complete: every configuration each older version of a machine can
 * reach with `events` (state value, context, history memory, pending `after` timers, running
 * children), found with the model-based traversal, is migrated to the newest version, then
 * checked: every state it names exists, `validate` passes, every pending timer maps to a delayed
 * transition of its new state (and every active state with one has its timer), every running
 * child's `src` exists, history memory points at states that exist, and it restores and takes
 * every event the newest version handles there without throwing. A search that stops at `limit`
 * is a failure, not a pass.
 *
 * @example
 * ```ts
 * import { verifyMigrations } from 'session-process/testing';
 * import { expect, it } from 'vitest';
 * import { cartVersions } from './machines/cartVersions.js';
 *
 * it('migrates every reachable cart', () => {
 *   const { failures } = verifyMigrations(cartVersions, { events: cartEvents });
 *   expect(failures).toEqual([]);
 * });
 * ```
 */
export function verifyMigrations(
  versioned: VersionedMachine,
  options: VerifyMigrationsOptions,
): MigrationReport {
  const chain = versioned.versions;
  if (!chain) throw new TypeError('verifyMigrations needs the logic machineVersions returned');
  const limit = options.limit ?? 100_000;
  const newest = chain.newestMachine;
  const newestGraph = analyzeMachine(newest);
  const scope = createInertScope();
  const failures: MigrationFailure[] = [];
  const eventTypes = new Set<string>();
  const covered: MigrationCoverage = {
    key: options.serializeState ? 'serializeState' : 'value+context',
    events: [],
    limit,
    versions: [],
  };
  const invokedIds = new Set<string>();
  for (const node of newestGraph.nodes.values())
    for (const def of node.invoke as Array<{ id: string }>) invokedIds.add(def.id);
  let checked = 0;
  const base = 1_000_000_000_000;

  chain.machines.slice(0, -1).forEach((machine: AnyStateMachine, index: number) => {
    const version = chain.list[index]!;
    const reach = reachableConfigurations(machine, {
      events: options.events,
      serializeState: options.serializeState,
      input: options.input,
      limit,
    });
    covered.versions.push({
      version,
      configurations: reach.configurations.length,
      steps: reach.steps,
      stopped: reach.stopped !== undefined,
    });
    if (reach.stopped !== undefined)
      failures.push(
        failure(
          version,
          undefined,
          `the search stopped, so no configuration of version ${version} was checked: ${reach.stopped}`,
        ),
      );
    for (const config of reach.configurations) {
      for (const e of config.events) eventTypes.add(e.type);
      if (config.snapshot.status !== 'active') continue;
      checked++;
      const fail = (reason: string) => failures.push(failure(version, config, reason));
      let persisted: MigratableSnapshot;
      try {
        persisted = JSON.parse(
          JSON.stringify(machine.getPersistedSnapshot(config.snapshot)),
        ) as MigratableSnapshot;
      } catch (err) {
        fail(`the snapshot cannot be persisted: ${messageOf(err)}`);
        continue;
      }
      const timers: StoredTimer[] = config.timers.map((t) => ({
        id: t.id,
        event: t.event,
        dueAt: base + t.dueInMs,
      }));
      let migrated: ReturnType<typeof chain.migrate>;
      try {
        migrated = chain.migrate(persisted, timers, version);
      } catch (err) {
        fail(messageOf(err));
        continue;
      }
      for (const problem of migrated.dropped) fail(`${problem.message}: it would be dropped`);
      const result = { ...migrated.snapshot, timers: migrated.timers };
      if (options.validate) {
        try {
          const verdict = options.validate(structuredClone(result));
          if (verdict === false || typeof verdict === 'string')
            fail(`validate refused it${typeof verdict === 'string' ? `: ${verdict}` : ''}`);
        } catch (err) {
          fail(`validate threw: ${messageOf(err)}`);
        }
      }
      let restored: AnyMachineSnapshot;
      try {
        restored = newest.restoreSnapshot!(
          structuredClone(migrated.snapshot) as never,
          scope as never,
        ) as AnyMachineSnapshot;
      } catch (err) {
        fail(`it does not restore in version '${chain.newest}': ${messageOf(err)}`);
        continue;
      }
      if (restored.status !== 'active') {
        fail(`it restores with status '${restored.status}' in version '${chain.newest}'`);
        continue;
      }
      // Every active state with a delayed transition needs its timer, or it waits forever.
      const armed = new Set(migrated.timers.map((t) => t.id));
      for (const node of activeStateNodes(newest, restored.value) as AnyStateNode[])
        for (const delayed of node.after as Array<{ eventType: string }>)
          if (!armed.has(delayed.eventType))
            fail(
              `state '${node.id}' has a delayed transition but no pending timer '${delayed.eventType}': it would never fire`,
            );
      // Every invocation of an active state runs, and every running invocation belongs to one:
      // a state waiting for a child that is not there never leaves; a child left running where
      // no state invokes it still acts (a payment charged twice).
      const running = new Set(Object.keys(migrated.snapshot.children ?? {}));
      const invokedHere = new Set<string>();
      for (const node of activeStateNodes(newest, restored.value) as AnyStateNode[])
        for (const def of node.invoke as Array<{ id: string; src: unknown }>) {
          invokedHere.add(def.id);
          if (!running.has(def.id))
            fail(
              `state '${node.id}' invokes '${def.id}', which is not running: it would wait for it forever`,
            );
        }
      for (const id of running)
        if (invokedIds.has(id) && !invokedHere.has(id))
          fail(
            `child '${id}' runs on, but no active state of version '${chain.newest}' invokes it`,
          );
      // It runs there: every event the newest version handles in it is taken without throwing.
      const userEvents =
        typeof options.events === 'function' ? options.events(restored) : options.events;
      for (const event of handledEvents(newest, restored, userEvents)) {
        try {
          const next = newest.transition(restored, event, scope as never) as AnyMachineSnapshot;
          if (next.status === 'error')
            fail(`after migrating, ${formatEvent(event)} fails: ${messageOf(next.error)}`);
        } catch (err) {
          fail(`after migrating, ${formatEvent(event)} throws: ${messageOf(err)}`);
        }
      }
    }
  });
  if (Array.isArray(options.events)) for (const e of options.events) eventTypes.add(e.type);
  covered.events = [...eventTypes].sort();

  const printer =
    options.print === false
      ? undefined
      : typeof options.print === 'function'
        ? options.print
        : console.log;
  printer?.(formatReport(versioned.id, chain.newest, checked, failures, covered));
  return { checked, failures, covered };
}

function failure(
  version: string,
  config: { snapshot: AnyMachineSnapshot; events: readonly EventObject[] } | undefined,
  reason: string,
): MigrationFailure {
  const value = config?.snapshot.value;
  const context = config?.snapshot.context;
  const path = [...(config?.events ?? [])];
  return {
    version,
    value,
    context,
    path,
    reason,
    message: `version ${version}, ${formatValue(value)} ${stableStringify(context)}\n  reached by: ${formatEvents(path)}\n  ${reason}`,
  };
}

function formatReport(
  name: string,
  newest: string,
  checked: number,
  failures: readonly MigrationFailure[],
  covered: MigrationCoverage,
): string {
  const per = covered.versions
    .map(
      (v) =>
        `v${v.version}: ${v.configurations} configurations${v.stopped ? ' (STOPPED at the limit)' : ''}`,
    )
    .join(', ');
  const head = `[session-process/testing] ${name} migrations to v${newest}: ${checked} configurations checked (${per}); key ${covered.key}, ${covered.events.length} event types, limit ${covered.limit} steps per version`;
  if (failures.length === 0) return `${head}\n  every configuration migrates to one that runs`;
  const shown = failures.slice(0, 10).map((f) => `  ✗ ${f.message.replace(/\n/g, '\n  ')}`);
  const more = failures.length > 10 ? `\n  … and ${failures.length - 10} more` : '';
  return `${head}\n  ${failures.length} failing:\n${shown.join('\n')}${more}`;
}

/** The listed events some active state of the snapshot handles. */
function handledEvents(
  machine: AnyStateMachine,
  snapshot: AnyMachineSnapshot,
  events: readonly EventObject[],
): EventObject[] {
  const descriptors = new Set<string>();
  for (const node of activeStateNodes(machine, snapshot.value) as AnyStateNode[])
    for (const d of node.ownEvents) descriptors.add(d);
  return events.filter((e) => [...descriptors].some((d) => descriptorMatches(d, e.type)));
}
