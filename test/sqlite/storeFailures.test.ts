import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSessionSupervisor, isSessionError } from 'session-process';
import { sqliteStore } from 'session-process/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { setup, assign } from 'xstate';
import { bundleChild, removeBundles } from '../support/bundleChild.js';

const dir = mkdtempSync(join(tmpdir(), 'sp-sqlite-fail-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  removeBundles();
});
let n = 0;
const file = () => join(dir, `f${n++}.db`);

const cart = setup({
  types: { context: {} as { items: string[] }, events: {} as { type: 'add'; sku: string } },
}).createMachine({
  context: { items: [] },
  on: {
    add: { actions: assign({ items: ({ context, event }) => [...context.items, event.sku] }) },
  },
});

/** A tmpfs of `size` mounted in a temp directory, or why it cannot be had here. */
function mountTmpfs(size: string): { path: string; unmount(): void } | string {
  const path = mkdtempSync(join(tmpdir(), 'sp-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', path], { stdio: 'pipe' });
  } catch (err) {
    rmSync(path, { recursive: true, force: true });
    return `cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]})`;
  }
  return {
    path,
    unmount() {
      // Lazy: libsql keeps a closed database's file open until its statements are collected.
      execFileSync('umount', ['-l', path], { stdio: 'pipe' });
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** Fills what is left of the file system at `path` with one file. */
function fill(path: string): void {
  const fd = openSync(join(path, 'filler'), 'w');
  const chunk = Buffer.alloc(16 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch {
    // ENOSPC: full
  } finally {
    closeSync(fd);
  }
}

describe('a full disk', () => {
  // The core's tests cover a store that throws synchronously wherever a tmpfs cannot be mounted
  // (test/core/persistence/storeFailures.test.ts).
  it('shutdown returns within its deadline and reports SQLITE_FULL as the cause', async (ctx) => {
    const tmpfs = mountTmpfs('2m');
    if (typeof tmpfs === 'string') {
      console.log(`skipping the full-disk test: ${tmpfs}`);
      ctx.skip();
      return;
    }
    try {
      await fullDisk(tmpfs.path);
    } finally {
      tmpfs.unmount();
    }
  });
});

/** A durable supervisor on a SQLite file in `path`, whose file system then fills up. */
async function fullDisk(path: string): Promise<void> {
  const store = sqliteStore({ path: join(path, 'sessions.db') });
  const errors: Array<{ error: unknown; sessionId: string | undefined }> = [];
  const sessions = createSessionSupervisor({
    logics: { cart },
    store,
    durability: 'durable',
    shutdownTimeoutMs: 1_500,
    onError: (error, info) => errors.push({ error, sessionId: info.sessionId }),
  });
  for (let i = 0; i < 20; i++) await sessions.start(`c${i}`, { logic: 'cart' });
  fill(path);
  // Writes now fail (SQLITE_FULL); the changes stay in memory, to be saved at shutdown.
  const big = 'y'.repeat(20_000);
  for (let i = 0; i < 20; i++) sessions.cast(`c${i}`, { type: 'add', sku: big });
  const started = performance.now();
  const outcome = await Promise.race([
    sessions.shutdown().then(() => 'returned'),
    new Promise((r) => setTimeout(() => r('hung'), 15_000)),
  ]);
  expect(outcome).toBe('returned');
  expect(performance.now() - started).toBeLessThan(6_000);
  const unsaved = errors.filter((e) => e.sessionId !== undefined);
  expect(unsaved.length).toBeGreaterThan(0);
  for (const { error } of errors) {
    expect(isSessionError(error, 'STORE_UNAVAILABLE')).toBe(true);
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    expect(cause?.code).toBe('SQLITE_FULL');
    expect(cause?.message).not.toMatch(/cannot rollback/);
  }
  await store.close().catch(() => {});
}

describe('the write-ahead log', () => {
  it('is checkpointed into the database on close: a WAL deleted after a clean shutdown loses nothing', async () => {
    const path = file();
    const store = sqliteStore({ path });
    const sessions = createSessionSupervisor({ logics: { cart }, store, durability: 'durable' });
    await sessions.start('c', { logic: 'cart' });
    for (let i = 0; i < 300; i++) sessions.cast('c', { type: 'add', sku: `i${i}` });
    await sessions.shutdown();
    await store.close();
    expect(existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0).toBe(0);
    rmSync(`${path}-wal`, { force: true });
    rmSync(`${path}-shm`, { force: true });

    const again = sqliteStore({ path });
    const record = await again.load('c');
    expect(JSON.parse(record!.data).snapshot.context.items).toHaveLength(300);
    await again.close();
  });

  it('reports a WAL lost after a crash as STORE_CORRUPT instead of opening with less', async () => {
    const child = await bundleChild(new URL('./killWriter.ts', import.meta.url));
    const path = file();
    const proc = spawn(process.execPath, [child, path, 'full'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let acked = 0;
    await new Promise<void>((resolve, reject) => {
      proc.on('error', reject);
      proc.on('exit', () => resolve());
      proc.stdout.on('data', (chunk: Buffer) => {
        acked = Math.max(acked, ...chunk.toString().trim().split('\n').map(Number));
        if (acked >= 50 && !proc.killed) proc.kill('SIGKILL');
      });
    });
    expect(existsSync(`${path}-wal`)).toBe(true);
    rmSync(`${path}-wal`);
    rmSync(`${path}-shm`, { force: true });

    let error: unknown;
    try {
      sqliteStore({ path });
    } catch (err) {
      error = err;
    }
    expect(isSessionError(error, 'STORE_CORRUPT')).toBe(true);
    expect((error as Error).message).toMatch(/data it had is lost/);
    expect((error as Error).message).toContain(`${path}-sessions.mark`);
  });

  it('reports a database file deleted under its mark as STORE_CORRUPT', async () => {
    const path = file();
    const store = sqliteStore({ path });
    await store.save([{ id: 'a', version: 1, expectedVersion: 0, data: '{}', dueAt: null }]);
    await store.close();
    rmSync(path);
    expect(() => sqliteStore({ path })).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
    // Deleting the mark file accepts the loss (docs/persistence-stores.md).
    rmSync(`${path}-sessions.mark`);
    const fresh = sqliteStore({ path });
    expect(await fresh.load('a')).toBeUndefined();
    await fresh.close();
  });

  it('opens a store with no mark file yet (written by an earlier version) as it is', async () => {
    const path = file();
    const store = sqliteStore({ path });
    await store.save([{ id: 'a', version: 1, expectedVersion: 0, data: '{}', dueAt: null }]);
    await store.close();
    rmSync(`${path}-sessions.mark`);
    const again = sqliteStore({ path });
    expect((await again.load('a'))?.version).toBe(1);
    await again.close();
  });
});

describe('a damaged database', () => {
  it('answers STORE_CORRUPT', async () => {
    const path = file();
    const store = sqliteStore({ path });
    const pad = 'z'.repeat(2_000);
    const writes = Array.from({ length: 200 }, (_, i) => ({
      id: `s${i}`,
      version: 1,
      expectedVersion: 0,
      data: pad,
      dueAt: null,
    }));
    await store.save(writes);
    await store.close();
    // Overwrite pages in the middle of the file (the header stays valid).
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(4096 * 20, 0xab), 0, 4096 * 20, 4096 * 3);
    closeSync(fd);
    let error: unknown;
    try {
      const damaged = sqliteStore({ path });
      for (let i = 0; i < 200; i++) await damaged.load(`s${i}`);
      await damaged.close();
    } catch (err) {
      error = err;
    }
    expect(isSessionError(error, 'STORE_CORRUPT')).toBe(true);
    expect((error as { cause?: { code?: string } }).cause?.code).toMatch(/^SQLITE_CORRUPT/);
  });
});
