import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { connectLive } from 'session-process/client';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { bundleChild, removeBundles } from '../support/bundleChild.js';
import { CookieJar } from '../support/index.js';

const dir = mkdtempSync(join(tmpdir(), 'sp-shop-bricked-'));
let shop: ChildProcess | undefined;
afterEach(() => {
  shop?.kill('SIGKILL');
  shop = undefined;
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  removeBundles();
});

/** `npm start` as a child process on `dataDir`; its base URL and what it wrote to stderr. */
async function start(server: string, dataDir: string) {
  const child = spawn(process.execPath, [server], {
    env: { ...process.env, PORT: '0', SHOP_DATA: dataDir, COOKIE_SECRET: 'x'.repeat(40) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  shop = child;
  const log = { stderr: '' };
  child.stderr!.on('data', (chunk: Buffer) => {
    log.stderr += chunk.toString();
  });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`the shop exited (${code}): ${out}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const listening = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (listening) resolve(Number(listening[1]));
    });
  });
  return { base: `http://127.0.0.1:${port}`, log, child };
}

/** SIGTERM, as a deploy stops it: the shop drains and saves every session. */
async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  shop = undefined;
}

describe('the demo binary after a deploy that removed the state a stored cart is in', () => {
  it('serves the shopper a fresh cart (200, new cookie), logs out, and its live view follows', {
    timeout: 60_000,
  }, async () => {
    const server = await bundleChild(new URL('../../examples/shop/server.ts', import.meta.url));
    const dataDir = join(dir, 'a');
    const first = await start(server, dataDir);
    const shopper = new CookieJar(first.base);
    expect(await shopper.json('POST', '/api/cart/items', { sku: 'A1', qty: 2 })).toMatchObject({
      count: 2,
    });
    const oldId = shopper.sessionData('shop.sid')?.sessionId as string;
    await stop(first.child);

    // The deploy: the cart's stored state no longer exists in the machine.
    const db = new Database(join(dataDir, 'sessions.db'));
    const [data] = db.prepare('SELECT data FROM sessions WHERE id = ?').raw().get(oldId) as [
      string,
    ];
    const record = JSON.parse(data) as { snapshot: { value: Record<string, unknown> } };
    record.snapshot.value = { ...record.snapshot.value, cart: 'removed' };
    db.prepare('UPDATE sessions SET data = ? WHERE id = ?').run(JSON.stringify(record), oldId);
    db.close();

    const second = await start(server, dataDir);
    const tab = shopper.clone(second.base); // an open tab still holding the old cookie
    const page = shopper.clone(second.base);
    const statuses: number[] = [];
    for (let i = 0; i < 9; i++) statuses.push((await page.request('GET', '/')).status);
    expect(statuses).toEqual(Array(9).fill(200));
    const freshId = page.sessionData('shop.sid')?.sessionId;
    expect(freshId).toEqual(expect.any(String));
    expect(freshId).not.toBe(oldId);
    expect(await page.json('GET', '/api/cart')).toMatchObject({ count: 0 });
    await page.json('POST', '/api/login', { user: 'ada' });
    expect(await page.json('POST', '/api/logout')).toMatchObject({ user: null });

    // The tab's live view: refused with 4410, then it follows the fresh session after the
    // page's next request.
    const codes: number[] = [];
    const counts: number[] = [];
    const live = connectLive<{ count: number }>(`${second.base.replace('http', 'ws')}/live`, {
      onSnapshot: ({ view }) => counts.push(view.count),
      onDisconnect: ({ code }) => codes.push(code),
      onReplaced: () => tab.request('POST', '/api/cart/items', { sku: 'B2' }),
      createSocket: (url, protocols) =>
        new WebSocket(url, protocols, { headers: { cookie: tab.header(), origin: second.base } }),
      backoff: { initialMs: 20, maxMs: 200 },
    });
    await vi.waitFor(() => expect(counts.at(-1)).toBe(1), { timeout: 10_000 });
    expect(codes[0]).toBe(4410);
    expect(live.state).toBe('open');
    live.close();

    // Reported once (the record is quarantined in the file), however many requests came.
    const reports = second.log.stderr.match(/could not be restored/g) ?? [];
    expect(reports).toHaveLength(1);
    await stop(second.child);

    // The next restart: still quarantined, not reported again.
    const third = await start(server, dataDir);
    const late = shopper.clone(third.base); // a third copy of the old cookie
    expect((await late.request('GET', '/')).status).toBe(200);
    expect(third.log.stderr).not.toMatch(/could not be restored/);
    const db2 = new Database(join(dataDir, 'sessions.db'));
    const marked = db2
      .prepare('SELECT quarantined_at FROM sessions WHERE id = ?')
      .raw()
      .get(oldId) as [number | null];
    db2.close();
    expect(marked[0]).toEqual(expect.any(Number));
    await stop(third.child);
  });
});
