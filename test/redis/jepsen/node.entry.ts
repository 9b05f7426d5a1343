/**
 * One node of the Jepsen-style test, as its own process (bundled by the test with esbuild). The
 * parent drives it over IPC: `add` an item to a session (a call), read a session's items, watch
 * sessions (views whose versions must never go backwards). Every `add` the machine processes is
 * appended to the activation log with the machine's monotonic clock (`process.hrtime`, shared by
 * every process on Linux) and the identity of the actor that processed it: one activation is one
 * actor object, so a session that ran on two nodes at once shows as two activations interleaved.
 */
import { appendFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { assign, setup } from 'xstate';
import {
  createSessionSupervisor,
  getSessionId,
  reply,
  type SessionSupervisor,
  type SupervisorOptions,
} from 'session-process';
import { type ClusterSessionSupervisor, redisCluster } from 'session-process/redis';

const [prefix, nodeId, logPath, unfenced] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
];
const LEASE_MS = Number(process.env.JEPSEN_LEASE_MS ?? 500);

const activationOf = new WeakMap<object, string>();
let activations = 0;

function logActivation(self: object, item: string): void {
  let a = activationOf.get(self);
  if (a === undefined) activationOf.set(self, (a = `${nodeId}.${process.pid}.${++activations}`));
  appendFileSync(
    logPath,
    `${getSessionId(self as never)} ${a} ${process.hrtime.bigint()} ${item}\n`,
  );
}

const setMachine = setup({
  types: {
    context: {} as { items: string[] },
    events: {} as { type: 'add'; item: string } | { type: 'items' },
  },
}).createMachine({
  context: { items: [] },
  on: {
    add: {
      actions: [
        ({ self, event }) => logActivation(self, event.item),
        assign({ items: ({ context, event }) => [...context.items, event.item] }),
        reply(({ context }) => context.items.length),
      ],
    },
    items: { actions: reply(({ context }) => context.items) },
  },
});

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const sessions = createSessionSupervisor({
  logic: setMachine,
  durability: 'durable',
  callTimeoutMs: 4_000,
  onError: () => {},
  cluster: redisCluster({
    redis,
    nodeId,
    prefix,
    leaseMs: LEASE_MS,
    testOnlyDisableFencing: unfenced === '1',
  }),
} as SupervisorOptions) as ClusterSessionSupervisor;

let viewRegressions = 0;
const lastVersion = new Map<string, number>();
/** When each view received a snapshot, by session (ms on the machine's monotonic clock). */
const received = new Map<string, number[]>();
const nowMs = () => Number(process.hrtime.bigint() / 1_000_000n);

type Msg =
  | { t: 'add'; n: number; id: string; item: string }
  | { t: 'items'; n: number; id: string }
  | { t: 'ensure'; n: number; id: string }
  | { t: 'watch'; n: number; ids: string[] }
  | { t: 'views'; n: number }
  | { t: 'received'; n: number };

function answer(n: number, body: object): void {
  process.send?.({ n, ...body });
}

function fail(n: number, err: unknown): void {
  answer(n, { ok: false, code: (err as { code?: string }).code ?? String(err) });
}

process.on('message', (m: Msg) => {
  const s: SessionSupervisor = sessions;
  switch (m.t) {
    case 'add': {
      const event = { type: 'add', item: m.item };
      s.call<number>(m.id, event).then(
        (v) => answer(m.n, { ok: true, v }),
        (e) => fail(m.n, e),
      );
      break;
    }
    case 'items':
      s.call<string[]>(m.id, { type: 'items' }).then(
        (v) => answer(m.n, { ok: true, v }),
        (e) => fail(m.n, e),
      );
      break;
    case 'ensure':
      s.ensure(m.id).then(
        () => answer(m.n, { ok: true }),
        (e) => fail(m.n, e),
      );
      break;
    case 'watch':
      for (const id of m.ids) {
        s.subscribe(id, (msg) => {
          if (msg.type !== 'snapshot') return;
          if (msg.version <= (lastVersion.get(id) ?? 0)) viewRegressions++;
          lastVersion.set(id, msg.version);
          let times = received.get(id);
          if (!times) received.set(id, (times = []));
          times.push(nowMs());
        });
      }
      answer(m.n, { ok: true });
      break;
    case 'views':
      answer(m.n, { ok: true, v: viewRegressions });
      break;
    case 'received':
      answer(m.n, { ok: true, v: Object.fromEntries(received) });
      break;
  }
});

const started = performance.now();
const wait = setInterval(() => {
  if (sessions.stats().cluster.leaseHeld || performance.now() - started > 10_000) {
    clearInterval(wait);
    process.send?.({ ready: true });
  }
}, 10);
