import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteKeys, REDIS_URL, redisAvailable } from '../redis/storeHelpers.js';
import { bundleChild, removeBundles } from '../support/bundleChild.js';
import { connectLive, type SnapshotMessage } from 'session-process/client';
import WebSocket from 'ws';
import { CookieJar, connectWs, recordFrames } from '../support/index.js';

const hasRedis = await redisAvailable();
const dir = mkdtempSync(join(tmpdir(), 'sp-shop-workers-'));
const prefix = `sp-workers-${process.pid}:`;
let shop: ChildProcess | undefined;
const shops: ChildProcess[] = [];
afterAll(async () => {
  shop?.kill('SIGKILL');
  for (const s of shops) s.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  removeBundles();
  const redis = new Redis(REDIS_URL);
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

/**
 * `WORKERS=2 npm start` on a key prefix of its own: resolves with its port once both workers
 * listen; `listening()` counts the workers that have said so (replacements included).
 */
async function startWorkers(name: string) {
  const server = await bundleChild(new URL('../../examples/shop/server.ts', import.meta.url));
  const child = spawn(process.execPath, [server], {
    env: {
      ...process.env,
      WORKERS: '2',
      PORT: '0',
      SHOP_DATA: join(dir, name),
      REDIS_PREFIX: `${prefix}${name}:`,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  shops.push(child);
  let out = '';
  const listening = () => [...out.matchAll(/listening on http:\/\/127\.0\.0\.1:(\d+)/g)];
  const port = await new Promise<number>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`the shop exited (${code}): ${out}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const seen = listening();
      if (seen.length >= 2) resolve(Number(seen[0]![1]));
    });
  });
  return { child, port, listening: () => listening().length };
}

/**
 * Which of the worker processes `pids` holds the server side of the TCP connection from the
 * local port `clientPort` to `serverPort` (the primary hands each accepted connection to a
 * worker): the connection's socket inode in /proc/net/tcp, found among each worker's open files.
 */
function workerHolding(clientPort: number, serverPort: number, pids: Iterable<string>) {
  const hex = (n: number) => `:${n.toString(16).toUpperCase().padStart(4, '0')}`;
  let inode: string | undefined;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1]?.endsWith(hex(serverPort)) && f[2]?.endsWith(hex(clientPort))) inode = f[9];
    }
  }
  if (inode === undefined) return undefined;
  for (const pid of pids) {
    const fds = `/proc/${pid}/fd`;
    for (const fd of readdirSync(fds)) {
      try {
        if (readlinkSync(`${fds}/${fd}`) === `socket:[${inode}]`) return pid;
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

/** One request on a connection of its own (so the primary may hand it to either worker). */
function post(port: number, path: string, body: unknown, cookie: string) {
  return new Promise<{ status: number; worker: string; setCookie: string[]; body: any }>(
    (resolve, reject) => {
      const data = JSON.stringify(body);
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method: 'POST',
          agent: false,
          headers: { 'content-type': 'application/json', cookie, 'content-length': data.length },
        },
        (res) => {
          let text = '';
          res.on('data', (c) => {
            text += c;
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              worker: String(res.headers['x-shop-worker'] ?? ''),
              setCookie: res.headers['set-cookie'] ?? [],
              body: JSON.parse(text),
            }),
          );
        },
      );
      req.on('error', reject);
      // Generous: the system tier runs many files at once on two cores; the test is about what
      // the answers say, not how fast they come.
      req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
      req.end(data);
    },
  );
}

describe('WORKERS=2 npm start', () => {
  it.skipIf(!hasRedis)(
    'spreads a shopper over both workers with one cart, and loses none of it when a worker is killed',
    { timeout: 60_000 },
    async () => {
      const server = await bundleChild(new URL('../../examples/shop/server.ts', import.meta.url));
      shop = spawn(process.execPath, [server], {
        env: { ...process.env, WORKERS: '2', PORT: '0', SHOP_DATA: dir, REDIS_PREFIX: prefix },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      const port = await new Promise<number>((resolve, reject) => {
        shop!.on('exit', (code) => reject(new Error(`the shop exited (${code}): ${out}`)));
        shop!.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const listening = [...out.matchAll(/listening on http:\/\/127\.0\.0\.1:(\d+)/g)];
          if (listening.length >= 2) resolve(Number(listening[0]![1]));
        });
      });

      const browser = new CookieJar();
      let acked = 0;
      const workers = new Set<string>();
      const add = async () => {
        // A connection the primary handed to the worker just killed is never answered: that
        // request was not acknowledged, and the next one goes to a live worker.
        const res = await post(port, '/api/cart/items', { sku: 'A1' }, browser.header()).catch(
          () => undefined,
        );
        if (res?.status !== 200) return res;
        acked++;
        workers.add(res.worker);
        browser.store(res.setCookie);
        expect(res.body.count).toBe(acked); // one cart, whichever worker answered
        return res;
      };
      for (let i = 0; i < 12; i++) await add();
      expect(workers.size).toBe(2);

      const victim = [...workers][0]!;
      process.kill(Number(victim), 'SIGKILL');
      for (let i = 0; i < 12; i++) await add();
      const last = await add();
      expect(last?.status).toBe(200);
      expect(last?.body.count).toBe(acked);
      expect(acked).toBeGreaterThanOrEqual(20);
    },
  );
});

describe('WORKERS=2: one shop, seen as one', () => {
  it.skipIf(!hasRedis)(
    'lists the same sessions in the visualizer of either worker, and holds the start limit across both',
    { timeout: 60_000 },
    async () => {
      const { port } = await startWorkers('wide');
      // Six shoppers, their carts started on whichever worker each first request landed on.
      const workers = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const res = await post(port, '/api/cart/items', { sku: 'A1' }, '');
        expect(res.status).toBe(200);
        workers.add(res.worker);
      }
      expect(workers.size).toBe(2);

      // Each feed is a new connection: the primary hands them to the workers in turn. Each
      // worker's visualizer, whichever sessions it runs itself, lists the same six.
      const lists = new Map<string, string[][]>();
      for (let i = 0; i < 8 && !(lists.size === 2 && i >= 4); i++) {
        const ws = await connectWs(`ws://127.0.0.1:${port}/_sessions/feed`, {});
        const rec = recordFrames(ws);
        await rec.next((m) => m.type === 'hello');
        const worker = workerHolding(
          (ws as unknown as { _socket: { localPort: number } })._socket.localPort,
          port,
          workers,
        );
        expect(worker).toBeDefined();
        ws.send(JSON.stringify({ type: 'list', offset: 0, limit: 50 }));
        const list = await rec.next((m) => m.type === 'list');
        expect(list.total).toBe(6);
        const ids = list.rows.map((r: { id: string }) => r.id).sort();
        lists.set(worker!, [...(lists.get(worker!) ?? []), ids]);
        ws.close();
      }
      expect([...lists.keys()].sort()).toEqual([...workers].sort());
      const all = [...lists.values()].flat();
      expect(all[0]).toHaveLength(6);
      for (const l of all) expect(l).toEqual(all[0]);

      // The per-client start limit (60 a minute) is one window for the whole shop: six starts
      // are used, so 54 more get in, spread over both workers, and the rest get 429 from either.
      const answers: { status: number; worker: string }[] = [];
      for (let i = 0; i < 70; i++)
        answers.push(await post(port, '/api/cart/items', { sku: 'A1' }, ''));
      const by = (status: number) => answers.filter((a) => a.status === status);
      expect(by(200)).toHaveLength(54);
      expect(by(429)).toHaveLength(16);
      expect(new Set(by(200).map((a) => a.worker))).toEqual(workers);
      expect(new Set(by(429).map((a) => a.worker))).toEqual(workers);
    },
  );

  it.skipIf(!hasRedis)(
    'drains a worker on SIGTERM: its carts go on at the other worker, nothing acknowledged is lost, and the open tab follows within 2 s',
    { timeout: 90_000 },
    async () => {
      const { port, listening } = await startWorkers('drain');
      const base = `http://127.0.0.1:${port}`;
      const shopper = new CookieJar();
      let acked = 0;
      const pids = new Set<string>();
      const views: SnapshotMessage<{ count: number }>[] = [];
      const add = async () => {
        const res = await post(port, '/api/cart/items', { sku: 'A1' }, shopper.header()).catch(
          () => undefined,
        );
        if (res?.status !== 200) return;
        acked++;
        pids.add(res.worker);
        shopper.store(res.setCookie);
        expect(res.body.count).toBe(acked);
      };
      while (pids.size < 2) await add();

      const tab = connectLive<{ count: number }>(`ws://127.0.0.1:${port}/live`, {
        onSnapshot: (s) => views.push(s),
        createSocket: (url, protocols) =>
          new WebSocket(url, protocols, { headers: { cookie: shopper.header(), origin: base } }),
        backoff: { initialMs: 20, maxMs: 200 },
      });
      const showing = (n: number) => views.at(-1)?.view.count === n;
      const until = async (ok: () => boolean, ms: number) => {
        const end = performance.now() + ms;
        while (!ok() && performance.now() < end) await new Promise((r) => setTimeout(r, 10));
        return ok();
      };
      await add();
      expect(await until(() => showing(acked), 5_000)).toBe(true);

      // Each original worker in turn gets SIGTERM (the tab's is one of them); the primary
      // replaces it. Adds go on throughout.
      const followMs: number[] = [];
      for (const pid of [...pids]) {
        const workersBefore = listening();
        const killedAt = performance.now();
        process.kill(Number(pid), 'SIGTERM');
        let stop = false;
        const adding = (async () => {
          while (!stop) await add();
        })();
        const target = acked + 3;
        while (acked < target) await new Promise((r) => setTimeout(r, 10));
        const followed = await until(
          () => showing(acked) || (views.at(-1)?.view.count ?? 0) >= target,
          10_000,
        );
        followMs.push(performance.now() - killedAt);
        stop = true;
        await adding;
        expect(followed).toBe(true);
        expect(await until(() => listening() > workersBefore, 20_000)).toBe(true);
      }
      console.log(
        `tab received again ${followMs.map((ms) => `${Math.round(ms)} ms`).join(', ')} after each SIGTERM`,
      );
      for (const ms of followMs) expect(ms).toBeLessThan(2_000);
      const last = await post(port, '/api/cart/items', { sku: 'A1' }, shopper.header());
      expect(last.status).toBe(200);
      expect(last.body.count).toBe(acked + 1);
      tab.close();
    },
  );
});
