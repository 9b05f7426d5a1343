import type { AnyStateMachine, AnyStateNode } from 'xstate';
import type { StoredTimer } from '../persistence/record.js';
import { compareVersions } from './compareVersions.js';
import { afterId, hasDelay, nodeById, parseAfterId, walkValue } from './configuration.js';

/**
 * A persisted snapshot as a migration receives and returns it: XState's
 * `getPersistedSnapshot()` (`value`, `context`, `historyValue`, `children`, ...) plus the
 * session's pending delayed events in `timers`, with their due times, as XState v6's persisted
 * snapshots carry them. A migration that leaves `timers` alone has each `after` timer moved with
 * its state by the library; one that rewrites a timer itself (a changed delay) is taken at its
 * word, and the result is checked all the same.
 */
export interface MigratableSnapshot {
  /** The state value (`'shopping'`, `{ auth: 'anonymous', cart: 'empty' }`). */
  value: any;
  context: any;
  /** History memory: history node id → the state nodes remembered (`[{ id }]`). */
  historyValue?: Record<string, Array<{ id: string }>>;
  /** Running children (invocations): actor id → `{ src, snapshot, systemId, syncSnapshot }`. */
  children?: Record<string, { src: unknown; snapshot: unknown; [key: string]: unknown }>;
  /** The pending delayed events (`xstate.after.<delay>.<stateId>` for `after` transitions). */
  timers?: StoredTimer[];
  [key: string]: unknown;
}

/**
 * One migration: a persisted snapshot of one version in, the next retained version's out.
 * Synchronous (a restore may be synchronous); throw to refuse a snapshot
 * (`SESSION_RESTORE_FAILED`).
 */
export type SnapshotMigration = (snapshot: MigratableSnapshot) => MigratableSnapshot;

/** Options of `machineVersions`. */
export interface MachineVersionsOptions {
  /**
   * Migrations by the version they start from: `'1'` maps a persisted v1 snapshot to the next
   * retained version's; `'*'` serves every version without its own entry. A retained version
   * with neither passes its snapshot on unchanged (timers still move with their states).
   * @default {} (every snapshot passes unchanged)
   */
  migrations?: Readonly<Record<string, SnapshotMigration>>;
  /**
   * The version of a record written without one (by a machine that had no `version` yet).
   * @default undefined (such a record cannot be ordered: `SESSION_VERSION_AHEAD`, left untouched)
   */
  unversioned?: string | undefined;
}

/** Something a migration lost on the way: reported, never silent. */
export interface MigrationProblem {
  kind: 'timer' | 'child' | 'history';
  /** Readable: which timer, child or history entry, and why. */
  message: string;
}

/** What {@link VersionChain.migrate} gives back. */
export interface MigratedSnapshot {
  /** The snapshot for the newest machine (without `timers`). */
  snapshot: MigratableSnapshot;
  /** The timers kept, their ids rewritten to the new states. */
  timers: StoredTimer[];
  /** The version the snapshot came from. */
  from: string;
  to: string;
  /** Timers, children and history entries dropped on the way. */
  dropped: MigrationProblem[];
}

/** Where a record's version stands among the versions a process holds. */
export type VersionPlace =
  | { kind: 'newest' }
  | { kind: 'older'; version: string }
  | { kind: 'ahead'; version: string };

/**
 * The versions of one machine, oldest first, with the migrations between them. `machineVersions`
 * builds it; the logic it returns carries it as `versions`.
 */
export class VersionChain {
  /** The machines, oldest first. */
  readonly machines: readonly AnyStateMachine[];
  /** Their `version`s, oldest first. */
  readonly list: readonly string[];
  readonly migrations: Readonly<Record<string, SnapshotMigration>>;
  readonly unversioned: string | undefined;

  constructor(machines: readonly AnyStateMachine[], options: MachineVersionsOptions = {}) {
    if (!Array.isArray(machines) || machines.length === 0)
      throw new TypeError('machineVersions needs at least one machine');
    const list = machines.map((m, i) => {
      const v = (m as { version?: unknown }).version;
      if (typeof v !== 'string' || v === '')
        throw new TypeError(
          `machineVersions: machine #${i + 1} (${m.id}) has no \`version\` in its config`,
        );
      return v;
    });
    const dup = list.find((v, i) => list.indexOf(v) !== i);
    if (dup !== undefined) throw new TypeError(`machineVersions: version '${dup}' appears twice`);
    const ids = new Set(machines.map((m) => m.id));
    if (ids.size > 1)
      throw new TypeError(
        `machineVersions: the machines must share one id (got ${[...ids].join(', ')})`,
      );
    for (const [key, fn] of Object.entries(options.migrations ?? {}))
      if (typeof fn !== 'function')
        throw new TypeError(`machineVersions: migrations['${key}'] is not a function`);
    this.machines = machines;
    this.list = list;
    this.migrations = options.migrations ?? {};
    this.unversioned = options.unversioned;
  }

  /** The newest version (new sessions start on it). */
  get newest(): string {
    return this.list[this.list.length - 1]!;
  }

  get newestMachine(): AnyStateMachine {
    return this.machines[this.machines.length - 1]!;
  }

  /**
   * Where a record's version stands. A record without a version, when no `unversioned` says
   * which it is, cannot be ordered: `ahead` (left untouched, as a newer one is).
   */
  place(recordVersion: string | undefined): VersionPlace {
    const v = recordVersion ?? this.unversioned;
    if (v === undefined) return ahead('(none)');
    if (v === this.newest) return { kind: 'newest' };
    if (this.list.includes(v)) return { kind: 'older', version: v };
    // Not a retained version: older than the newest (it migrates through '*' or its own entry)
    // or newer, or not comparable with every retained one: never guessed, never run.
    for (const known of this.list) if (compareVersions(v, known) === undefined) return ahead(v);
    return compareVersions(v, this.newest)! > 0 ? ahead(v) : { kind: 'older', version: v };
  }

  /**
   * Migrates a persisted snapshot of version `from` to the newest, step by step, moving each
   * pending `after` timer with its state. Throws when a migration throws, when a version is
   * neither retained nor covered by a migration, or when the result names a state the newest
   * machine does not have.
   */
  migrate(persisted: MigratableSnapshot, timers: StoredTimer[], from: string): MigratedSnapshot {
    let index = this.list.indexOf(from);
    let version = from;
    // One object travels through the steps, the timers in it, as a migration sees it.
    let current: MigratableSnapshot = { ...persisted, timers };
    const dropped: MigrationProblem[] = [];
    if (index < 0) {
      const fn = this.migrations[from] ?? this.migrations['*'];
      if (!fn)
        throw new Error(
          `version '${from}' is not among ${this.list.join(', ')} and has no migration ('${from}' or '*')`,
        );
      const next = this.list.findIndex((known) => compareVersions(from, known)! < 0);
      current = this.#step(fn, current, from, undefined, next, dropped);
      index = next;
      version = this.list[index]!;
    }
    while (index < this.list.length - 1) {
      const fn = this.migrations[version] ?? this.migrations['*'];
      current = this.#step(fn, current, version, index, index + 1, dropped);
      index++;
      version = this.list[index]!;
    }
    const { timers: pending, ...rest } = current;
    const machine = this.newestMachine;
    const { unknown } = walkValue(machine, rest.value);
    if (unknown.length)
      throw new Error(
        `the migrated state ${JSON.stringify(rest.value)} names states version '${this.newest}' does not have: ${unknown.join(', ')}`,
      );
    const snapshot = this.#prune(rest as MigratableSnapshot, dropped);
    return { snapshot, timers: pending ?? [], from, to: this.newest, dropped };
  }

  #step(
    fn: SnapshotMigration | undefined,
    current: MigratableSnapshot,
    from: string,
    fromIndex: number | undefined,
    toIndex: number,
    dropped: MigrationProblem[],
  ): MigratableSnapshot {
    const to = this.list[toIndex]!;
    // Read before the migration runs: it may change the object it is given.
    const value = current.value;
    const timers = current.timers ?? [];
    let out: MigratableSnapshot = current;
    if (fn) {
      out = fn(current);
      if (typeof out !== 'object' || out === null || !('value' in out))
        throw new TypeError(`the migration from version '${from}' returned no snapshot`);
    }
    out.timers = moveTimers(
      fromIndex === undefined ? undefined : this.machines[fromIndex],
      value,
      this.machines[toIndex]!,
      out.value,
      Array.isArray(out.timers) ? out.timers : timers,
      `${from} → ${to}`,
      dropped,
    );
    return out;
  }

  /** Drops history entries and children the newest machine cannot hold, saying so. */
  #prune(snapshot: MigratableSnapshot, dropped: MigrationProblem[]): MigratableSnapshot {
    const machine = this.newestMachine;
    let out = snapshot;
    const history = snapshot.historyValue;
    if (history && typeof history === 'object') {
      const kept: Record<string, Array<{ id: string }>> = {};
      let changed = false;
      for (const [key, entries] of Object.entries(history)) {
        const node = nodeById(machine, key);
        if (node?.type !== 'history') {
          dropped.push({
            kind: 'history',
            message: `history memory of '${key}': no such history state in version '${this.newest}'`,
          });
          changed = true;
          continue;
        }
        const missing = (entries ?? []).filter((e) => !nodeById(machine, e.id));
        if (missing.length) {
          dropped.push({
            kind: 'history',
            message: `history memory of '${key}' points at ${missing.map((e) => `'${e.id}'`).join(', ')}, which version '${this.newest}' does not have`,
          });
          changed = true;
          continue;
        }
        kept[key] = entries;
      }
      if (changed) out = { ...out, historyValue: kept };
    }
    const children = snapshot.children;
    if (children && typeof children === 'object') {
      const actors = machine.implementations.actors as Record<string, unknown>;
      const kept: NonNullable<MigratableSnapshot['children']> = {};
      let changed = false;
      for (const [id, child] of Object.entries(children)) {
        const src = child?.src;
        if (typeof src === 'string' && actors[src] !== undefined) kept[id] = child;
        else {
          changed = true;
          dropped.push({
            kind: 'child',
            message: `running child '${id}' (src '${String(src)}'): version '${this.newest}' has no actor '${String(src)}'`,
          });
        }
      }
      if (changed) out = { ...out, children: kept };
    }
    return out;
  }
}

function ahead(version: string): VersionPlace {
  return { kind: 'ahead', version };
}

/**
 * Moves each pending `after` timer with its state: kept when its state is still active in the new
 * configuration with the same delayed transition; else moved to the one newly active state that
 * has that delayed transition (a rename, a split); else dropped and reported. Other delayed
 * events (a delayed `raise` with an id of its own) are kept as they are.
 */
function moveTimers(
  fromMachine: AnyStateMachine | undefined,
  fromValue: unknown,
  toMachine: AnyStateMachine,
  toValue: unknown,
  timers: readonly StoredTimer[],
  step: string,
  dropped: MigrationProblem[],
): StoredTimer[] {
  if (timers.length === 0) return [];
  const active = walkValue(toMachine, toValue).nodes;
  const activeIds = new Set(active.map((n) => n.id));
  // The states active before the step, needed only for a timer that must move.
  let before: Set<string> | undefined;
  const wasActive = (id: string) => {
    before ??= new Set(fromMachine ? walkValue(fromMachine, fromValue).nodes.map((n) => n.id) : []);
    return before.has(id);
  };
  const out: StoredTimer[] = [];
  for (const timer of timers) {
    // Already a timer of the new configuration (left in place, or rewritten by the migration)?
    const own = parseAfterId(timer.id, toMachine);
    const same = own && activeIds.has(own.stateId) ? nodeById(toMachine, own.stateId) : undefined;
    if (same && hasDelay(same, own!.delay)) {
      out.push(timer);
      continue;
    }
    const parsed = fromMachine ? parseAfterId(timer.id, fromMachine) : own;
    if (!parsed) {
      out.push(timer);
      continue;
    }
    const { delay, stateId } = parsed;
    const arrived = active.filter(
      (n: AnyStateNode) => n.id !== stateId && hasDelay(n, delay) && !wasActive(n.id),
    );
    if (arrived.length === 1) {
      const id = afterId(delay, arrived[0]!.id);
      const event = timer.event.type === timer.id ? { ...timer.event, type: id } : timer.event;
      out.push({ ...timer, id, event });
      continue;
    }
    dropped.push({
      kind: 'timer',
      message:
        arrived.length > 1
          ? `timer '${timer.id}' (${step}): ${arrived.length} new states have a delayed transition '${delay}' (${arrived.map((n) => n.id).join(', ')}); the migration must say which`
          : `timer '${timer.id}' (${step}): no active state of the new configuration has a delayed transition '${delay}' for it`,
    });
  }
  return out;
}
