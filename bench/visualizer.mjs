// Visualizer feed benchmark: what an open visualizer page costs a busy server.
//
//   npm run build && NODE_ENV=production node bench/visualizer.mjs [sessions] [seconds]
//
// Starts `sessions` cart sessions (default 10,000), mounts the visualizer, and casts events to
// random sessions as fast as the event loop allows, in alternating runs without and with a feed
// client (a page showing a list page and following one session). Prints casts per second, what
// the feed sends, event-loop delay, and the time to answer a list page at the far end.
//
// Plain ESM importing the build (`dist/`) by package name, so XState runs its production build.
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const N = Number(process.argv[2] ?? 10_000);
const SECONDS = Number(process.argv[3] ?? 4);
const { default: Koa } = await import('koa');
const { WebSocket } = await import('ws');
const { createSessionSupervisor } = await import('session-process');
const { visualizer } = await import('session-process/visualizer');
const { cartMachine } = await import('../dist/machines/cart.js');

const sessions = createSessionSupervisor({
  logic: cartMachine,
  startRate: false,
  idleTimeoutMs: 0,
  maxSessions: N + 1,
});
const t0 = performance.now();
for (let i = 0; i < N; i++) await sessions.start(`s${i}`);
console.log(
  `${N.toLocaleString('en-US')} sessions started in ${Math.round(performance.now() - t0)} ms`,
);

const app = new Koa();
const viz = visualizer(sessions, { app, authorize: () => true });
app.use(viz);
const server = createServer(app.callback());
viz.attach(server);
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const feedUrl = `ws://127.0.0.1:${server.address().port}/_sessions/feed`;

async function openFeed() {
  const ws = new WebSocket(feedUrl);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const stats = { messages: 0, lists: 0, bytes: 0 };
  ws.on('message', (data) => {
    stats.messages++;
    stats.bytes += data.length;
    if (data.toString('utf8', 0, 14) === '{"type":"list"') stats.lists++;
  });
  ws.send(JSON.stringify({ type: 'list', offset: Math.floor(N / 2), limit: 50 }));
  ws.send(JSON.stringify({ type: 'select', id: `s${Math.floor(N / 2) + 1}` }));
  await new Promise((resolve) => setTimeout(resolve, 300));
  Object.assign(stats, { messages: 0, lists: 0, bytes: 0 });
  return { ws, stats };
}

async function run(withFeed) {
  const feed = withFeed ? await openFeed() : undefined;
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const start = performance.now();
  let casts = 0;
  const watched = `s${Math.floor(N / 2) + 1}`;
  while (performance.now() - start < SECONDS * 1000) {
    for (let i = 0; i < 200; i++) {
      const id = `s${Math.floor(Math.random() * N)}`;
      sessions.cast(id, i % 2 ? { type: 'cart.add', sku: 'A1' } : { type: 'cart.clear' });
    }
    sessions.cast(watched, { type: 'cart.add', sku: 'B2' });
    casts += 201;
    await new Promise((resolve) => setImmediate(resolve));
  }
  delay.disable();
  const secs = (performance.now() - start) / 1000;
  feed?.ws.close();
  await new Promise((resolve) => setTimeout(resolve, 100));
  return {
    feed: withFeed ? 'open' : 'none',
    'casts/s': Math.round(casts / secs),
    'feed msg/s': feed ? +(feed.stats.messages / secs).toFixed(1) : 0,
    'list msg/s': feed ? +(feed.stats.lists / secs).toFixed(1) : 0,
    'feed KiB/s': feed ? +(feed.stats.bytes / secs / 1024).toFixed(1) : 0,
    'loop p50 ms': +(delay.percentile(50) / 1e6).toFixed(1),
    'loop p99 ms': +(delay.percentile(99) / 1e6).toFixed(1),
  };
}

const rows = [];
for (let i = 0; i < 3; i++) rows.push(await run(false), await run(true));
console.table(rows);

// One list page at the far end of the list, round trip over the socket.
const { ws } = await openFeed();
const far = await new Promise((resolve) => {
  const sent = performance.now();
  ws.on('message', (data) => {
    const text = data.toString();
    if (text.includes(`"offset":${N - 50}`))
      resolve({ ms: performance.now() - sent, bytes: text.length });
  });
  ws.send(JSON.stringify({ type: 'list', offset: N - 50, limit: 50 }));
});
console.log(
  `list page at offset ${(N - 50).toLocaleString('en-US')}: ${far.ms.toFixed(1)} ms round trip, ${far.bytes} bytes`,
);

// What the chart waits for: from a cast to the selected session until the feed pushes its new
// snapshot (the page redraws from that message). Moved here from test/visualizer/page.test.ts,
// which asserted it under a 1 s budget on a shared machine.
const watched = `s${Math.floor(N / 2) + 1}`;
const lags = [];
for (let i = 0; i < 50; i++) {
  lags.push(
    await new Promise((resolve) => {
      const sent = performance.now();
      const onMessage = (data) => {
        if (data.toString('utf8', 0, 18) !== '{"type":"snapshot"') return;
        ws.off('message', onMessage);
        resolve(performance.now() - sent);
      };
      ws.on('message', onMessage);
      sessions.cast(watched, i % 2 ? { type: 'cart.clear' } : { type: 'cart.add', sku: 'C3' });
    }),
  );
}
lags.sort((a, b) => a - b);
console.log(
  `event to snapshot on the feed (selected session, 50 events): p50 ${lags[25].toFixed(1)} ms, max ${lags[49].toFixed(1)} ms`,
);
ws.close();
await viz.close();
server.close();
await sessions.shutdown();
