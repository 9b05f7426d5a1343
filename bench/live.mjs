// Live-view benchmark: 10,000 connected views (1,000 sessions x 10 views) on 127.0.0.1.
//
//   npm run build && NODE_ENV=production node --expose-gc bench/live.mjs [sessions] [viewsPerSession]
//
// The server (this process: supervisor, Koa + koa-session, live bridge) and the clients (a forked
// child process running `connectLive` with the `ws` package) are separate processes, so the
// server's memory is measured alone and the two event loops do not share one core's time.
// Latency is "from `sessions.cast()` on the server to the moment the last of the session's views
// holds the new snapshot" in the client process; both stamp `process.hrtime.bigint()`, one
// monotonic clock for every process on the machine.
//
// Plain ESM importing the build (`dist/`) by package name, so XState runs its production build.
import { fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

const role = process.argv[2] === '--client' ? 'client' : 'server';
if (role === 'server') await server();
else await client();

async function server() {
  const SESSIONS = Number(process.argv[2] ?? 1_000);
  const VIEWS = Number(process.argv[3] ?? 10);
  const { default: Koa } = await import('koa');
  const { default: session } = await import('koa-session');
  const { createSessionSupervisor } = await import('session-process');
  const { attachLiveBridge } = await import('session-process/live');
  const { counterMachine } = await import('../dist/machines/counter.js');

  const gc = globalThis.gc ?? (() => {});
  const sessions = createSessionSupervisor({
    logic: counterMachine,
    idleTimeoutMs: 0,
    startRate: false,
    maxSessions: SESSIONS * 2,
    onError: (e) => console.error(e),
  });
  const app = new Koa();
  app.keys = ['bench-secret'];
  const sessionMiddleware = session({ key: 'sid' }, app);
  app.use(sessionMiddleware);
  let n = 0;
  app.use(async (ctx) => {
    if (ctx.path !== '/login') return;
    const id = `bench${++n}`;
    await sessions.start(id);
    ctx.session.sessionId = id;
    ctx.body = id;
  });
  const srv = http.createServer(app.callback());
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  const origin = `http://127.0.0.1:${port}`;
  const live = attachLiveBridge(srv, {
    app,
    sessions,
    session: sessionMiddleware,
    origins: [origin],
    events: ['add_one'],
    view: (s) => ({ count: s.context.count }),
    // The bench is the load, all from 127.0.0.1: lift the per-session, per-client and total view
    // limits above it.
    maxViewsPerSession: VIEWS,
    maxViewsPerClient: SESSIONS * VIEWS + 1_000,
    maxConnections: SESSIONS * VIEWS + 1_000,
  });

  const child = fork(fileURLToPath(import.meta.url), ['--client'], {
    env: { ...process.env },
    execArgv: [],
  });
  child.on('exit', (code) => {
    if (code !== 0) {
      console.error(`client process exited with ${code}`);
      process.exit(1);
    }
  });
  const inbox = [];
  const waiters = [];
  child.on('message', (m) => {
    inbox.push(m);
    for (const w of waiters.splice(0)) w();
  });
  const receive = async (type) => {
    for (;;) {
      const i = inbox.findIndex((m) => m.type === type);
      if (i !== -1) return inbox.splice(i, 1)[0];
      await new Promise((r) => waiters.push(r));
    }
  };

  gc();
  await new Promise((r) => setTimeout(r, 200));
  gc();
  const before = process.memoryUsage();
  const t0 = performance.now();
  child.send({
    type: 'connect',
    url: `ws://127.0.0.1:${port}/live`,
    origin,
    sessions: SESSIONS,
    views: VIEWS,
  });
  const { ids } = await receive('connected');
  const connectMs = performance.now() - t0;
  if (live.clients !== SESSIONS * VIEWS)
    throw new Error(`expected ${SESSIONS * VIEWS} views, got ${live.clients}`);
  gc();
  await new Promise((r) => setTimeout(r, 500));
  gc();
  const after = process.memoryUsage();
  const connected = live.clients;
  const perConn = (k) => (after[k] - before[k]) / connected;

  // A: one cast at a time, 10,000 views connected and idle around it.
  const single = [];
  const rounds = Math.min(2_000, SESSIONS * 2);
  for (let r = 0; r < rounds; r++) {
    const idx = r % SESSIONS;
    const id = ids[idx];
    const start = process.hrtime.bigint();
    sessions.cast(id, { type: 'add_one' });
    const version = sessions.snapshot(id).version;
    child.send({ type: 'expect', items: [[idx, version]] });
    const { done } = await receive('done');
    single.push(Number(BigInt(done[0][1]) - start) / 1e6);
  }

  // B: a burst: every session changes at once, 10,000 snapshots go out.
  const burst = [];
  let burstWallMs = 0;
  let serverLoopMs = 0;
  for (let r = 0; r < 5; r++) {
    const starts = new Array(SESSIONS);
    const items = [];
    const w0 = process.hrtime.bigint();
    for (let idx = 0; idx < SESSIONS; idx++) {
      starts[idx] = process.hrtime.bigint();
      sessions.cast(ids[idx], { type: 'add_one' });
      items.push([idx, sessions.snapshot(ids[idx]).version]);
    }
    serverLoopMs += Number(process.hrtime.bigint() - w0) / 1e6 / 5;
    child.send({ type: 'expect', items });
    const { done } = await receive('done');
    let last = 0n;
    for (const [idx, t] of done) {
      const tt = BigInt(t);
      if (tt > last) last = tt;
      burst.push(Number(tt - starts[idx]) / 1e6);
    }
    burstWallMs += Number(last - w0) / 1e6 / 5;
  }

  const stats = live.stats();
  child.send({ type: 'exit' });
  await live.close();
  await sessions.shutdown();
  srv.closeAllConnections();
  srv.close();

  const q = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
  };
  const ms = (x) => `${x.toFixed(2)} ms`;
  const kb = (x) => `${(x / 1024).toFixed(1)} KiB`;
  const rows = [
    ['views connected', `${connected} (${SESSIONS} sessions x ${VIEWS})`],
    ['connect all (cookie check + upgrade)', `${(connectMs / 1000).toFixed(2)} s`],
    [`one cast -> last of ${VIEWS} views, p50 (${single.length} casts)`, ms(q(single, 50))],
    [`one cast -> last of ${VIEWS} views, p99`, ms(q(single, 99))],
    [`burst of ${SESSIONS} casts -> last view of each, p50 (${burst.length})`, ms(q(burst, 50))],
    [`burst of ${SESSIONS} casts -> last view of each, p99`, ms(q(burst, 99))],
    [`burst: all ${SESSIONS * VIEWS} views updated (mean wall time)`, ms(burstWallMs)],
    [`burst: server time to cast and write ${SESSIONS * VIEWS} frames`, ms(serverLoopMs)],
    ['server memory per view: heap', kb(perConn('heapUsed'))],
    [
      'server memory per view: heap + external + arrayBuffers',
      kb(perConn('heapUsed') + perConn('external')),
    ],
    ['server memory per view: RSS', kb(perConn('rss'))],
    ['snapshots superseded (slow readers)', String(stats.supersededSnapshots)],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`\nlive bench: node ${process.version}, NODE_ENV=${process.env.NODE_ENV ?? ''}\n`);
  console.log(`| ${'measure'.padEnd(w)} | value |`);
  console.log(`| ${'-'.repeat(w)} | --- |`);
  for (const [k, v] of rows) console.log(`| ${k.padEnd(w)} | ${v} |`);
  process.exit(0);
}

async function client() {
  const { WebSocket } = await import('ws');
  const { connectLive } = await import('session-process/client');
  let expected = new Map(); // session index -> version awaited
  const done = [];
  let views = []; // per session: latest version per view
  const check = (idx) => {
    const want = expected.get(idx);
    if (want === undefined) return;
    if (views[idx].every((v) => v >= want)) {
      expected.delete(idx);
      done.push([idx, String(process.hrtime.bigint())]);
      if (expected.size === 0) {
        process.send({ type: 'done', done: done.splice(0) });
      }
    }
  };
  process.on('message', async (m) => {
    if (m.type === 'exit') process.exit(0);
    if (m.type === 'expect') {
      expected = new Map(m.items);
      for (const [idx] of m.items) check(idx);
      return;
    }
    if (m.type !== 'connect') return;
    const base = m.url.replace('ws://', 'http://').replace(/\/live$/, '');
    const ids = [];
    views = Array.from({ length: m.sessions }, () => new Array(m.views).fill(0));
    let opened = 0;
    const total = m.sessions * m.views;
    const allOpen = new Promise((resolve) => {
      const connectSession = async (idx) => {
        const res = await fetch(`${base}/login`);
        ids[idx] = await res.text();
        const cookie = res.headers
          .getSetCookie()
          .map((c) => c.split(';')[0])
          .join('; ');
        const opens = [];
        for (let j = 0; j < m.views; j++) {
          let first = true;
          let markOpen;
          opens.push(new Promise((r) => (markOpen = r)));
          connectLive(m.url, {
            createSocket: (u, p) => new WebSocket(u, p, { headers: { cookie, origin: m.origin } }),
            onSnapshot: ({ version }) => {
              views[idx][j] = version;
              if (first) {
                first = false;
                markOpen();
                if (++opened === total) resolve();
              }
              check(idx);
            },
            onError: (e) => console.error('client error', e),
          });
        }
        await Promise.all(opens);
      };
      // 20 sessions (200 handshakes) at a time: an unbounded flood overruns the listen backlog.
      let next = 0;
      const worker = async () => {
        while (next < m.sessions) {
          const idx = next++;
          await connectSession(idx);
        }
      };
      for (let k = 0; k < 20; k++) {
        worker().catch((err) => {
          console.error(err);
          process.exit(1);
        });
      }
    });
    await allOpen;
    process.send({ type: 'connected', ids });
  });
}
