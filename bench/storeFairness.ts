/**
 * bench/store's fairness row (issue 22): one client drives durable writes over HTTP with 16
 * requests in flight on its session, while 100 other sessions make calls; the others' p50 and
 * p99 with and without that client, and the server's event-loop delay (p99 over each phase:
 * the direct measure of a commit blocking the loop, less sensitive to the clients' own share of
 * a loaded machine). Run by bench/store.js, per SQLite commit mode: on the commit
 * thread (the default) and on the event loop (`commitThread: false`), in the same run.
 *
 * The server runs in a forked child (plain `node`, production XState), the clients here, so the
 * load generator does not share the server's event loop. Phases alternate (without, with,
 * without, with) so that drift on a shared machine hits both.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createSessionSupervisor } from 'session-process';
import { sqliteStore } from 'session-process/sqlite';
import { cartMachine } from '../machines/cart.js';

const OTHERS = 100;
const WRITER_IN_FLIGHT = 16;
const SECONDS = Number(process.env.BENCH_FAIR_SECONDS ?? 3);

/** The child: a durable SQLite supervisor behind plain HTTP. `/w/<id>` writes, `/r/<id>` reads. */
async function serve(commitThread: boolean, path: string): Promise<void> {
  const store = sqliteStore({ path, commitThread });
  const sessions = createSessionSupervisor({
    logics: { cart: cartMachine },
    store,
    durability: 'durable',
    startRate: false,
    onError: () => {},
  });
  let n = 0;
  const server = createServer((req, res) => {
    const [, kind, id] = (req.url ?? '').split('/');
    const event =
      kind === 'w'
        ? ({ type: 'cart.add', sku: ['A1', 'B2', 'C3'][n++ % 3]! } as const)
        : ({ type: 'cart.get' } as const);
    sessions
      .ensure(id!, { logic: 'cart' })
      .then(() => sessions.call(id!, event, kind === 'w' ? { until: () => true } : {}))
      .then(
        () => res.end('ok'),
        (err: Error) => {
          res.statusCode = 500;
          res.end(err.message);
        },
      );
  });
  server.listen(0, '127.0.0.1', () =>
    process.send!({ port: (server.address() as AddressInfo).port }),
  );
  // The server's own event-loop delay per phase: what a commit on the event loop costs everyone.
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  process.on('message', async (cmd: 'reset' | 'report' | 'stop') => {
    if (cmd === 'reset') delay.reset();
    else if (cmd === 'report')
      process.send!({ loopP99: delay.percentile(99) / 1e6, loopMax: delay.max / 1e6 });
    else {
      server.close();
      await sessions.shutdown();
      await store.close();
      process.exit(0);
    }
  });
}

if (process.argv[2] === 'serve') await serve(process.argv[3] === 'thread', process.argv[4]!);

/** The others' latencies (ms) without and with the writing client, and the writes it made. */
export interface Fairness {
  mode: 'thread' | 'inline';
  without: Phase;
  with: Phase;
  writes: number;
}
/** The others' p50 and p99 (ms), their calls, and the server's event-loop delay p99 (ms). */
interface Phase {
  p50: number;
  p99: number;
  calls: number;
  loopP99: number;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

export async function fairness(mode: 'thread' | 'inline'): Promise<Fairness> {
  const dir = mkdtempSync(join(tmpdir(), 'sp-bench-fair-'));
  const child = fork(fileURLToPath(import.meta.url), ['serve', mode, join(dir, 'fair.db')], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve) =>
    child.once('message', (m: { port: number }) => resolve(m.port)),
  );
  const agent = new Agent({ keepAlive: true, maxSockets: OTHERS + WRITER_IN_FLIGHT + 10 });
  const get = (path: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      });
      req.on('error', reject);
      req.end();
    });

  // Every session exists and the connections are open before anything is measured.
  await Promise.all(Array.from({ length: OTHERS }, (_, i) => get(`/w/other${i}`)));
  await get('/w/writer');

  let writes = 0;
  const loop = { without: [] as number[], with: [] as number[] };
  const report = () =>
    new Promise<{ loopP99: number }>((resolve) => {
      child.once('message', resolve);
      child.send('report');
    });
  const phase = async (withWriter: boolean) => {
    child.send('reset');
    const lat: number[] = [];
    const until = performance.now() + SECONDS * 1_000;
    const writer = async () => {
      while (performance.now() < until) {
        await get('/w/writer');
        writes++;
      }
    };
    const other = async (i: number) => {
      while (performance.now() < until) {
        const t = performance.now();
        await get(`/r/other${i}`);
        lat.push(performance.now() - t);
      }
    };
    await Promise.all([
      ...(withWriter ? Array.from({ length: WRITER_IN_FLIGHT }, writer) : []),
      ...Array.from({ length: OTHERS }, (_, i) => other(i)),
    ]);
    loop[withWriter ? 'with' : 'without'].push((await report()).loopP99);
    return lat;
  };
  const without: number[] = [];
  const withW: number[] = [];
  for (let round = 0; round < 2; round++) {
    without.push(...(await phase(false)));
    withW.push(...(await phase(true)));
  }
  child.send('stop');
  await new Promise((r) => child.once('exit', r));
  agent.destroy();
  rmSync(dir, { recursive: true, force: true });
  without.sort((a, b) => a - b);
  withW.sort((a, b) => a - b);
  return {
    mode,
    without: {
      p50: pct(without, 0.5),
      p99: pct(without, 0.99),
      calls: without.length,
      loopP99: Math.max(...loop.without),
    },
    with: {
      p50: pct(withW, 0.5),
      p99: pct(withW, 0.99),
      calls: withW.length,
      loopP99: Math.max(...loop.with),
    },
    writes,
  };
}
