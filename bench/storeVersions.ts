/**
 * bench/store's versions section: restores of version 1 cart records into version 3 through the
 * migrations (renames, a new parallel region, a rewritten timer and a new context field: not an
 * identity), next to plain restores of version 3 records, on the same store in the same run; and
 * the time `verifyMigrations` takes on the demo cart chain and on the 46-state "desk" fixture.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createSessionSupervisor, type SessionStore } from 'session-process';
import { sqliteStore } from 'session-process/sqlite';
import { verifyMigrations } from 'session-process/testing';
import { cartMachine } from '../machines/cart.js';
import { cartModelOptions, serializeCartState } from '../machines/cart.model.js';
import { cartV1, cartVersions } from '../machines/cartVersions.js';
import { deskEvents, deskVersions } from './deskVersions.js';

export interface VersionRow {
  what: string;
  value: string;
}

/**
 * Restores per second of `n` carts written by `logic`, read back by `cartVersions`: by wall
 * time, and by this process's CPU time (what the comparison uses: on a shared machine the wall
 * time mostly measures the neighbours).
 */
async function restoresPerSecond(
  store: SessionStore,
  prefix: string,
  writer: typeof cartV1 | typeof cartMachine,
  n: number,
): Promise<{ wall: number; cpu: number }> {
  const w = createSessionSupervisor({
    logics: { cart: writer },
    store,
    durability: 'eventual',
    startRate: false,
    maxSessions: n + 10,
  });
  for (let i = 0; i < n; i++) {
    await w.start(`${prefix}${i}`, { logic: 'cart' });
    w.cast(`${prefix}${i}`, { type: 'auth.login', user: 'ada' });
    w.cast(`${prefix}${i}`, { type: 'cart.add', sku: 'A1', qty: 2 });
    w.cast(`${prefix}${i}`, { type: 'cart.add', sku: 'B2' });
  }
  await w.shutdown();
  const reader = createSessionSupervisor({
    logics: { cart: cartVersions },
    store,
    durability: 'none',
    startRate: false,
    maxSessions: n + 10,
    onError: () => {},
  });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await reader.restore(`${prefix}${i}`);
  const c = process.cpuUsage(c0);
  const wall = (n / (performance.now() - t0)) * 1_000;
  const cpu = (n / ((c.user + c.system) / 1_000)) * 1_000;
  await reader.shutdown();
  return { wall, cpu };
}

/**
 * Measures the section on `store` (fresh per round): the better of `rounds` alternating runs of
 * each kind, so that neither pays for the JIT or for a noisy neighbour alone.
 */
export async function measureVersions(
  makeStore: () => Promise<{ store: SessionStore; cleanup(): Promise<void> }>,
  n: number,
  rounds = 7,
): Promise<{ rows: VersionRow[]; targets: Array<[string, boolean]> }> {
  const plain = { wall: 0, cpu: 0 };
  const migrated = { wall: 0, cpu: 0 };
  const best = (into: { wall: number; cpu: number }, r: { wall: number; cpu: number }) => {
    into.wall = Math.max(into.wall, r.wall);
    into.cpu = Math.max(into.cpu, r.cpu);
  };
  for (let r = 0; r < rounds; r++) {
    const a = await makeStore();
    best(plain, await restoresPerSecond(a.store, `p${r}_`, cartMachine, n));
    await a.cleanup();
    const b = await makeStore();
    best(migrated, await restoresPerSecond(b.store, `m${r}_`, cartV1, n));
    await b.cleanup();
  }
  let t0 = performance.now();
  const cart = verifyMigrations(cartVersions, {
    events: [
      ...(cartModelOptions.events as { type: string }[]),
      { type: 'cart.save' },
      { type: 'cart.restore' },
    ],
    serializeState: ({ value, context }) =>
      `${serializeCartState({ value, context })}${JSON.stringify([(context as any).user !== null, (context as any).lastError !== null, (context as any).orderId !== null])}`,
    print: false,
  });
  const cartMs = performance.now() - t0;
  t0 = performance.now();
  const desk = verifyMigrations(deskVersions, { events: deskEvents, print: false });
  const deskMs = performance.now() - t0;
  const ratio = migrated.cpu / plain.cpu;
  return {
    rows: [
      {
        what: 'restores/s, version 3 records (plain), per CPU second / wall',
        value: `${fmt(plain.cpu)} / ${fmt(plain.wall)}`,
      },
      {
        what: 'restores/s, version 1 records migrated to 3, per CPU second / wall',
        value: `${fmt(migrated.cpu)} (${ratio.toFixed(2)}x) / ${fmt(migrated.wall)} (${(migrated.wall / plain.wall).toFixed(2)}x)`,
      },
      {
        what: 'verifyMigrations, demo cart 1 → 2 → 3',
        value: `${(cartMs / 1000).toFixed(2)} s, ${cart.checked} configurations, ${cart.failures.length} failures`,
      },
      {
        what: 'verifyMigrations, desk fixture (46 states, parallel, history, timers)',
        value: `${(deskMs / 1000).toFixed(2)} s, ${desk.checked} configurations, ${desk.failures.length} failures`,
      },
    ],
    targets: [
      [
        `migrated restores ≥ 0.8x plain restores, per CPU second (${ratio.toFixed(2)}x)`,
        ratio >= 0.8,
      ],
      [
        `verifyMigrations on the cart chain < 10 s (${(cartMs / 1000).toFixed(2)} s)`,
        cartMs < 10_000 && cart.failures.length === 0,
      ],
      [
        `verifyMigrations on the desk fixture < 10 s (${(deskMs / 1000).toFixed(2)} s)`,
        deskMs < 10_000 && desk.failures.length === 0,
      ],
    ],
  };
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

// Run alone: `node dist/bench/storeVersions.js` (the section without the rest of bench/store).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = mkdtempSync(join(tmpdir(), 'sp-bench-versions-'));
  let made = 0;
  const { rows, targets } = await measureVersions(
    async () => {
      const store = sqliteStore({ path: join(dir, `v${made++}.db`) });
      return { store, cleanup: () => store.close() };
    },
    Number(process.env.BENCH_STORE_RESTORES ?? 10_000),
  );
  console.log(
    `bench/storeVersions — node ${process.version}, load average ${loadavg()[0]!.toFixed(1)}`,
  );
  console.log('\n| versions (SQLite) | |\n| --- | ---: |');
  for (const r of rows) console.log(`| ${r.what} | ${r.value} |`);
  console.log('');
  for (const [what, ok] of targets) console.log(`${ok ? 'met ' : 'MISSED'}  ${what}`);
  rmSync(dir, { recursive: true, force: true });
}
