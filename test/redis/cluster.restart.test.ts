import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { reply } from 'session-process';
import { isClusterError } from 'session-process/redis';
import { eventually, TestCluster, type TestNode } from './clusterHelpers.js';
import { freePort, PrivateRedis, redisServerAvailable } from './storeHelpers.js';

const available = redisServerAvailable();
const LEASE_MS = 1_500;

/** Each `add` logs `node:item@time` where it runs (performance.now(): one process, one clock). */
function loggingMachine(ran: { node: string; at: number }[], node: string) {
  return setup({
    types: { context: {} as { n: number }, events: {} as { type: 'add' } },
  }).createMachine({
    context: { n: 0 },
    on: {
      add: {
        actions: [
          () => ran.push({ node, at: performance.now() }),
          assign({ n: ({ context }) => context.n + 1 }),
          reply(({ context }) => context.n),
        ],
      },
    },
  });
}

/**
 * A TCP proxy to Redis that, when Redis goes away, keeps its clients' sockets open: a node behind
 * it does not see the restart (as a node whose event loop lags has not yet handled the close).
 */
async function holdingProxy(port: number): Promise<{ port: number; close(): void }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((down) => {
    sockets.add(down);
    const up = connect(port, '127.0.0.1');
    sockets.add(up);
    down.on('data', (d) => {
      if (!up.destroyed) up.write(d);
    });
    up.on('data', (d) => down.write(d));
    up.on('error', () => {});
    down.on('error', () => {});
  });
  const own = await freePort();
  await new Promise<void>((resolve) => server.listen(own, '127.0.0.1', resolve));
  return {
    port: own,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe.skipIf(!available)('the cluster across a Redis restart', () => {
  let cluster: TestCluster | undefined;
  let redis: PrivateRedis | undefined;
  let dir: string | undefined;
  const cleanups: (() => void)[] = [];
  /** Run after the nodes shut down (their clients: a shutdown still saves through them). */
  const clients: Redis[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) c();
    await cluster?.close();
    for (const c of clients.splice(0)) c.disconnect();
    await redis?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
    cluster = redis = dir = undefined;
  });

  async function start(aof: boolean): Promise<PrivateRedis> {
    dir = mkdtempSync(join(tmpdir(), 'sp-restart-'));
    const args = aof
      ? ['--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir]
      : ['--save', '', '--appendonly', 'no', '--dir', dir];
    redis = await PrivateRedis.start(args);
    return redis;
  }

  function node(
    c: TestCluster,
    nodeId: string,
    port: number,
    ran: { node: string; at: number }[],
  ): TestNode {
    const client = new Redis(port, '127.0.0.1', { retryStrategy: () => 50 });
    client.on('error', () => {});
    const n = c.node(nodeId, {
      redis: client,
      leaseMs: LEASE_MS,
      supervisor: { logic: loggingMachine(ran, nodeId), callTimeoutMs: 1_500 },
    });
    clients.push(client);
    return n;
  }

  it('never runs a session on two nodes when a node has not yet seen the restart', async () => {
    const server = await start(true);
    const proxy = await holdingProxy(server.port);
    cleanups.push(() => proxy.close());
    cluster = new TestCluster();
    const ran: { node: string; at: number }[] = [];
    const a = node(cluster, 'a', proxy.port, ran); // behind the proxy: will not see the restart
    const b = node(cluster, 'b', server.port, ran);
    await eventually(
      () => a.sessions.stats().cluster.leaseHeld && b.sessions.stats().cluster.leaseHeld,
    );
    await a.sessions.start('r1');
    await a.sessions.call('r1', { type: 'add' });
    // The restart (AOF: nothing lost) while a keeps serving r1 from memory.
    let driving = true;
    const driveA = (async () => {
      // Without waiting for each answer (a durable call waits for its save, which now hangs):
      // a runs every step it still believes it may run.
      while (driving) {
        a.sessions.call('r1', { type: 'add' }).catch(() => {});
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const downAt = performance.now();
    await server.kill();
    await server.start();
    // b comes back at once and wants r1: a publish to a reaches nobody (a's subscription died
    // with the old Redis), which once counted as "a is dead".
    let served = 0;
    const t0 = performance.now();
    while (served < 5 && performance.now() - t0 < 5_000) {
      await b.sessions.call('r1', { type: 'add' }).then(
        () => served++,
        () => {},
      );
    }
    driving = false;
    await driveA;
    expect(served).toBe(5);
    const lastOnA = Math.max(...ran.filter((r) => r.node === 'a').map((r) => r.at));
    const firstOnB = Math.min(...ran.filter((r) => r.node === 'b').map((r) => r.at));
    expect(lastOnA).toBeGreaterThan(downAt); // a did run r1 while Redis restarted
    expect(firstOnB).toBeGreaterThan(lastOnA); // and b only once a had stopped it
    expect(a.errors.some((e) => isClusterError(e, 'LEASE_LOST'))).toBe(true);
  });

  /** Calls until one succeeds; the time from `since` to that success, ms. */
  async function firstSuccess(fn: () => Promise<unknown>, since: number): Promise<number> {
    for (;;) {
      if (performance.now() - since > 10_000) throw new Error('never served again');
      try {
        await fn();
        return performance.now() - since;
      } catch {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  it('serves a session again within leaseMs of Redis coming back (AOF: nothing lost)', async () => {
    const server = await start(true);
    cluster = new TestCluster();
    const ran: { node: string; at: number }[] = [];
    const a = node(cluster, 'a', server.port, ran);
    const b = node(cluster, 'b', server.port, ran);
    await eventually(
      () => a.sessions.stats().cluster.leaseHeld && b.sessions.stats().cluster.leaseHeld,
    );
    await a.sessions.start('u1');
    await b.sessions.call('u1', { type: 'add' });
    await server.kill();
    await new Promise((r) => setTimeout(r, 300));
    await server.start();
    const back = performance.now();
    const unavailableMs = await firstSuccess(
      () => b.sessions.call('u1', { type: 'add' }, { timeoutMs: 300 }),
      back,
    );
    console.log(
      `Redis restart (AOF), leaseMs ${LEASE_MS}: served again ${Math.round(unavailableMs)} ms after Redis came back`,
    );
    // The documented bound: leaseMs + the client's reconnect delay (50 ms here), with room for a
    // loaded machine.
    expect(unavailableMs).toBeLessThan(LEASE_MS + 50 + 500);
    expect(await b.sessions.call('u1', { type: 'add' })).toBe(3); // nothing acknowledged lost
  });

  it('serves again leaseMs after Redis came back empty, not before (data loss)', async () => {
    const server = await start(false);
    cluster = new TestCluster();
    const ran: { node: string; at: number }[] = [];
    const a = node(cluster, 'a', server.port, ran);
    const b = node(cluster, 'b', server.port, ran);
    await eventually(
      () => a.sessions.stats().cluster.leaseHeld && b.sessions.stats().cluster.leaseHeld,
    );
    await a.sessions.start('u2');
    await server.kill();
    await server.start();
    const back = performance.now();
    const unavailableMs = await firstSuccess(() => b.sessions.ensure('u3'), back);
    console.log(
      `Redis restart (data lost), leaseMs ${LEASE_MS}: served again ${Math.round(unavailableMs)} ms after Redis came back`,
    );
    // Nodes under the old epoch stop by their own deadlines (within leaseMs of the loss): no
    // node serves from the emptied Redis before the new epoch is leaseMs old.
    expect(unavailableMs).toBeGreaterThanOrEqual(LEASE_MS - 50);
    expect(unavailableMs).toBeLessThan(LEASE_MS + 50 + 500);
    await eventually(() =>
      [...a.errors, ...b.errors].some((e) => isClusterError(e, 'REDIS_DATA_LOSS')),
    );
  });
});
