/**
 * bench/http: requests/s and p99 latency of a Koa route that does one `call` on the request's
 * session process, against the same app answering the same body with koa-session alone, in one
 * run (issue 3: target at least 0.85x).
 *
 *   npm run build && NODE_ENV=production node dist/bench/http.js
 *
 * Env: BENCH_CONNECTIONS (default 50, each its own browser session), BENCH_SECONDS (per
 * measurement, default 3), BENCH_ROUNDS (default 5). The three servers run in a forked child (plain
 * `node`, so XState's production build) and autocannon in this process, so the load generator does
 * not share the servers' event loop. Rounds alternate the variants so that drift on a shared machine
 * hits all; the table shows the median round of each and the median of the per-round ratios.
 */
import { fork } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Koa from 'koa';
import session from 'koa-session';
import { createSessionSupervisor } from 'session-process';
import { sessionProcess } from 'session-process/koa';
import { counterMachine } from '../machines/counter.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const KEYS = ['bench-key-0123456789abcdefghijklmnopqrstuvwxyz'];
const cookieOptions = { key: 'sid', maxAge: 86_400_000, httpOnly: true, sameSite: 'lax' } as const;

type Variant = 'baseline' | 'middleware' | 'sessionProcess';
type Ports = Record<Variant, number>;
const VARIANTS: Variant[] = ['baseline', 'middleware', 'sessionProcess'];

/** The child: both apps, on 127.0.0.1. */
async function serve(): Promise<void> {
  // Baseline: koa-session alone; the session holds the same counter the machine would.
  const baseline = new Koa();
  baseline.keys = KEYS;
  baseline.use(session(cookieOptions, baseline));
  baseline.use((ctx) => {
    ctx.session.count ??= 0;
    ctx.body = { value: ctx.session.count };
  });

  const sessions = createSessionSupervisor({ logic: counterMachine, startRate: false });
  const withProcess = new Koa();
  withProcess.keys = KEYS;
  withProcess.use(session(cookieOptions, withProcess));
  // Eager, and no per-client limit: every connection here is one browser on 127.0.0.1.
  withProcess.use(
    sessionProcess(sessions, { app: withProcess, lazy: false, clientStartRate: false }),
  );
  withProcess.use(async (ctx) => {
    ctx.body = { value: await ctx.sessionProcess.call({ type: 'get_value' }) };
  });

  // The middleware alone (eager ensure, touch), answering without a call: splits the cost.
  const middlewareOnly = new Koa();
  middlewareOnly.keys = KEYS;
  middlewareOnly.use(session(cookieOptions, middlewareOnly));
  middlewareOnly.use(
    sessionProcess(sessions, { app: middlewareOnly, lazy: false, clientStartRate: false }),
  );
  middlewareOnly.use((ctx) => {
    ctx.body = { value: 0 };
  });

  const listen = (app: Koa) =>
    new Promise<Server>((resolve) => {
      const server = app.listen(0, '127.0.0.1', () => resolve(server));
    });
  const port = async (app: Koa) => ((await listen(app)).address() as AddressInfo).port;
  const ports: Ports = {
    baseline: await port(baseline),
    middleware: await port(middlewareOnly),
    sessionProcess: await port(withProcess),
  };
  process.on('message', (message) => {
    if (message === 'cpu') process.send!(process.cpuUsage());
  });
  process.send!(ports);
  process.on('disconnect', () => process.exit(0));
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
    /** The server process's CPU time per request, in microseconds: steadier than req/s on a busy box. */
    cpuUs: cpuUs / result.requests.total,
  };
}

type Row = Awaited<ReturnType<typeof measure>>;

function median<T>(rows: T[], key: (row: T) => number): T {
  return [...rows].sort((x, y) => key(x) - key(y))[Math.floor(rows.length / 2)]!;
}

async function main(): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: 'inherit' });
  const ports = await new Promise<Ports>((resolve) =>
    child.once('message', (m) => resolve(m as Ports)),
  );
  serverCpu = () =>
    new Promise((resolve) => {
      child.once('message', (m) => resolve(m as NodeJS.CpuUsage));
      child.send('cpu');
    });
  const url = (v: Variant) => `http://127.0.0.1:${ports[v]}/`;
  const cookies = {} as Record<Variant, string[]>;
  for (const v of VARIANTS) cookies[v] = await cookiesFor(url(v), CONNECTIONS);
  // The first visit set a cookie; later requests carry it and must not set another.
  for (const v of VARIANTS) {
    const check = await fetch(url(v), { headers: { cookie: cookies[v][0]! } });
    const body = await check.text();
    if (body !== '{"value":0}' || check.headers.getSetCookie().length !== 0) {
      throw new Error(`${v}: unexpected ${body} ${check.headers.getSetCookie()}`);
    }
  }

  console.log(
    `bench/http: ${CONNECTIONS} connections (one session each), ${ROUNDS} alternating rounds of ${SECONDS} s, node ${process.version}, NODE_ENV=${process.env.NODE_ENV ?? ''}`,
  );
  for (const v of VARIANTS) await measure(url(v), cookies[v], 1); // warm-up (JIT)
  const rows = { baseline: [], middleware: [], sessionProcess: [] } as Record<Variant, Row[]>;
  for (let round = 0; round < ROUNDS; round++) {
    for (const v of VARIANTS) rows[v].push(await measure(url(v), cookies[v], SECONDS));
    const [b, m, s] = VARIANTS.map((v) => rows[v].at(-1)!) as [Row, Row, Row];
    console.log(
      `  round ${round + 1}: koa-session ${b.rps.toFixed(0)}, middleware only ${m.rps.toFixed(0)}, one call ${s.rps.toFixed(0)} req/s (${(s.rps / b.rps).toFixed(2)}x)`,
    );
  }
  child.disconnect();

  const med = (v: Variant) => median(rows[v], (r) => r.rps);
  // Paired per round (the variants run back to back), so drift of the machine cancels out.
  const ratioOf = (v: Variant, key: 'rps' | 'cpuUs') =>
    median(
      rows[v].map((r, i) => r[key] / rows.baseline[i]![key]),
      (x) => x,
    );
  const labels: Record<Variant, string> = {
    baseline: 'koa-session alone, body `{"value":0}`',
    middleware: '+ `sessionProcess`, same body, no call',
    sessionProcess: '+ `sessionProcess`, one `call` per request',
  };
  console.log('');
  console.log(
    '| route (GET, signed cookie session) | requests/s | vs koa-session | p50 ms | p99 ms | server CPU µs/req |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const v of VARIANTS) {
    const r = med(v);
    const cpu = median(rows[v], (x) => x.cpuUs).cpuUs;
    console.log(
      `| ${labels[v]} | ${r.rps.toFixed(0)} | ${ratioOf(v, 'rps').toFixed(2)}x | ${r.p50} | ${r.p99} | ${cpu.toFixed(1)} |`,
    );
  }
  const ratio = ratioOf('sessionProcess', 'rps');
  const cpuRatio = 1 / ratioOf('sessionProcess', 'cpuUs');
  console.log('');
  console.log(
    '(req/s, latencies, CPU: median round of each; ratios: median of the per-round ratios)',
  );
  console.log(
    `throughput ratio ${ratio.toFixed(2)}x, CPU-bound ratio (baseline CPU/req ÷ ours) ${cpuRatio.toFixed(2)}x`,
  );
  console.log(`target >= 0.85x: ${ratio >= 0.85 ? 'met' : 'NOT met'}`);
}

if (process.argv[2] === '--serve') await serve();
else await main();
