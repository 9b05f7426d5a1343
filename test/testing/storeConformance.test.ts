import { memoryStore, type SessionStore } from 'session-process';
import { storeConformance } from 'session-process/testing';
import { describe, expect, it } from 'vitest';

/** Runs the conformance suite on a store, outside vitest's runner; returns the failed titles. */
async function failures(createStore: () => SessionStore): Promise<string[]> {
  const tests: { title: string; fn: () => Promise<void> }[] = [];
  const afterEach: (() => Promise<void> | void)[] = [];
  const path: string[] = [];
  storeConformance('probe', createStore, {
    vitest: {
      describe: (name, factory) => {
        path.push(name);
        factory();
        path.pop();
      },
      it: (name, fn) => tests.push({ title: [...path.slice(1), name].join(' > '), fn }),
      afterEach: (fn) => afterEach.push(fn),
    },
  });
  const failed: string[] = [];
  for (const { title, fn } of tests) {
    try {
      await fn();
    } catch {
      failed.push(title);
    }
    for (const hook of afterEach) await hook();
  }
  return failed;
}

/** A memory store with one method replaced. */
const broken = (patch: (store: SessionStore) => Partial<SessionStore>) => (): SessionStore => {
  const store = memoryStore();
  return Object.assign(Object.create(null), store, { name: store.name }, patch(store));
};

describe('storeConformance', () => {
  it('passes the memory store', async () => {
    expect(await failures(() => memoryStore())).toEqual([]);
  });

  it('fails a store that ignores the expected version', async () => {
    const failed = await failures(
      broken((store) => ({
        save: async (writes) => {
          for (const w of writes) await store.delete(w.id);
          return store.save(writes.map((w) => ({ ...w, expectedVersion: 0 })));
        },
      })),
    );
    expect(failed).toContain(
      'versions (compare-and-set) > a stale write conflicts and leaves the record unchanged',
    );
  });

  it('fails a store that reads the version, then writes (check-then-act)', async () => {
    const failed = await failures(
      broken((store) => ({
        save: async (writes) => {
          const out: ('ok' | 'conflict')[] = [];
          for (const w of writes) {
            const current = (await store.load(w.id))?.version ?? 0;
            await new Promise((resolve) => setImmediate(resolve));
            if (current !== w.expectedVersion) out.push('conflict');
            else {
              await store.delete(w.id);
              out.push(...(await store.save([{ ...w, expectedVersion: 0 }])));
            }
          }
          return out;
        },
      })),
    );
    expect(failed).toEqual([
      // (it re-creates the record, so a quarantined one is written over too)
      'quarantine > a quarantined record is frozen: saves to it conflict',
      'concurrency > of 100 concurrent creations of one id, exactly one is ok',
      'concurrency > of 100 concurrent updates expecting the same version, exactly one is ok',
    ]);
  });

  it('fails a store whose waker still sees quarantined records', async () => {
    const failed = await failures(
      broken((store) => ({
        due: async (until, limit) => {
          const all = await store.due(until, limit);
          const quarantined = await store.quarantined(1_000);
          return [...all, ...quarantined.map((q) => ({ id: q.id, dueAt: 0 }))]
            .sort((a, b) => a.dueAt - b.dueAt)
            .slice(0, limit);
        },
      })),
    );
    expect(failed).toEqual([
      'quarantine > a quarantined record is never due',
      'quarantine > a quarantined record is frozen: saves to it conflict',
    ]);
  });

  it('fails a store that quarantines more than once, or forgets the marker on delete', async () => {
    const twice = await failures(
      broken((store) => ({
        quarantine: async (id, version, marker) => {
          const r = await store.quarantine(id, version, marker);
          return (await store.load(id)) ? 'ok' : r;
        },
      })),
    );
    expect(twice).toEqual([
      'quarantine > quarantine conflicts for an unknown id, another version, or a second time',
    ]);
    const listed = await failures(
      broken((store) => {
        const seen: { id: string; quarantinedAt: number; reason: string }[] = [];
        return {
          quarantine: async (id, version, marker) => {
            const r = await store.quarantine(id, version, marker);
            if (r === 'ok') seen.push({ id, quarantinedAt: marker.at, reason: marker.reason });
            return r;
          },
          quarantined: async (limit) =>
            [...seen].sort((a, b) => a.quarantinedAt - b.quarantinedAt).slice(0, limit),
        };
      }),
    );
    expect(listed).toEqual([
      'quarantine > delete removes a quarantined record, its listing and its marker',
    ]);
  });

  it('fails a store whose batch stops at the first conflict', async () => {
    const failed = await failures(
      broken((store) => ({
        save: async (writes) => {
          const out: ('ok' | 'conflict')[] = [];
          for (const w of writes) {
            const [r] = await store.save([w]);
            out.push(r!);
            if (r === 'conflict') break;
          }
          return [...out, ...writes.slice(out.length).map(() => 'conflict' as const)];
        },
      })),
    );
    expect(failed).toEqual([
      'versions (compare-and-set) > a conflicting write in a batch does not stop the others; results keep their order',
    ]);
  });

  it('fails a store that truncates large records or ignores the due limit', async () => {
    const truncating = await failures(
      broken((store) => ({
        load: async (id) => {
          const r = await store.load(id);
          return r && { ...r, data: r.data.slice(0, 65_535) };
        },
      })),
    );
    expect(truncating).toEqual(['load, save and delete > a 100 KB record round-trips']);
    const unlimited = await failures(
      broken((store) => ({ due: (until) => store.due(until, 1e9) })),
    );
    expect(unlimited).toContain(
      'due-time index > due lists records due at or before `until`, earliest first, at most `limit`',
    );
  });

  it('fails a store that keeps answering after close', async () => {
    const failed = await failures(broken(() => ({ close: async () => {} })));
    expect(failed).toEqual(['close > close resolves, twice too, and later operations reject']);
  });
});
