/**
 * bench/soak: 10,000 sessions churning for SOAK_MINUTES (default 10) behind a real Koa +
 * koa-session + live bridge server on 127.0.0.1: calls, casts, terminations, idle expiries,
 * crashes (restarted, then ended past the restart budget) and live views attaching, calling,
 * detaching and re-attaching. Heap (after a forced GC) and RSS are sampled and must stay flat
 * within 5 % after the warm-up; p50/p99 latency of in-process calls and of live-view calls
 * (WebSocket round trip) are recorded over time. Nothing may be lost: every call to a running
 * session answers with the count its acknowledged casts imply, every view gets its snapshot and
 * its replies, and nothing is left pending at the end.
 *
 *   npm run build && SOAK_MINUTES=1 node --expose-gc dist/bench/soak.js
 *
 * Prints a table and writes it with an SVG plot of memory and latency over time to
 * bench/results/soak.md and bench/results/soak.svg (SOAK_OUT to change the folder). Not part of
 * `npm test`. The clients run in the same process as the server (their memory is in the
 * figures; their number is held constant, so it does not move the trend).
 *
 * Knobs: SOAK_SESSIONS (10000), SOAK_VIEWS (100 live views at once), SOAK_CALLS_PER_S (500),
 * SOAK_CASTS_PER_S (500), SOAK_CRASHES_PER_S (2), SOAK_TERMINATES_PER_S (20), SOAK_IDLE_MS
 * (10000), SOAK_WARMUP_S (25 % of the run, 20-120 s), SOAK_SAMPLE_S (the run / 40, at least 5).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import Koa from 'koa';
import session from 'koa-session';
import { createSessionSupervisor, generateSessionId, reply } from 'session-process';
import { attachLiveBridge } from 'session-process/live';
import { WebSocket } from 'ws';
import { assign, setup } from 'xstate';
import { plotSvg } from './plotSvg.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const MINUTES = env('SOAK_MINUTES', 10);
const DURATION_MS = MINUTES * 60_000;
const SESSIONS = env('SOAK_SESSIONS', 10_000);
const VIEWS = env('SOAK_VIEWS', 100);
const CALLS_PER_S = env('SOAK_CALLS_PER_S', 500);
const CASTS_PER_S = env('SOAK_CASTS_PER_S', 500);
const CRASHES_PER_S = env('SOAK_CRASHES_PER_S', 2);
const TERMINATES_PER_S = env('SOAK_TERMINATES_PER_S', 20);
const IDLE_MS = env('SOAK_IDLE_MS', 10_000);
const WARMUP_MS =
  env('SOAK_WARMUP_S', Math.min(120, Math.max(20, (DURATION_MS / 1000) * 0.25))) * 1000;
const SAMPLE_MS = env('SOAK_SAMPLE_S', Math.max(5, DURATION_MS / 1000 / 40)) * 1000;
const TICK_MS = 20;
const OUT = process.env.SOAK_OUT ?? fileURLToPath(new URL('../../bench/results/', import.meta.url));

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with --expose-gc: node --expose-gc dist/bench/soak.js');
  process.exit(1);
}

/** A counter that replies to `get` and throws on `boom`. */
const soakMachine = setup({
  types: {
    context: {} as { n: number },
    events: {} as { type: 'add' } | { type: 'get' } | { type: 'boom' },
  },
}).createMachine({
  context: { n: 0 },
  on: {
    add: { actions: assign({ n: ({ context }) => context.n + 1 }) },
    get: { actions: reply(({ context }) => context.n) },
    boom: {
      actions: () => {
        throw new Error('injected crash');
      },
    },
  },
});

// ---- counters --------------------------------------------------------------------------------
const totals = {
  started: 0,
  calls: 0,
  casts: 0,
  crashesInjected: 0,
  terminatesAsked: 0,
  viewsAttached: 0,
  viewsReattached: 0,
  liveCalls: 0,
};
/** Everything that counts as lost: must all stay 0. */
const lost = {
  wrongCount: 0,
  callFailed: 0,
  liveNoSnapshot: 0,
  liveWrongReply: 0,
  liveNoReply: 0,
  unexpectedErrors: 0,
  uncaught: 0,
};
/** Calls that met a session ending in the same instant (expected under churn, not lost). */
let callsRaced = 0;
const ended = { terminated: 0, expired: 0, crashed: 0, shutdown: 0 };
let restarts = 0;

process.on('uncaughtException', (err) => {
  lost.uncaught++;
  console.error('uncaughtException', err);
});
process.on('unhandledRejection', (err) => {
  lost.uncaught++;
  console.error('unhandledRejection', err);
});

// ---- server ----------------------------------------------------------------------------------
const sessions = createSessionSupervisor({
  logic: soakMachine,
  idleTimeoutMs: IDLE_MS,
  startRate: false,
  maxSessions: SESSIONS * 2,
  restart: { onCrash: true, maxRestarts: 2, withinMs: 60_000 },
  onError: (error, info) => {
    if (info.source !== 'crash') {
      lost.unexpectedErrors++;
      console.error(error);
    }
  },
});
const app = new Koa();
app.keys = ['soak-key'];
app.silent = true;
const sessionMiddleware = session({ key: 'sid', sameSite: 'lax', maxAge: 3_600_000 }, app);
app.use(sessionMiddleware);
app.use(async (ctx) => {
  if (ctx.path !== '/login') {
    ctx.status = 404;
    return;
  }
  const id = generateSessionId();
  await sessions.start(id);
  totals.started++;
  ctx.session!.sessionId = id;
  ctx.body = id;
});
const server = http.createServer(app.callback());
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const live = attachLiveBridge(server, {
  app,
  sessions,
  session: sessionMiddleware,
  origins: [origin],
  events: ['add', 'get'],
  view: (s) => ({ n: s.context.n }),
  onError: (err) => {
    lost.unexpectedErrors++;
    console.error(err);
  },
});

// ---- the churning population -----------------------------------------------------------------
/** Sessions the churn drives (the rest are abandoned: they only expire). */
const active: string[] = [];
const where = new Map<string, number>();
/** The count each driven session must answer: its acknowledged `add` casts since its last start. */
const expected = new Map<string, number>();

function drop(id: string): void {
  const i = where.get(id);
  if (i === undefined) return;
  const last = active.pop()!;
  if (last !== id) {
    active[i] = last;
    where.set(last, i);
  }
  where.delete(id);
  expected.delete(id);
}
sessions.on('stop', (e) => {
  ended[e.reason]++;
  drop(e.sessionId);
});
sessions.on('crash', (e) => {
  if (e.restarting) {
    restarts++;
    if (expected.has(e.sessionId)) expected.set(e.sessionId, 0);
  }
});

const pick = () => active[Math.floor(Math.random() * active.length)];
/**
 * `rate` per second as a whole number of operations for the time since the last tick (random
 * rounding), so the rates hold even when a busy event loop delays the ticks.
 */
let lastTick = performance.now();
let elapsedMs = TICK_MS;
const perTick = (rate: number) => {
  const x = (rate * elapsedMs) / 1000;
  return Math.floor(x) + (Math.random() < x % 1 ? 1 : 0);
};

/** Sessions that crashed recently (some are crashed again). */
const crashedBefore: string[] = [];
let callLat: number[] = [];
let liveLat: number[] = [];

function tick(): void {
  const now = performance.now();
  elapsedMs = Math.min(1_000, now - lastTick);
  lastTick = now;
  // Refill to the target population: 70 % driven, 30 % abandoned (they idle out).
  for (let k = 0; k < 500 && sessions.count < SESSIONS; k++) {
    const id = generateSessionId();
    sessions.start(id);
    totals.started++;
    if (Math.random() < 0.7) {
      where.set(id, active.length);
      active.push(id);
      expected.set(id, 0);
    }
  }
  if (active.length === 0) return;
  for (let k = perTick(CASTS_PER_S); k > 0; k--) {
    const id = pick()!;
    sessions.cast(id, { type: 'add' });
    totals.casts++;
    expected.set(id, expected.get(id)! + 1);
  }
  for (let k = perTick(CALLS_PER_S); k > 0; k--) {
    const id = pick()!;
    const want = expected.get(id);
    const t0 = performance.now();
    totals.calls++;
    sessions.call(id, { type: 'get' }).then(
      (n) => {
        callLat.push(performance.now() - t0);
        if (n !== want) lost.wrongCount++;
      },
      (err: { code?: string }) => {
        if (err.code === 'SESSION_ENDED' || err.code === 'SESSION_CRASHED') callsRaced++;
        else {
          lost.callFailed++;
          console.error(err);
        }
      },
    );
  }
  for (let k = perTick(CRASHES_PER_S); k > 0; k--) {
    // Half the crashes hit a session that crashed before: past the restart budget it ends.
    const again = crashedBefore.length > 0 && Math.random() < 0.5;
    const id = again ? crashedBefore[Math.floor(Math.random() * crashedBefore.length)]! : pick()!;
    if (!again) crashedBefore.push(id);
    if (crashedBefore.length > 50) crashedBefore.shift();
    if (!sessions.started(id)) continue;
    sessions.cast(id, { type: 'boom' });
    totals.crashesInjected++;
    if (active.length === 0) return;
  }
  for (let k = perTick(TERMINATES_PER_S); k > 0 && active.length > 0; k--) {
    void sessions.terminate(pick()!);
    totals.terminatesAsked++;
  }
}

// ---- live views ------------------------------------------------------------------------------
let stopping = false;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One view's socket: its parsed messages and a way to wait for one. */
function open(
  cookie: string,
): Promise<{ ws: WebSocket; next: (pred: (m: any) => boolean) => Promise<any> }> {
  const ws = new WebSocket(`${origin.replace('http', 'ws')}/live`, ['session-process.v1'], {
    headers: { origin, cookie },
  });
  const messages: any[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (d) => {
    messages.push(JSON.parse(String(d)));
    for (const w of waiters) w();
  });
  ws.on('error', () => {});
  const next = (pred: (m: any) => boolean) =>
    new Promise<any>((resolve, reject) => {
      const check = () => {
        const i = messages.findIndex(pred);
        if (i === -1) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(messages.splice(i, 1)[0]);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error('no answer within 10 s'));
      }, 10_000);
      waiters.add(check);
      check();
    });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, next }));
    ws.once('unexpected-response', (_q, res) => reject(new Error(`upgrade ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

async function viewLoop(n: number): Promise<void> {
  await sleep((n * 1000) / VIEWS); // spread the first logins over a second
  let refs = 0;
  while (!stopping) {
    const res = await fetch(`${origin}/login`);
    const cookie = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    await res.text();
    let count = 0;
    for (let visit = 0; visit < 2 && !stopping; visit++) {
      let view: Awaited<ReturnType<typeof open>>;
      try {
        view = await open(cookie);
      } catch {
        // the session is alive (views keep it from idling out, the pause is short): a refusal is a loss
        lost.liveNoSnapshot++;
        break;
      }
      visit === 0 ? totals.viewsAttached++ : totals.viewsReattached++;
      try {
        const first = await view.next((m) => m.type === 'snapshot');
        if (first.view.n !== count) lost.liveWrongReply++;
      } catch {
        lost.liveNoSnapshot++;
      }
      for (let k = 1 + Math.floor(Math.random() * 5); k > 0 && !stopping; k--) {
        view.ws.send(JSON.stringify({ type: 'send', event: { type: 'add' } }));
        count++;
        const ref = `${n}-${++refs}`;
        const t0 = performance.now();
        view.ws.send(JSON.stringify({ type: 'call', ref, event: { type: 'get' } }));
        totals.liveCalls++;
        try {
          const answer = await view.next((m) => m.ref === ref);
          liveLat.push(performance.now() - t0);
          if (answer.type !== 'reply' || answer.value !== count) lost.liveWrongReply++;
        } catch {
          lost.liveNoReply++;
        }
        await sleep(100 + Math.random() * 400);
      }
      view.ws.close();
      // Half the views come back to the same session a little later (a page reload).
      if (Math.random() < 0.5) break;
      await sleep(200 + Math.random() * 800);
    }
  }
}

// ---- sampling --------------------------------------------------------------------------------
interface Sample {
  t: number;
  heapMB: number;
  rssMB: number;
  /** V8's reserved heap and memory outside it (Buffers), to explain RSS. */
  heapTotalMB: number;
  externalMB: number;
  sessions: number;
  views: number;
  callP50: number;
  callP99: number;
  liveP50: number;
  liveP99: number;
  loopP99: number;
}
const samples: Sample[] = [];
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
const q = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};
const t0 = performance.now();
function sample(): void {
  // A full GC first, so the heap figure is what is retained (its pause shows in loop p99).
  gc!();
  const mem = process.memoryUsage();
  const row: Sample = {
    t: (performance.now() - t0) / 60_000,
    heapMB: mem.heapUsed / 2 ** 20,
    rssMB: mem.rss / 2 ** 20,
    heapTotalMB: mem.heapTotal / 2 ** 20,
    externalMB: mem.external / 2 ** 20,
    sessions: sessions.count,
    views: live.clients,
    callP50: q(callLat, 0.5),
    callP99: q(callLat, 0.99),
    liveP50: q(liveLat, 0.5),
    liveP99: q(liveLat, 0.99),
    loopP99: loop.percentile(99) / 1e6,
  };
  callLat = [];
  liveLat = [];
  loop.reset();
  samples.push(row);
  console.log(
    `${row.t.toFixed(2)} min  heap ${row.heapMB.toFixed(1)} MB  rss ${row.rssMB.toFixed(1)} MB  heapTotal ${row.heapTotalMB.toFixed(1)} MB  external ${row.externalMB.toFixed(1)} MB  sessions ${row.sessions}  views ${row.views}  call p50/p99 ${row.callP50.toFixed(3)}/${row.callP99.toFixed(3)} ms  live p50/p99 ${row.liveP50.toFixed(2)}/${row.liveP99.toFixed(2)} ms  loop p99 ${row.loopP99.toFixed(1)} ms`,
  );
}

// ---- run -------------------------------------------------------------------------------------
console.log(
  `soak: ${SESSIONS} sessions, ${VIEWS} live views, ${CALLS_PER_S} calls/s, ${CASTS_PER_S} casts/s, ${CRASHES_PER_S} crashes/s, ${TERMINATES_PER_S} terminations/s, idle ${IDLE_MS} ms, ${MINUTES} min (warm-up ${WARMUP_MS / 1000} s, a sample every ${SAMPLE_MS / 1000} s)`,
);
const ticker = setInterval(tick, TICK_MS);
const sampler = setInterval(sample, SAMPLE_MS);
const views = Array.from({ length: VIEWS }, (_, i) => viewLoop(i));
await sleep(DURATION_MS);
stopping = true;
clearInterval(ticker);
clearInterval(sampler);
await Promise.all(views);
await sleep(200);
const pendingAfter = sessions.stats().pendingCalls;
const subscribersAfter = sessions.stats().subscribers;
const viewsAfter = live.clients;
await live.close();
await sessions.shutdown();
server.closeAllConnections();
await new Promise<void>((resolve) => server.close(() => resolve()));

// ---- report ----------------------------------------------------------------------------------
const steady = samples.filter((s) => s.t * 60_000 >= WARMUP_MS);
/** Change over the steady window by a least-squares line, relative to its mean. */
function drift(key: 'heapMB' | 'rssMB'): { drift: number; spread: number; mean: number } {
  const n = steady.length;
  if (n < 2) return { drift: Number.NaN, spread: Number.NaN, mean: Number.NaN };
  const xs = steady.map((s) => s.t);
  const ys = steady.map((s) => s[key]);
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return {
    drift: (slope * (xs[n - 1]! - xs[0]!)) / my,
    spread: (Math.max(...ys) - Math.min(...ys)) / my,
    mean: my,
  };
}
const heap = drift('heapMB');
const rss = drift('rssMB');
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const lostTotal = Object.values(lost).reduce((a, b) => a + b, 0) + pendingAfter + viewsAfter;
const flatOk = Math.abs(heap.drift) <= 0.05 && Math.abs(rss.drift) <= 0.05;
const ms = (x: number) => (Number.isNaN(x) ? '—' : x.toFixed(3));

const lines = [
  `# soak, ${new Date().toISOString().slice(0, 16)}Z, ${MINUTES} min`,
  '',
  `${SESSIONS} sessions, ${VIEWS} live views at once, ${CALLS_PER_S} calls/s, ${CASTS_PER_S} casts/s, ${CRASHES_PER_S} crashes/s, ${TERMINATES_PER_S} terminations/s, idle timeout ${IDLE_MS} ms; warm-up ${WARMUP_MS / 1000} s; node ${process.version}.`,
  '',
  '| min | heap MB | RSS MB | V8 heap total MB | external MB | sessions | views | call p50 ms | call p99 ms | live p50 ms | live p99 ms | loop p99 ms |',
  '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...samples.map(
    (s) =>
      `| ${s.t.toFixed(2)} | ${s.heapMB.toFixed(1)} | ${s.rssMB.toFixed(1)} | ${s.heapTotalMB.toFixed(1)} | ${s.externalMB.toFixed(1)} | ${s.sessions} | ${s.views} | ${ms(s.callP50)} | ${ms(s.callP99)} | ${ms(s.liveP50)} | ${ms(s.liveP99)} | ${s.loopP99.toFixed(1)} |`,
  ),
  '',
  '| check | result | target | ok |',
  '| --- | --- | --- | --- |',
  `| heap after warm-up | mean ${heap.mean.toFixed(1)} MB, drift ${pct(heap.drift)}, spread ${pct(heap.spread)} | drift within 5 % | ${Math.abs(heap.drift) <= 0.05 ? 'yes' : 'NO'} |`,
  `| RSS after warm-up | mean ${rss.mean.toFixed(1)} MB, drift ${pct(rss.drift)}, spread ${pct(rss.spread)} | drift within 5 % | ${Math.abs(rss.drift) <= 0.05 ? 'yes' : 'NO'} |`,
  `| lost (wrong count, failed call, view without snapshot/reply, unexpected error, uncaught, pending or open at the end) | ${lostTotal} ${JSON.stringify({ ...lost, pendingAfter, viewsAfter })} | 0 | ${lostTotal === 0 ? 'yes' : 'NO'} |`,
  '',
  `Load held: ${totals.started} sessions started, ${totals.calls} calls, ${totals.casts} casts, ${totals.liveCalls} live calls over ${totals.viewsAttached} view attachments and ${totals.viewsReattached} re-attachments; faults: ${totals.crashesInjected} crashes injected (${restarts} restarts), ${totals.terminatesAsked} terminations asked; ended ${JSON.stringify(ended)}; ${callsRaced} calls met their session ending in the same instant (answered SESSION_ENDED/CRASHED, not lost); subscribers left before shutdown: ${subscribersAfter}.`,
  '',
];
const table = lines.join('\n');
console.log(`\n${table}`);

const svg = plotSvg({
  title: `soak: ${SESSIONS} sessions, ${VIEWS} live views, ${MINUTES} min`,
  xLabel: 'minutes',
  panels: [
    {
      title: 'memory (MB, heap after GC)',
      shade: [0, WARMUP_MS / 60_000],
      series: [
        { name: 'heap', points: samples.map((s) => [s.t, s.heapMB] as const) },
        { name: 'RSS', points: samples.map((s) => [s.t, s.rssMB] as const) },
      ],
    },
    {
      title: 'latency (ms, log scale)',
      shade: [0, WARMUP_MS / 60_000],
      log: true,
      series: [
        { name: 'call p50', points: samples.map((s) => [s.t, s.callP50] as const) },
        { name: 'call p99', points: samples.map((s) => [s.t, s.callP99] as const) },
        { name: 'live p50', points: samples.map((s) => [s.t, s.liveP50] as const) },
        { name: 'live p99', points: samples.map((s) => [s.t, s.liveP99] as const) },
      ].map((s) => ({ ...s, points: s.points.filter(([, y]) => !Number.isNaN(y)) })),
    },
  ],
});
mkdirSync(OUT, { recursive: true });
writeFileSync(`${OUT}/soak.md`, table);
writeFileSync(`${OUT}/soak.svg`, svg);
console.log(`wrote ${OUT}soak.md and ${OUT}soak.svg`);
process.exit(flatOk && lostTotal === 0 ? 0 : 1);
