import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  isSessionError,
  memoryStore,
  type SessionRecord,
  type SessionStore,
  type SessionSupervisor,
  SessionVersionAheadError,
} from 'session-process';
import { sqliteStore } from 'session-process/sqlite';
import { shelf } from './fixtures.js';
import { supervisors } from '../../support/supervisors.js';

const dir = mkdtempSync(join(tmpdir(), 'sp-quarantine-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const stores: SessionStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});
const supervisor = supervisors({ logics: { shelf } });

/** Restore failures reported to `onError`, by session ID. */
function failures() {
  const ids: string[] = [];
  const onError = (err: unknown) => {
    if (isSessionError(err, 'SESSION_RESTORE_FAILED')) ids.push(err.sessionId!);
  };
  return { ids, onError };
}

/**
 * Writes `count` records of a shelf in a state the machine does not have (as after a deploy that
 * removed it), due before anything else, so that they fill the waker's first batches.
 */
async function junk(
  store: SessionStore,
  count: number,
  spoil: (record: SessionRecord) => SessionRecord = (r) => ({
    ...r,
    snapshot: { ...(r.snapshot as object), value: 'removed' },
  }),
): Promise<string[]> {
  const s = supervisor({ store });
  await s.start('template', { logic: 'shelf' });
  await s.shutdown();
  const template = JSON.parse((await store.load('template'))!.data) as SessionRecord;
  await store.delete('template');
  const ids = Array.from({ length: count }, (_, i) => `junk-${i}`);
  const early = Date.now() - 60_000;
  const results = await store.save(
    ids.map((id, i) => ({
      id,
      expectedVersion: 0,
      version: 1,
      data: JSON.stringify(spoil({ ...template, id })),
      dueAt: early + i,
    })),
  );
  expect(results.every((r) => r === 'ok')).toBe(true);
  return ids;
}

/** A passivated shelf whose 1.2 s hold lapses while it is out of memory. */
async function victim(s: SessionSupervisor, store: SessionStore, id: string) {
  await s.start(id, { logic: 'shelf', input: { holdMs: 1_200 } });
  s.cast(id, { type: 'hold' });
  const heldAt = Date.now();
  await expect.poll(() => s.list().some((info) => info.id === id), { timeout: 5_000 }).toBe(false);
  const stateOf = async () =>
    (JSON.parse((await store.load(id))!.data) as { snapshot: { value: string } }).snapshot.value;
  expect(await stateOf()).toBe('held');
  return { heldAt, stateOf };
}

describe('unrestorable records in the store', () => {
  it("neither delay another session's timer nor are reported twice, also after a restart", async () => {
    const path = join(dir, 'waker.db');
    const store = sqliteStore({ path });
    stores.push(store);
    const ids = await junk(store, 300);

    const first = failures();
    const s = supervisor({ store, passivateAfterMs: 50, wakeIntervalMs: 100, ...first });
    const { heldAt, stateOf } = await victim(s, store, 'victim');
    await expect.poll(stateOf, { timeout: 10_000, interval: 50 }).toBe('lapsed');
    // Woken by the waker with 300 bad records ahead of it (before: never, with 256 or more), on
    // time (1.21 s measured under a load average of 19; 3.5 s is the figure).
    expect(Date.now() - heldAt).toBeGreaterThanOrEqual(1_200);
    expect(Date.now() - heldAt).toBeLessThan(3_500);
    // Each bad record reported once, however many wakes (every 100 ms) passed meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect([...first.ids].sort()).toEqual([...ids].sort());
    expect(await s.quarantined()).toHaveLength(300);
    const due = await store.due(Number.MAX_SAFE_INTEGER, 1_000);
    expect(due.map((d) => d.id)).toEqual(['victim']); // its idle deadline; no bad record

    await s.shutdown();
    await store.close();

    // The next process: the marker is in the file, so nothing is tried or reported again.
    const reopened = sqliteStore({ path });
    stores.push(reopened);
    const second = failures();
    const t = supervisor({ store: reopened, passivateAfterMs: 50, wakeIntervalMs: 100, ...second });
    const again = await victim(t, reopened, 'victim-2');
    await expect.poll(again.stateOf, { timeout: 10_000, interval: 50 }).toBe('lapsed');
    expect(second.ids).toEqual([]);
    expect((await reopened.load('junk-0'))?.quarantine?.reason).toMatch(/removed/);
    const listed = await t.quarantined();
    expect(listed).toHaveLength(300);
    expect(listed[0]).toEqual({
      id: expect.stringMatching(/^junk-/),
      quarantinedAt: expect.any(Number),
      reason: expect.stringMatching(/could not be restored.*removed/),
    });
    // Asked for by a visitor, a quarantined session fails at once, quietly.
    await expect(t.call('junk-7', { type: 'count' })).rejects.toMatchObject({
      code: 'SESSION_RESTORE_FAILED',
    });
    expect(second.ids).toEqual([]);
  });

  it('of a newer version are left untouched, reported once, and do not hold up the waker', async () => {
    const store = memoryStore();
    const ids = await junk(store, 300, (r) => ({ ...r, logicVersion: 'next' }));
    const ahead: string[] = [];
    const s = supervisor({
      store,
      passivateAfterMs: 50,
      wakeIntervalMs: 100,
      // What the core raises for a record of a version it does not hold (stood in for here).
      migrate: (record) => {
        if (record.logicVersion === 'next')
          throw new SessionVersionAheadError(record.id, 'next', []);
        return record;
      },
      onError: (err) => {
        if (isSessionError(err, 'SESSION_VERSION_AHEAD')) ahead.push(err.sessionId!);
      },
    });
    const before = await store.load(ids[0]!);
    const { stateOf } = await victim(s, store, 'victim');
    await expect.poll(stateOf, { timeout: 10_000, interval: 50 }).toBe('lapsed');
    await new Promise((resolve) => setTimeout(resolve, 300)); // a few more wakes
    expect([...ahead].sort()).toEqual([...ids].sort());
    expect(await store.load(ids[0]!)).toEqual(before);
    expect(await s.quarantined()).toEqual([]);
  });

  it('are marked once the store takes the marker, without a busy loop while it fails', async () => {
    const inner = memoryStore();
    const ids = await junk(inner, 300);
    let down = true;
    let asked = 0;
    const store: SessionStore = {
      ...inner,
      name: 'flaky',
      quarantine: async (id, version, marker) => {
        asked++;
        if (down) throw new Error('disk full');
        return inner.quarantine(id, version, marker);
      },
    };
    const reported = failures();
    const s = supervisor({ store, wakeIntervalMs: 1_000, ...reported });
    await new Promise((resolve) => setTimeout(resolve, 500));
    // The first wake's batch, then the usual interval: not batch after batch without pause.
    expect(asked).toBe(256);
    down = false;
    await expect.poll(async () => (await s.quarantined()).length, { timeout: 10_000 }).toBe(300);
    const after = reported.ids.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(reported.ids.length).toBe(after); // nothing reported again once marked
    expect(new Set(reported.ids)).toEqual(new Set(ids));
  });

  it('are deleted by the waker after quarantineRetentionMs', async () => {
    const store = memoryStore();
    const [id] = await junk(store, 1);
    const s = supervisor({ store, wakeIntervalMs: 50, quarantineRetentionMs: 300 });
    await expect.poll(async () => (await store.load(id!))?.quarantine).toBeDefined();
    expect(await s.quarantined()).toHaveLength(1);
    await expect.poll(() => store.load(id!), { timeout: 5_000 }).toBeUndefined();
    expect(await s.quarantined()).toEqual([]);
  });
});

describe('forget', () => {
  it('deletes a running, a stored and a quarantined session and their records for good', async () => {
    const store = memoryStore();
    const [bad] = await junk(store, 1);
    const s = supervisor({ store });
    await expect.poll(async () => (await store.load(bad!))?.quarantine).toBeDefined();
    await s.start('running', { logic: 'shelf' });
    const ended: unknown[] = [];
    s.subscribe('running', (m) => m.type === 'ended' && ended.push(m.reason));
    const other = supervisor({ store });
    await other.start('stored', { logic: 'shelf' });
    await other.shutdown();

    for (const id of ['running', 'stored', bad!, 'never-was']) await s.forget(id);
    expect(ended).toEqual(['terminated']);
    for (const id of ['running', 'stored', bad!]) {
      expect(await store.load(id)).toBeUndefined();
      expect(s.started(id)).toBe(false);
    }
    expect(await s.quarantined()).toEqual([]);
    // The ID is free again.
    await s.start(bad!, { logic: 'shelf' });
    expect(await s.call(bad!, { type: 'count' })).toBe(0);
  });

  it('rejects an invalid ID', async () => {
    const s = supervisor({ store: memoryStore() });
    await expect(s.forget('not valid!')).rejects.toMatchObject({ code: 'INVALID_SESSION_ID' });
  });
});
