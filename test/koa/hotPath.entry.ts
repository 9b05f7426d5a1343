/**
 * Child process of hotPath.test.ts: counts the promises made and the promise reactions run (each
 * an await's continuation or a `then` callback: a microtask hop) per request, on a real Koa server
 * with koa-session, with and without `sessionProcess` and one `call`. A process of its own, so
 * that nothing else (the test runner's own messaging) makes promises while it counts.
 * Prints one JSON line: `{ baseline, sessionProcess }`, each `{ promises, reactions, ... }`.
 */
import { createHook } from 'node:async_hooks';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import session from 'koa-session';
import { createSessionSupervisor } from 'session-process';
import { sessionProcess } from 'session-process/koa';
import { counterMachine } from '../../machines/counter.js';

const KEYS = ['hot-path-key-0123456789abcdefghijklmnopqrstuvwxyz'];
const WARM = 50;
const COUNTED = 200;

let counting = false;
let promises = 0;
let reactions = 0;
const promiseIds = new Set<number>();
createHook({
  init(asyncId, type) {
    if (!counting || type !== 'PROMISE') return;
    promises++;
    promiseIds.add(asyncId);
  },
  before(asyncId) {
    if (counting && promiseIds.has(asyncId)) reactions++;
  },
}).enable();

/** One GET with plain callbacks (the client makes no promise of its own). */
function get(port: number, cookie?: string) {
  return new Promise<{ body: string; setCookie: string[] }>((resolve, reject) => {
    const req = http.request(
      { port, host: '127.0.0.1', path: '/', headers: cookie ? { cookie } : {} },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ body, setCookie: res.headers['set-cookie'] ?? [] }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function measure(app: Koa) {
  const server = await new Promise<http.Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const first = await get(port);
  const cookie = first.setCookie.map((c) => c.split(';')[0]).join('; ');
  for (let i = 0; i < WARM; i++) await get(port, cookie);
  const bodies = new Set<string>();
  let cookiesSet = 0;
  // Sequential: one request in flight, so every promise counted belongs to a request. The
  // client's own awaits (one per request) are counted on both sides alike.
  promiseIds.clear();
  promises = reactions = 0;
  counting = true;
  for (let i = 0; i < COUNTED; i++) {
    const res = await get(port, cookie);
    bodies.add(res.body);
    cookiesSet += res.setCookie.length;
  }
  counting = false;
  server.close();
  return {
    promises: promises / COUNTED,
    reactions: reactions / COUNTED,
    bodies: [...bodies],
    cookiesSet,
  };
}

function app(): Koa {
  const a = new Koa();
  a.keys = KEYS;
  a.use(session({ key: 'sid', sameSite: 'lax' }, a));
  return a;
}

// koa-session alone, its handler awaiting one promise as the other awaits its call.
const baseline = app();
baseline.use(async (ctx) => {
  ctx.session!.count ??= 0;
  ctx.body = { value: await Promise.resolve(ctx.session!.count as number) };
});

const sessions = createSessionSupervisor({ logic: counterMachine, startRate: false });
const withProcess = app();
withProcess.use(sessionProcess(sessions, { app: withProcess, clientStartRate: false }));
withProcess.use(async (ctx) => {
  ctx.body = { value: await ctx.sessionProcess.call<number>({ type: 'get_value' }) };
});

const result = { baseline: await measure(baseline), sessionProcess: await measure(withProcess) };
await sessions.shutdown();
process.stdout.write(`${JSON.stringify(result)}\n`);
