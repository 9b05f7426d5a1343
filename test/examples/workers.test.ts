import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteKeys, REDIS_URL, redisAvailable } from '../redis/storeHelpers.js';
import { bundleChild, removeBundles } from '../support/bundleChild.js';
import { CookieJar } from '../support/index.js';

const hasRedis = await redisAvailable();
const dir = mkdtempSync(join(tmpdir(), 'sp-shop-workers-'));
const prefix = `sp-workers-${process.pid}:`;
let shop: ChildProcess | undefined;
afterAll(async () => {
  shop?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  removeBundles();
  const redis = new Redis(REDIS_URL);
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

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
      req.setTimeout(3_000, () => req.destroy(new Error('no answer in 3 s')));
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
