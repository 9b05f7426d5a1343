import type { AnyActorLogic } from 'xstate';
import type { CallTracker } from './CallTracker.js';
import { StoreUnavailableError } from './errors.js';
import type { Counters } from './LifecycleParts.js';
import type { Persistence } from './persistence/Persistence.js';
import type { SessionRegistry } from './SessionRegistry.js';
import type { SubscriberHub } from './SubscriberHub.js';
import { sortVersionCounts, type StoredVersionCount } from './store/SessionStore.js';
import type { SessionVersionCount, SupervisorStats } from './types.js';

/** @internal The parts of a supervisor its `stats()` and `versions()` read. */
export interface StatsParts {
  logics: Readonly<Record<string, AnyActorLogic>>;
  registry: SessionRegistry;
  calls: CallTracker;
  subs: SubscriberHub;
  counters: Counters;
  persist: Persistence | undefined;
}

/** @internal A supervisor's `stats()`. */
export function supervisorStats(p: StatsParts): SupervisorStats {
  const byLogic = p.registry.byLogic();
  const versions: Record<string, Record<string, number>> = {};
  for (const [logic, n] of Object.entries(byLogic))
    versions[logic] = { [logicVersion(p.logics, logic) ?? '']: n };
  return {
    versions,
    total: p.registry.size,
    byLogic,
    started: p.counters.started,
    ended: { ...p.counters.ended },
    restarts: p.counters.restarts,
    pendingCalls: p.calls.size,
    subscribers: p.subs.size,
    calls: p.counters.calls,
    casts: p.counters.casts,
    refused: p.counters.refused,
    ...(p.persist
      ? {
          store: {
            passivated: p.persist.passivated,
            restored: p.persist.restored,
            backlog: p.persist.writer.backlog,
            migrated: { ...p.persist.migrated },
            unsaved: unsaved(p.registry),
            lost: p.persist.lost,
            quarantined: p.persist.quarantinedCount,
          },
        }
      : {}),
  };
}

/** @internal A supervisor's `versions()`: sessions by logic and version, stored and running. */
export async function versionCounts(p: StatsParts): Promise<SessionVersionCount[]> {
  const rows = new Map<string, SessionVersionCount>();
  const row = (logic: string, version: string | null) => {
    const key = JSON.stringify([logic, version]);
    let r = rows.get(key);
    if (!r) rows.set(key, (r = { logic, version, stored: 0, running: 0 }));
    return r;
  };
  const store = p.persist?.store;
  if (store?.versions) {
    let stored: StoredVersionCount[];
    try {
      stored = await store.versions();
    } catch (cause) {
      throw new StoreUnavailableError(cause);
    }
    for (const s of stored) row(s.logic, s.version).stored += s.count;
  }
  for (const [logic, n] of Object.entries(p.registry.byLogic()))
    row(logic, logicVersion(p.logics, logic) ?? null).running += n;
  return sortVersionCounts([...rows.values()]);
}

function logicVersion(
  logics: Readonly<Record<string, AnyActorLogic>>,
  logic: string,
): string | undefined {
  return (logics[logic] as { version?: unknown } | undefined)?.version as string | undefined;
}

/** Changes in memory not saved yet: O(sessions in memory), for `stats()`. */
function unsaved(registry: SessionRegistry): number {
  let n = 0;
  for (const entry of registry.values())
    if (entry.version > entry.storedVersion) n += entry.version - entry.storedVersion;
  return n;
}
