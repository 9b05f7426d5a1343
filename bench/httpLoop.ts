/**
 * bench/httpLoop: bench/http's apps without sockets, in one process: each request is a real
 * `IncomingMessage`/`ServerResponse` pair on an in-memory stream, handed to the app's
 * `callback()`. What it measures is the JavaScript of a request (Koa, koa-session, the middleware,
 * the call) in CPU µs per request, free of the kernel, autocannon and the scheduling noise of a
 * shared machine; then, with async_hooks, the promises made per request (exact).
 *
 *   npm run build && NODE_ENV=production node dist/bench/httpLoop.js
 *
 * Env: BENCH_SESSIONS (concurrent browsers, each its own session, default 50), BENCH_REQUESTS
 * (per round and variant, default 20,000), BENCH_ROUNDS (default 7), BENCH_VARIANTS (a comma
 * list). Rounds alternate the variants; "vs koa-session" is the median of the per-round
 * differences. No target: a diagnostic. Bytes allocated per request: one variant at a time,
 * `node --trace-gc-nvp`, the sum of its `allocated=` fields over the requests it reports.
 */
import { createHook } from 'node:async_hooks';
import { IncomingMessage, ServerResponse } from 'node:http';
import { loadavg } from 'node:os';
import { Duplex } from 'node:stream';
import { BODY, createApps, LABELS, type Variant } from './httpApps.js';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 50);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
/** `BENCH_VARIANTS=call` runs that variant alone (with `node --trace-gc-nvp`: bytes allocated). */
const VARIANTS = (['baseline', 'await', 'middleware', 'call', 'raw', 'durable'] as Variant[]).filter(
  (v) => process.env.BENCH_VARIANTS?.split(',').includes(v) ?? true,
);
let requests = 0;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** One GET through `handler` on an in-memory socket; resolves with its body and Set-Cookie. */
function request(handler: Handler, cookie: string | undefined) {
  requests++;
  return new Promise<{ body: string; setCookie: string[] }>((resolve) => {
    let out = '';
    const socket = new Duplex({
      write(chunk, _encoding, done) {
        out += chunk.toString();
        done();
      },
      read() {},
    });
    const req = new IncomingMessage(socket as never);
    req.method = 'GET';
    req.url = '/';
    req.headers = { host: '127.0.0.1', ...(cookie ? { cookie } : {}) };
    req.push(null);
    const res = new ServerResponse(req);
    res.assignSocket(socket as never);
    res.on('finish', () => {
      const setCookie = res.getHeader('set-cookie');
      resolve({
        body: out.slice(out.lastIndexOf('\r\n\r\n') + 4),
        setCookie: Array.isArray(setCookie) ? setCookie : [],
      });
    });
    handler(req, res);
  });
}

const { apps, close } = createApps();
const handlers = {} as Record<Variant, Handler>;
const cookies = {} as Record<Variant, string[]>;
for (const v of VARIANTS) {
  handlers[v] = apps[v].callback() as Handler;
  cookies[v] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const first = await request(handlers[v], undefined);
    cookies[v].push(first.setCookie.map((c) => c.split(';')[0]).join('; '));
  }
}

/** `n` requests spread over the sessions, all of them in flight together. */
async function load(v: Variant, n: number): Promise<void> {
  await Promise.all(
    cookies[v].map(async (cookie) => {
      for (let i = 0; i < n / SESSIONS; i++) {
        const res = await request(handlers[v], cookie);
        if (res.body.slice(-BODY.length) !== BODY || res.setCookie.length > 0)
          throw new Error(`${v}: unexpected ${res.body} ${res.setCookie}`);
      }
    }),
  );
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

console.log(
  `bench/httpLoop: ${SESSIONS} sessions, ${ROUNDS} alternating rounds of ${REQUESTS} requests, node ${process.version}, NODE_ENV=${process.env.NODE_ENV ?? ''}`,
);
console.log(
  `load average at start: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ')}`,
);
for (const v of VARIANTS) await load(v, REQUESTS / 4); // warm-up (JIT)
const cpu = Object.fromEntries(VARIANTS.map((v) => [v, [] as number[]])) as Record<
  Variant,
  number[]
>;
for (let round = 0; round < ROUNDS; round++) {
  for (const v of round % 2 ? [...VARIANTS].reverse() : VARIANTS) {
    const t0 = process.cpuUsage();
    await load(v, REQUESTS);
    const t = process.cpuUsage(t0);
    cpu[v].push((t.user + t.system) / REQUESTS);
  }
}

// Promises made per request, counted apart (async_hooks slows every promise while enabled).
let promises = 0;
const hook = createHook({
  init(_id, type) {
    if (type === 'PROMISE') promises++;
  },
});
const promisesPer = {} as Record<Variant, number>;
for (const v of VARIANTS) {
  hook.enable();
  promises = 0;
  await load(v, SESSIONS * 20);
  hook.disable();
  promisesPer[v] = promises / (SESSIONS * 20);
}
await close();

console.log('');
console.log(
  '| route (in process, no sockets) | CPU µs/req | vs koa-session | promises/req (the loop’s own included) |',
);
console.log('| --- | ---: | ---: | ---: |');
for (const v of VARIANTS) {
  const extra = cpu.baseline ? median(cpu[v].map((x, i) => x - cpu.baseline[i]!)) : Number.NaN;
  const vs =
    v === 'baseline' || Number.isNaN(extra) ? '' : `${extra >= 0 ? '+' : ''}${extra.toFixed(1)} µs`;
  console.log(
    `| ${LABELS[v]} | ${median(cpu[v]).toFixed(1)} | ${vs} | ${promisesPer[v].toFixed(1)} |`,
  );
}
console.log(`${requests} requests in all (to divide the bytes --trace-gc-nvp reports allocated)`);
console.log(
  `load average at end: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ')}`,
);
