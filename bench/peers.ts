/**
 * bench/peers: slow and dead peers at the live bridge (a real Koa + koa-session + ws server on
 * 127.0.0.1), with one well-behaved control view calling throughout; its round trip shows
 * whether the server stays responsive to others.
 *
 *   npm run build && node --expose-gc dist/bench/peers.js
 *
 * 1. slow readers: PEERS_SLOW views (default 100) stop reading while their sessions change 20
 *    times a second with 32 KB views for 15 s; the server's heap and the bytes queued for them
 *    must stay bounded (one superseding frame per view above the high-water mark).
 * 2. dead peers: PEERS_DEAD views (default 200) stop answering pings; the heartbeat must close
 *    every one within two intervals.
 * 3. reconnect storm: PEERS_RECONNECT views (default 1,000) are cut off by a bridge restart and
 *    all reconnect at once; every one must get its snapshot again.
 * 4. visualizer slow readers: PEERS_VIZ_SLOW feeds (default 40) ask for 200-row session lists
 *    without reading the answers; each must be dropped (close 4008) with its queue bounded.
 *
 * Prints a table (not part of `npm test`; the clients share the server's process).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import session from 'koa-session';
import { createSessionSupervisor, generateSessionId, reply } from 'session-process';
import { attachLiveBridge, type LiveBridgeOptions } from 'session-process/live';
import { visualizer } from 'session-process/visualizer';
import { WebSocket } from 'ws';
import { assign, setup } from 'xstate';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const SLOW = env('PEERS_SLOW', 100);
const DEAD = env('PEERS_DEAD', 200);
const RECONNECT = env('PEERS_RECONNECT', 1_000);
const HEARTBEAT_MS = env('PEERS_HEARTBEAT_MS', 1_000);
const VIZ_SLOW = env('PEERS_VIZ_SLOW', 40);
// Big enough that a paused reader's kernel buffers (a few MB on loopback) fill within seconds, so
// what is measured is the bridge's own queue.
const SLOW_VIEW_BYTES = env('PEERS_SLOW_VIEW_BYTES', 32_768);
const SLOW_SECONDS = env('PEERS_SLOW_SECONDS', 15);

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with --expose-gc: node --expose-gc dist/bench/peers.js');
  process.exit(1);
}
const heapMB = () => {
  gc!();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const machine = setup({
  types: { context: {} as { n: number }, events: {} as { type: 'add' } | { type: 'get' } },
}).createMachine({
  context: { n: 0 },
  on: {
    add: { actions: assign({ n: ({ context }) => context.n + 1 }) },
    get: { actions: reply(({ context }) => context.n) },
  },
});

const sessions = createSessionSupervisor({
  logic: machine,
  startRate: false,
  idleTimeoutMs: 600_000,
});
const app = new Koa();
app.keys = ['peers-key'];
app.silent = true;
const sessionMiddleware = session({ key: 'sid', sameSite: 'lax' }, app);
app.use(sessionMiddleware);
// The default heartbeat (30 s): the feeds below must be dropped for not reading, not for a missed pong.
const vizDrops: Record<string, number> = {};
const viz = visualizer(sessions, {
  app,
  onError: (err) => {
    const reason = String((err as { reason?: unknown }).reason ?? 'other');
    vizDrops[reason] = (vizDrops[reason] ?? 0) + 1;
  },
});
app.use(viz);
app.use(async (ctx) => {
  const id = generateSessionId();
  await sessions.start(id);
  ctx.session!.sessionId = id;
  ctx.body = id;
});
const server = http.createServer(app.callback());
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const feedDetach = viz.attach(server);
const wsUrl = `${origin.replace('http', 'ws')}/live`;
let reported = 0;
const bridgeOptions = (heartbeatMs: number, padBytes = 100): LiveBridgeOptions => ({
  app,
  sessions,
  session: sessionMiddleware,
  origins: [origin],
  events: ['add', 'get'],
  view: (s) => ({ n: s.context.n, pad: 'x'.repeat(padBytes) }),
  heartbeatMs,
  // Every peer of the bench connects from 127.0.0.1.
  maxViewsPerClient: 100_000,
  onError: () => {
    reported++;
  },
});

async function login(): Promise<{ cookie: string; id: string }> {
  const res = await fetch(`${origin}/login`);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  return { cookie, id: await res.text() };
}

/** A view; resolves once its first snapshot arrived. */
function view(cookie: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { headers: { origin, cookie } });
    const timer = setTimeout(() => reject(new Error('no snapshot within 20 s')), 20_000);
    ws.once('message', () => {
      clearTimeout(timer);
      resolve(ws);
    });
    ws.once('unexpected-response', (_q, res) => reject(new Error(`upgrade ${res.statusCode}`)));
    ws.on('error', () => {});
  });
}

/** The control view: one call every 20 ms; returns its round trips when stopped. */
function control(cookie: string) {
  const rtts: number[] = [];
  let failures = 0;
  let stop = false;
  const done = (async () => {
    const ws = await view(cookie);
    let ref = 0;
    while (!stop) {
      const r = `${++ref}`;
      const t0 = performance.now();
      const answered = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 5_000);
        const onMessage = (d: unknown) => {
          if (!String(d).includes(`"ref":"${r}"`)) return;
          clearTimeout(timer);
          ws.off('message', onMessage);
          resolve(true);
        };
        ws.on('message', onMessage);
        ws.send(JSON.stringify({ type: 'call', ref: r, event: { type: 'get' } }));
      });
      if (answered) rtts.push(performance.now() - t0);
      else failures++;
      await sleep(20);
    }
    ws.terminate();
  })();
  return {
    async stop() {
      stop = true;
      await done;
      const s = [...rtts].sort((a, b) => a - b);
      const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
      return { calls: rtts.length, failures, p50: q(0.5), p99: q(0.99), max: s.at(-1) ?? 0 };
    },
  };
}

const rows: string[][] = [];
const f1 = (n: number) => n.toFixed(1);

// ---- 1. slow readers -------------------------------------------------------------------------
{
  const live = attachLiveBridge(server, bridgeOptions(0, SLOW_VIEW_BYTES));
  const slow = await Promise.all(
    Array.from({ length: SLOW }, async () => {
      const { cookie, id } = await login();
      const ws = await view(cookie);
      // Stop reading: the kernel buffers fill, then the server's queue would grow.
      (ws as unknown as { _socket: { pause(): void } })._socket.pause();
      return { ws, id };
    }),
  );
  const ctl = control((await login()).cookie);
  const before = heapMB();
  let maxQueued = 0;
  const t0 = performance.now();
  let changes = 0;
  while (performance.now() - t0 < SLOW_SECONDS * 1000) {
    for (const { id } of slow) sessions.cast(id, { type: 'add' });
    changes += slow.length;
    maxQueued = Math.max(maxQueued, live.stats().bufferedBytes);
    await sleep(50);
  }
  const stats = live.stats();
  const after = heapMB();
  const c = await ctl.stop();
  rows.push([
    `slow readers: ${SLOW} views not reading, ${changes} snapshots of ${SLOW_VIEW_BYTES / 1024} KB offered in ${SLOW_SECONDS} s (${f1((changes * SLOW_VIEW_BYTES) / 2 ** 20)} MB)`,
    `heap ${f1(before)} -> ${f1(after)} MB; queued max ${f1(maxQueued / 2 ** 20)} MB (${f1(maxQueued / SLOW / 1024)} KB/view); ${stats.supersededSnapshots} snapshots superseded`,
    `control: ${c.calls} calls, p50 ${f1(c.p50)} ms, p99 ${f1(c.p99)} ms, ${c.failures} unanswered`,
  ]);
  for (const { ws } of slow) ws.terminate();
  await live.close();
}

// ---- 2. dead peers ---------------------------------------------------------------------------
{
  const live = attachLiveBridge(server, bridgeOptions(HEARTBEAT_MS));
  const dead = await Promise.all(
    Array.from({ length: DEAD }, async () => {
      const ws = await view((await login()).cookie);
      // Neither reads nor answers pings from now on (ws answers pings only when it reads).
      (ws as unknown as { _socket: { pause(): void } })._socket.pause();
      return ws;
    }),
  );
  const ctl = control((await login()).cookie);
  await sleep(100);
  const t0 = performance.now();
  while (live.clients > 1 && performance.now() - t0 < 10 * HEARTBEAT_MS) await sleep(10);
  const closedMs = performance.now() - t0;
  const left = live.clients - 1;
  const c = await ctl.stop();
  rows.push([
    `dead peers: ${DEAD} views stop answering pings (heartbeat ${HEARTBEAT_MS} ms)`,
    `all closed by the server after ${f1(closedMs)} ms (limit ${2 * HEARTBEAT_MS} ms); ${left} left`,
    `control: ${c.calls} calls, p50 ${f1(c.p50)} ms, p99 ${f1(c.p99)} ms, ${c.failures} unanswered`,
  ]);
  for (const ws of dead) ws.terminate();
  await live.close();
}

// ---- 3. reconnect storm ----------------------------------------------------------------------
{
  let live = attachLiveBridge(server, bridgeOptions(HEARTBEAT_MS));
  const cookies = await Promise.all(
    Array.from({ length: RECONNECT }, async () => (await login()).cookie),
  );
  const first = await Promise.all(cookies.map((c) => view(c)));
  const ctlCookie = (await login()).cookie;
  const before = heapMB();
  // The restart: every view is closed with 1001, a new bridge takes over at once.
  await live.close();
  for (const ws of first) ws.terminate();
  live = attachLiveBridge(server, bridgeOptions(HEARTBEAT_MS));
  const ctl = control(ctlCookie);
  const t0 = performance.now();
  const results = await Promise.allSettled(cookies.map((c) => view(c)));
  const allMs = performance.now() - t0;
  const failed = results.filter((r) => r.status === 'rejected').length;
  const c = await ctl.stop();
  const after = heapMB();
  rows.push([
    `reconnect storm: ${RECONNECT} views reconnect at once after a bridge restart`,
    `all snapshots after ${f1(allMs)} ms; ${failed} failed; heap ${f1(before)} -> ${f1(after)} MB with ${live.clients} views`,
    `control: ${c.calls} calls, p50 ${f1(c.p50)} ms, p99 ${f1(c.p99)} ms, ${c.failures} unanswered`,
  ]);
  for (const r of results) if (r.status === 'fulfilled') r.value.terminate();
  await live.close();
}

// ---- 4. visualizer slow readers ---------------------------------------------------------------
{
  const live = attachLiveBridge(server, bridgeOptions(HEARTBEAT_MS));
  const ctl = control((await login()).cookie);
  const before = heapMB();
  const t0 = performance.now();
  const closes = await Promise.all(
    Array.from(
      { length: VIZ_SLOW },
      () =>
        new Promise<{ code: number; requests: number; capped: boolean }>((resolve) => {
          const ws = new WebSocket(`${origin.replace('http', 'ws')}/_sessions/feed`, {
            headers: { origin },
          });
          let requests = 0;
          let capped = false;
          let timer: NodeJS.Timeout | undefined;
          ws.on('error', () => {});
          ws.once('message', () => {
            // After the hello: stop reading, and keep asking for full list pages.
            (ws as unknown as { _socket: { pause(): void } })._socket.pause();
            const list = JSON.stringify({ type: 'list', offset: 0, limit: 200 });
            timer = setInterval(() => {
              for (let i = 0; i < 10; i++) ws.send(list);
              requests += 10;
              if (requests >= 5_000) {
                capped = true; // never dropped: the row says so
                ws.terminate();
              }
            }, 20);
          });
          ws.once('close', (code) => {
            clearInterval(timer);
            resolve({ code, requests, capped });
          });
          // The close frame sits behind what the client does not read: let it read again soon.
          setTimeout(
            () => (ws as unknown as { _socket: { resume(): void } })._socket.resume(),
            3_000,
          );
        }),
    ),
  );
  const allMs = performance.now() - t0;
  const after = heapMB();
  await sleep(2_000);
  const later = heapMB();
  const c = await ctl.stop();
  const dropped = closes.filter((x) => x.code === 4008).length;
  const codes = [...new Set(closes.map((x) => x.code))].join(', ');
  const capped = closes.filter((x) => x.capped).length;
  const asked = closes.reduce((a, x) => a + x.requests, 0);
  rows.push([
    `visualizer slow readers: ${VIZ_SLOW} feeds ask for 200-row lists (${asked} requests) without reading`,
    `server: dropped ${JSON.stringify(vizDrops)}; clients saw close ${codes} (4008 ${dropped} times; ${capped} never dropped after 5,000 requests), all within ${f1(allMs)} ms; heap ${f1(before)} -> ${f1(after)} MB once all closed, ${f1(later)} MB 2 s later`,
    `control: ${c.calls} calls, p50 ${f1(c.p50)} ms, p99 ${f1(c.p99)} ms, ${c.failures} unanswered`,
  ]);
  await live.close();
}

await feedDetach.close();
await sessions.shutdown();
server.closeAllConnections();
await new Promise<void>((resolve) => server.close(() => resolve()));

console.log('\n| peers | what the server did | the others (control view) |');
console.log('| --- | --- | --- |');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
console.log(`\nfailures the bridge reported: ${reported}`);
