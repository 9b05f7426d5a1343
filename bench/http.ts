/**
 * bench/http: requests/s, latency and server CPU per request of a Koa route that does one `call`
 * on the request's session process, against the same app answering the same body with koa-session
 * alone, in one run (issue 23).
 *
 *   npm run bench:http      (npm run build && NODE_ENV=production node dist/bench/http.js)
 *
 * Targets (checked, printed, exit code 1 naming those missed): one call per request at least 0.9x
 * the requests/s of koa-session alone, and at most koa-session's server CPU per request + 10 µs.
 * Reported without a target: the same route on a supervisor with `durability: 'durable'` on
 * SQLite, and with the live bridge attached and one open view per session; and, for reference,
 * the call's floor: koa-session with a raw XState actor per session (no supervisor, no
 * middleware) doing the fastest request/reply XState has (bench/core's raw ceiling), and
 * koa-session alone with a handler that awaits one resolved promise (what the `await` of a handler
 * that calls costs by itself).
 *
 * Env: BENCH_CONNECTIONS (default 50, each its own browser session), BENCH_SECONDS (per
 * measurement, default 3), BENCH_ROUNDS (default 5). The servers run in a forked child (plain
 * `node`, so XState's production build) and autocannon in this process, so the load generator does
 * not share the servers' event loop. Every route answers the same body (`{"value":0}`, JSON), so
 * the ratios measure the session, not the encoding. Rounds alternate the variants so that drift on
 * a shared machine hits all; the table shows the median round of each and the median of the
 * per-round ratios (and CPU differences), which pair measurements taken seconds apart.
 * `BENCH_VARIANTS=middleware` (a comma list) runs those beside `baseline` and `call` alone.
 * `BENCH_PROFILE=<variant>` runs only that variant, once, for `node --cpu-prof` on the child
 * (`BENCH_CHILD_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'`).
 */
import { fork } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type Koa from 'koa';
import { connectLive } from 'session-process/client';
import { attachLiveBridge } from 'session-process/live';
import { WebSocket } from 'ws';
import { ALL, BODY, createApps, LABELS, type Variant } from './httpApps.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PROFILE = process.env.BENCH_PROFILE as Variant | undefined;

type Ports = Record<Variant, number>;
/** `BENCH_VARIANTS=baseline,middleware,call` measures those alone (baseline and call always). */
const VARIANTS = ALL.filter(
  (v) =>
    v === 'baseline' ||
    v === 'call' ||
    (process.env.BENCH_VARIANTS?.split(',').includes(v) ?? true),
);

/** The child: one app per variant, on 127.0.0.1. */
async function serve(): Promise<void> {
  const { apps, liveSessions, liveSession, close } = createApps();
  const listen = (app: Koa) =>
    new Promise<Server>((resolve) => {
      const server = app.listen(0, '127.0.0.1', () => resolve(server));
    });
  const port = (server: Server) => (server.address() as AddressInfo).port;
  const liveServer = await listen(apps.live);
  attachLiveBridge(liveServer, {
    app: apps.live,
    sessions: liveSessions,
    session: liveSession,
    origins: [`http://127.0.0.1:${port(liveServer)}`],
    events: [],
    view: (s) => ({ count: (s.context as { count: number }).count }),
    maxViewsPerClient: CONNECTIONS + 100,
  });
  const ports = { live: port(liveServer) } as Ports;
  for (const v of ALL) if (v !== 'live') ports[v] = port(await listen(apps[v]));
  process.on('message', (message) => {
    if (message === 'cpu') process.send!(process.cpuUsage());
  });
  process.send!(ports);
  process.on('disconnect', async () => {
    await close();
    process.exit(0);
  });
}

/** One cookie header per connection: each connection is its own browser session. */
async function cookiesFor(url: string, n: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const res = await fetch(url);
      await res.arrayBuffer();
      return res.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
    }),
  );
}

/** One open live view per session (cookie), each holding its first snapshot. */
async function openViews(port: number, cookies: string[]): Promise<() => void> {
  const origin = `http://127.0.0.1:${port}`;
  const closers = await Promise.all(
    cookies.map(
      (cookie) =>
        new Promise<() => void>((resolve, reject) => {
          const view = connectLive(`ws://127.0.0.1:${port}/live`, {
            createSocket: (u, p) => new WebSocket(u, p, { headers: { cookie, origin } }) as never,
            onSnapshot: () => resolve(() => view.close()),
            onError: reject,
          });
        }),
    ),
  );
  return () => {
    for (const close of closers) close();
  };
}

let serverCpu: () => Promise<NodeJS.CpuUsage> = async () => process.cpuUsage();

async function measure(url: string, cookies: string[], seconds: number) {
  let next = 0;
  const cpu0 = await serverCpu();
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    setupClient: (client) => client.setHeaders({ cookie: cookies[next++ % cookies.length]! }),
  });
  if (result.errors || result.timeouts || result.non2xx) {
    throw new Error(
      `${url}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx`,
    );
  }
  const cpu1 = await serverCpu();
  const cpuUs = cpu1.user - cpu0.user + (cpu1.system - cpu0.system);
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    /** The server process's CPU time per request, in µs: steadier than req/s on a busy box. */
    cpuUs: cpuUs / result.requests.total,
    total: result.requests.total,
  };
}

type Row = Awaited<ReturnType<typeof measure>>;

function median(xs: number[]): number {
  const sorted = [...xs].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');

async function main(): Promise<number> {
  const childArgs = (process.env.BENCH_CHILD_ARGS ?? '').split(' ').filter(Boolean);
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], {
    stdio: 'inherit',
    execArgv: childArgs,
  });
  const ports = await new Promise<Ports>((resolve) =>
    child.once('message', (m) => resolve(m as Ports)),
  );
  serverCpu = () =>
    new Promise((resolve) => {
      child.once('message', (m) => resolve(m as NodeJS.CpuUsage));
      child.send('cpu');
    });
  const url = (v: Variant) => `http://127.0.0.1:${ports[v]}/`;
  const variants = PROFILE ? [PROFILE] : VARIANTS;
  const cookies = {} as Record<Variant, string[]>;
  for (const v of variants) cookies[v] = await cookiesFor(url(v), CONNECTIONS);
  // The first visit set a cookie; later requests carry it, get the same body, and no new cookie.
  for (const v of variants) {
    const check = await fetch(url(v), { headers: { cookie: cookies[v][0]! } });
    const body = await check.text();
    const type = check.headers.get('content-type');
    if (
      body !== BODY ||
      type !== 'application/json; charset=utf-8' ||
      check.headers.has('set-cookie')
    )
      throw new Error(`${v}: unexpected ${type} ${body} ${check.headers.getSetCookie()}`);
  }
  const closeViews = variants.includes('live') ? await openViews(ports.live, cookies.live) : noop;

  console.log(
    `bench/http: ${CONNECTIONS} connections (one session each), ${PROFILE ? `profile of ${PROFILE}` : `${ROUNDS} alternating rounds of ${SECONDS} s`}, node ${process.version}, NODE_ENV=${process.env.NODE_ENV ?? ''}`,
  );
  const loadStart = load();
  console.log(`load average at start: ${loadStart} (1 / 5 / 15 min)`);
  let warm = 0;
  for (const v of variants) warm += (await measure(url(v), cookies[v], 1)).total; // warm-up (JIT)
  if (PROFILE) {
    const r = await measure(url(PROFILE), cookies[PROFILE], SECONDS * ROUNDS);
    console.log(
      `${PROFILE}: ${r.rps.toFixed(0)} req/s, ${r.cpuUs.toFixed(1)} µs CPU/req, ${warm + r.total + CONNECTIONS + 1} requests in all`,
    );
    closeViews();
    child.disconnect();
    return 0;
  }
  const rows = Object.fromEntries(VARIANTS.map((v) => [v, [] as Row[]])) as Record<Variant, Row[]>;
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order too, so no variant always runs right after the same one.
    const order = round % 2 ? [...VARIANTS].reverse() : VARIANTS;
    for (const v of order) rows[v].push(await measure(url(v), cookies[v], SECONDS));
    const at = (v: Variant) => rows[v][round]!;
    console.log(
      `  round ${round + 1}: ${VARIANTS.map((v) => `${v} ${at(v).rps.toFixed(0)}/s ${at(v).cpuUs.toFixed(0)} µs`).join(', ')} (call ${(at('call').rps / at('baseline').rps).toFixed(2)}x)`,
    );
  }
  const loadEnd = load();
  closeViews();
  child.disconnect();

  // Paired per round (the variants run seconds apart), so drift of the machine cancels out.
  const ratio = (v: Variant) => median(rows[v].map((r, i) => r.rps / rows.baseline[i]!.rps));
  const extraCpu = (v: Variant) => median(rows[v].map((r, i) => r.cpuUs - rows.baseline[i]!.cpuUs));
  const med = (v: Variant, key: keyof Row) => median(rows[v].map((r) => r[key]));
  console.log('');
  console.log(
    '| route (GET, signed cookie session, body `{"value":0}`) | requests/s | vs koa-session | p50 ms | p99 ms | server CPU µs/req | CPU vs koa-session |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const v of VARIANTS) {
    const extra = v === 'baseline' ? '' : `+${extraCpu(v).toFixed(1)} µs`;
    console.log(
      `| ${LABELS[v]} | ${med(v, 'rps').toFixed(0)} | ${ratio(v).toFixed(2)}x | ${med(v, 'p50')} | ${med(v, 'p99')} | ${med(v, 'cpuUs').toFixed(1)} | ${extra} |`,
    );
  }
  console.log('');
  console.log(
    '(medians of the rounds; "vs koa-session": the median of the per-round ratios and CPU differences)',
  );
  console.log(`load average at start ${loadStart}, at end ${loadEnd}`);
  const targets: [string, boolean][] = [
    [`one call >= 0.9x koa-session alone (${ratio('call').toFixed(2)}x)`, ratio('call') >= 0.9],
    [
      `one call's server CPU <= koa-session's + 10 µs/req (+${extraCpu('call').toFixed(1)} µs)`,
      extraCpu('call') <= 10,
    ],
  ];
  for (const [name, met] of targets) console.log(`target ${name}: ${met ? 'met' : 'NOT met'}`);
  const missed = targets.filter(([, met]) => !met).map(([name]) => name);
  if (missed.length > 0) console.log(`targets missed: ${missed.join('; ')}`);
  return missed.length > 0 ? 1 : 0;
}

function noop(): void {}

if (process.argv[2] === '--serve') await serve();
else process.exitCode = await main();
