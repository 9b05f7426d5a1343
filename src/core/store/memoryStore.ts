import {
  countVersions,
  type DueSession,
  type QuarantinedSession,
  type SessionStore,
  type StoredSession,
  type StoreWrite,
  type StoreWriteResult,
} from './SessionStore.js';

/**
 * A {@link SessionStore} in this process's memory: sessions survive passivation and a
 * supervisor's restart within the process, not the process itself. For tests and for trying the
 * persistence options; use `session-process/sqlite` or `session-process/redis` in production.
 *
 * @example
 * ```ts
 * import { createSessionSupervisor, memoryStore } from 'session-process';
 * const store = memoryStore();
 * const sessions = createSessionSupervisor({ logic: counterMachine, store, passivateAfterMs: 60_000 });
 * ```
 */
export function memoryStore(): SessionStore & { readonly size: number } {
  const records = new Map<string, StoredSession>();
  let closed = false;
  const open = () => {
    if (closed) throw new Error('memoryStore: the store is closed');
  };
  return {
    name: 'memory',
    get size() {
      return records.size;
    },
    async load(id) {
      open();
      return records.get(id);
    },
    loadSync(id) {
      open();
      return records.get(id);
    },
    async save(writes: readonly StoreWrite[]): Promise<StoreWriteResult[]> {
      open();
      return writes.map((w) => {
        const current = records.get(w.id);
        if ((current?.version ?? 0) !== w.expectedVersion || current?.quarantine) return 'conflict';
        records.set(w.id, { id: w.id, version: w.version, data: w.data, dueAt: w.dueAt });
        return 'ok';
      });
    },
    async delete(id) {
      open();
      records.delete(id);
    },
    async count() {
      open();
      return records.size;
    },
    async due(until, limit): Promise<DueSession[]> {
      open();
      const out: DueSession[] = [];
      for (const r of records.values())
        if (r.dueAt !== null && r.dueAt <= until && !r.quarantine)
          out.push({ id: r.id, dueAt: r.dueAt });
      out.sort((a, b) => a.dueAt - b.dueAt);
      return out.slice(0, limit);
    },
    async versions() {
      open();
      return countVersions([...records.values()].map((r) => r.data));
    },
    async quarantine(id, version, marker) {
      open();
      const r = records.get(id);
      if (!r || r.version !== version || r.quarantine) return 'conflict';
      records.set(id, { ...r, dueAt: null, quarantine: { at: marker.at, reason: marker.reason } });
      return 'ok';
    },
    async quarantined(limit): Promise<QuarantinedSession[]> {
      open();
      const out: QuarantinedSession[] = [];
      for (const r of records.values())
        if (r.quarantine)
          out.push({ id: r.id, quarantinedAt: r.quarantine.at, reason: r.quarantine.reason });
      out.sort((a, b) => a.quarantinedAt - b.quarantinedAt);
      return out.slice(0, limit);
    },
    async close() {
      closed = true;
    },
  };
}
