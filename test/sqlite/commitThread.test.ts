import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSessionSupervisor } from 'session-process';
import { sqliteStore } from 'session-process/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { reply } from 'session-process';

const dir = mkdtempSync(join(tmpdir(), 'sp-sqlite-thread-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = () => join(dir, `t${n++}.db`);

const counter = setup({
  types: { context: {} as { n: number }, events: {} as { type: 'inc' } },
}).createMachine({
  context: { n: 0 },
  on: {
    inc: {
      actions: [assign({ n: ({ context }) => context.n + 1 }), reply(({ context }) => context.n)],
    },
  },
});

/** A batch large enough that its commit takes a while (10 MB). */
const bigBatch = (round: number) =>
  Array.from({ length: 5_000 }, (_, i) => ({
    id: `b${i}`,
    version: round + 1,
    expectedVersion: round,
    data: 'x'.repeat(2_000),
    dueAt: null,
  }));

/** How many timers of 0 ms fire while `work` is pending. */
async function turnsDuring(work: () => Promise<unknown>): Promise<number> {
  let turns = 0;
  let done = false;
  const tick = () => {
    if (done) return;
    turns++;
    setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  await work();
  done = true;
  return turns;
}

describe('commits on their own thread', () => {
  it('leave the event loop free while a batch is written', async () => {
    const threaded = sqliteStore({ path: file() });
    const inline = sqliteStore({ path: file(), commitThread: false });
    await threaded.save(bigBatch(0)); // the thread is up
    await inline.save(bigBatch(0));
    // Inline, the commit (and its fsync) runs inside save(): not one timer fires meanwhile.
    expect(await turnsDuring(() => inline.save(bigBatch(1)))).toBe(0);
    expect(await turnsDuring(() => threaded.save(bigBatch(1)))).toBeGreaterThan(0);
    await threaded.close();
    await inline.close();
  });

  it('answers a read started after a write with that write, every time', async () => {
    const store = sqliteStore({ path: file() });
    for (let v = 0; v < 300; v++) {
      await store.save([
        { id: 'a', version: v + 1, expectedVersion: v, data: `v${v + 1}`, dueAt: null },
      ]);
      expect(store.loadSync!('a')?.data).toBe(`v${v + 1}`);
    }
    await store.close();
  });

  it('restores a passivated session with its latest write', async () => {
    const store = sqliteStore({ path: file() });
    const sessions = createSessionSupervisor({ logics: { counter }, store, durability: 'durable' });
    const passivate = (id: string) =>
      (sessions as unknown as { passivate(id: string): Promise<boolean> }).passivate(id);
    await sessions.start('c', { logic: 'counter' });
    for (let i = 1; i <= 100; i++) {
      expect(await sessions.call('c', { type: 'inc' })).toBe(i);
      expect(await passivate('c')).toBe(true);
      expect(sessions.count).toBe(0);
      // The next call restores it from the main thread's connection.
      expect(sessions.snapshot('c').context.n).toBe(i);
    }
    await sessions.shutdown();
    await store.close();
  });

  it('keeps a durable call unanswered until its commit returned, then on disk for another connection', async () => {
    const path = file();
    const store = sqliteStore({ path });
    const sessions = createSessionSupervisor({ logics: { counter }, store, durability: 'durable' });
    await sessions.start('d', { logic: 'counter' });
    const calls = Array.from({ length: 200 }, () => sessions.call('d', { type: 'inc' }));
    await Promise.all(calls);
    // A connection of its own (another process would see the same): the last change is there.
    const reader = sqliteStore({ path, commitThread: false });
    expect(JSON.parse((await reader.load('d'))!.data).snapshot.context.n).toBe(200);
    await sessions.shutdown();
    await store.close();
    await reader.close();
  });
});
