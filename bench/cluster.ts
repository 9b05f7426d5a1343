/**
 * bench/cluster: the multi-node mode on a real Redis, in one printed run.
 *
 *   npm run build && node dist/bench/cluster.js
 *
 * Three processes: this one (a node that owns nothing at first) and two child nodes. It measures
 * a call through a node that does not own the session against a call on the owner (p50, p99),
 * calls per second with 100 in flight through one node vs spread over the three, Redis commands
 * per call (counted on the nodes' own clients, not from INFO: other programs share the Redis), and
 * the time a session needs to be served again after its owner is killed with SIGKILL.
 * The same after SIGSTOP (the owner is paused, so nothing tells the others it is gone: they wait
 * for its lease to lapse).
 * REDIS_URL (default redis://127.0.0.1:6379), BENCH_CALLS (5_000), BENCH_KILLS (20), BENCH_PAUSES (3),
 * BENCH_LEASE_MS (1_000).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { assign, setup } from 'xstate';
import { createSessionSupervisor, reply, type SupervisorOptions } from 'session-process';
import { type ClusterSessionSupervisor, redisCluster } from 'session-process/redis';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const CALLS = Number(process.env.BENCH_CALLS ?? 5_000);
const KILLS = Number(process.env.BENCH_KILLS ?? 20);
const PAUSES = Number(process.env.BENCH_PAUSES ?? 3);
const LEASE_MS = Number(process.env.BENCH_LEASE_MS ?? 1_000);

const counter = setup({
  types: { context: {} as { n: number }, events: {} as { type: 'inc' } | { type: 'get' } },
}).createMachine({
  context: { n: 0 },
  on: {
    inc: {
      actions: [assign({ n: ({ context }) => context.n + 1 }), reply(({ context }) => context.n)],
    },
    get: { actions: reply(({ context }) => context.n) },
  },
});

/** A node on its own connection, counting the Redis commands it sends. */
function node(
  nodeId: string,
  prefix: string,
): { sessions: ClusterSessionSupervisor; commands: () => number; redis: Redis } {
  const redis = new Redis(REDIS_URL, {
    enableAutoPipelining: process.env.BENCH_AUTOPIPELINE === '1',
  });
  let commands = 0;
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((cmd: Parameters<typeof send>[0]) => {
    commands++;
    return send(cmd);
  }) as typeof redis.sendCommand;
  const options = {
    logic: counter,
    durability: 'eventual',
    callTimeoutMs: 10_000,
    cluster: redisCluster({ redis, nodeId, prefix, leaseMs: LEASE_MS }),
  } as SupervisorOptions;
  return {
    sessions: createSessionSupervisor(options) as ClusterSessionSupervisor,
    commands: () => commands,
    redis,
  };
}

// ---- child node ----------------------------------------------------------------------------

if (process.argv[2] === 'child') {
  const [, , , prefix, nodeId] = process.argv;
  const n = node(nodeId!, prefix!);
  process.on('message', async (msg: { type: string; ids?: string[] }) => {
    if (msg.type === 'own') {
      for (const id of msg.ids!) await n.sessions.ensure(id);
      process.send!({ type: 'owned' });
    } else if (msg.type === 'commands') {
      process.send!({ type: 'commands', n: n.commands() });
    } else if (msg.type === 'burst') {
      const t = await burst(n.sessions, msg.ids!, 100, CALLS);
      process.send!({ type: 'burst', ms: t });
    }
  });
  process.send!({ type: 'ready' });
} else {
  await main();
}

function ask<T>(child: ChildProcess, msg: object, reply: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: { type: string }) => {
      if (m.type !== reply) return;
      child.off('message', on);
      resolve(m as T);
    };
    child.on('message', on);
    child.send(msg);
  });
}

function spawnNode(prefix: string, nodeId: string): Promise<ChildProcess> {
  const child = fork(fileURLToPath(import.meta.url), ['child', prefix, nodeId], {
    stdio: 'inherit',
  });
  return new Promise((resolve) => child.once('message', () => resolve(child)));
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

async function latencies(
  sessions: ClusterSessionSupervisor,
  id: string,
  n: number,
): Promise<number[]> {
  for (let i = 0; i < 200; i++) await sessions.call(id, { type: 'get' });
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await sessions.call(id, { type: 'get' });
    out.push(performance.now() - t0);
  }
  return out.sort((a, b) => a - b);
}

/** `total` calls with `inFlight` at a time over `ids`; returns the milliseconds taken. */
async function burst(
  sessions: ClusterSessionSupervisor,
  ids: string[],
  inFlight: number,
  total: number,
): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < total) {
        const i = next++;
        await sessions.call(ids[i % ids.length]!, { type: 'inc' });
      }
    }),
  );
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const prefix = `bench:cluster:${randomBytes(4).toString('hex')}:`;
  const admin = new Redis(REDIS_URL);
  const me = node('bench-main', prefix);
  const rows: string[][] = [];
  const children: ChildProcess[] = [];
  try {
    const c1 = await spawnNode(prefix, 'bench-1');
    const c2 = await spawnNode(prefix, 'bench-2');
    children.push(c1, c2);
    await ask(c1, { type: 'own', ids: ['remote-1'] }, 'owned');
    await me.sessions.ensure('local-1');

    // Non-owner vs owner.
    const c0 = me.commands() + (await ask<{ n: number }>(c1, { type: 'commands' }, 'commands')).n;
    const remote = await latencies(me.sessions, 'remote-1', CALLS);
    const c1n = me.commands() + (await ask<{ n: number }>(c1, { type: 'commands' }, 'commands')).n;
    const local = await latencies(me.sessions, 'local-1', CALLS);
    const perCall = (c1n - c0 - 2) / (CALLS + 200);
    rows.push([
      'call through a non-owner, p50 / p99 (ms)',
      `${pct(remote, 50).toFixed(3)} / ${pct(remote, 99).toFixed(3)}`,
      'p50 < 1, p99 < 3',
    ]);
    rows.push([
      'call on the owner, p50 / p99 (ms)',
      `${pct(local, 50).toFixed(3)} / ${pct(local, 99).toFixed(3)}`,
      '',
    ]);
    rows.push(['Redis commands per read-only call through a non-owner', perCall.toFixed(2), '']);
    // A call that changes the session: its save (eventual: coalesced) and its reply record too.
    const w0 = me.commands() + (await ask<{ n: number }>(c1, { type: 'commands' }, 'commands')).n;
    for (let i = 0; i < 1000; i++) await me.sessions.call('remote-1', { type: 'inc' });
    const w1 = me.commands() + (await ask<{ n: number }>(c1, { type: 'commands' }, 'commands')).n;
    rows.push([
      'Redis commands per changing call through a non-owner (sequential)',
      ((w1 - w0 - 2) / 1000).toFixed(2),
      '',
    ]);

    // Throughput: 100 in flight, 1 process vs 3.
    const ids = Array.from({ length: 30 }, (_, i) => `t-${i}`);
    for (const id of ids) await me.sessions.ensure(id);
    const oneMs = await burst(me.sessions, ids, 100, CALLS);
    const spreadIds = Array.from({ length: 30 }, (_, i) => `u-${i}`);
    await ask(c1, { type: 'own', ids: spreadIds.slice(0, 10) }, 'owned');
    await ask(c2, { type: 'own', ids: spreadIds.slice(10, 20) }, 'owned');
    for (const id of spreadIds.slice(20)) await me.sessions.ensure(id);
    const t0 = performance.now();
    await Promise.all([
      burst(me.sessions, spreadIds, 100, CALLS),
      ask(c1, { type: 'burst', ids: spreadIds }, 'burst'),
      ask(c2, { type: 'burst', ids: spreadIds }, 'burst'),
    ]);
    const threeMs = performance.now() - t0;
    rows.push([
      'calls/s, 100 in flight, 1 process (all local)',
      String(Math.round((CALLS / oneMs) * 1000)),
      '',
    ]);
    rows.push([
      'calls/s, 100 in flight per process, 3 processes (2/3 routed)',
      String(Math.round(((3 * CALLS) / threeMs) * 1000)),
      '',
    ]);

    // Failover after SIGKILL.
    const times: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      const victim = await spawnNode(prefix, `victim-${k}`);
      const id = `f-${k}`;
      await ask(victim, { type: 'own', ids: [id] }, 'owned');
      await me.sessions.call(id, { type: 'get' });
      const t = performance.now();
      victim.kill('SIGKILL');
      await me.sessions.call(id, { type: 'get' });
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    rows.push([
      `failover after SIGKILL, p50 / max over ${KILLS} (ms)`,
      `${pct(times, 50).toFixed(0)} / ${times.at(-1)!.toFixed(0)}`,
      `every one < leaseMs + 300 = ${LEASE_MS + 300}; p50 < 300`,
    ]);

    // Failover after SIGSTOP: the paused owner still holds its channel; the lease must lapse.
    const paused: number[] = [];
    for (let k = 0; k < PAUSES; k++) {
      const victim = await spawnNode(prefix, `paused-${k}`);
      children.push(victim);
      const id = `p-${k}`;
      await ask(victim, { type: 'own', ids: [id] }, 'owned');
      await me.sessions.call(id, { type: 'get' });
      const t = performance.now();
      victim.kill('SIGSTOP');
      await me.sessions.call(id, { type: 'get' });
      paused.push(performance.now() - t);
      victim.kill('SIGKILL');
    }
    paused.sort((a, b) => a - b);
    rows.push([
      `failover after SIGSTOP (lease lapses), p50 / max over ${PAUSES} (ms)`,
      `${pct(paused, 50).toFixed(0)} / ${paused.at(-1)!.toFixed(0)}`,
      `every one < leaseMs + 300 = ${LEASE_MS + 300}`,
    ]);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await me.sessions.shutdown();
    me.redis.disconnect();
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length) await admin.del(...keys);
    admin.disconnect();
  }
  console.log(
    `bench/cluster: leaseMs ${LEASE_MS}, ${CALLS} calls per measure, Redis ${REDIS_URL}\n`,
  );
  console.log('| measure | result | target |\n| --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  process.exit(0);
}
