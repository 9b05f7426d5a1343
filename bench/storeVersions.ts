/**
 * bench/store's versions section: restores of version 1 cart records into version 3 through the
 * migrations (renames, a new parallel region, a rewritten timer and a new context field: not an
 * identity), next to plain restores of version 3 records, on the same store in the same run; and
 * the time `verifyMigrations` takes on the demo cart chain and on the 46-state "desk" fixture.
 */
import { createSessionSupervisor, type SessionStore } from 'session-process';
import { verifyMigrations } from 'session-process/testing';
import { cartMachine } from '../machines/cart.js';
import { cartModelOptions, serializeCartState } from '../machines/cart.model.js';
import { cartV1, cartVersions } from '../machines/cartVersions.js';
import { deskEvents, deskVersions } from './deskVersions.js';

export interface VersionRow {
  what: string;
  value: string;
}

/** Restores per second of `n` carts written by `logic`, read back by `cartVersions`. */
async function restoresPerSecond(
  store: SessionStore,
  prefix: string,
  writer: typeof cartV1 | typeof cartMachine,
  n: number,
): Promise<number> {
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
  for (let i = 0; i < n; i++) await reader.restore(`${prefix}${i}`);
  const rate = (n / (performance.now() - t0)) * 1_000;
  await reader.shutdown();
  return rate;
}

/**
 * Measures the section on `store` (fresh per round): the better of `rounds` alternating runs of
 * each kind, so that neither pays for the JIT or for a noisy neighbour alone.
 */
export async function measureVersions(
  makeStore: () => Promise<{ store: SessionStore; cleanup(): Promise<void> }>,
  n: number,
  rounds = 3,
): Promise<{ rows: VersionRow[]; targets: Array<[string, boolean]> }> {
  let plain = 0;
  let migrated = 0;
  for (let r = 0; r < rounds; r++) {
    const a = await makeStore();
    plain = Math.max(plain, await restoresPerSecond(a.store, `p${r}_`, cartMachine, n));
    await a.cleanup();
    const b = await makeStore();
    migrated = Math.max(migrated, await restoresPerSecond(b.store, `m${r}_`, cartV1, n));
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
  const ratio = migrated / plain;
  return {
    rows: [
      { what: 'restores/s, version 3 records (plain)', value: fmt(plain) },
      {
        what: 'restores/s, version 1 records migrated to 3',
        value: `${fmt(migrated)} (${ratio.toFixed(2)}x)`,
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
      [`migrated restores ≥ 0.8x plain restores (${ratio.toFixed(2)}x)`, ratio >= 0.8],
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
