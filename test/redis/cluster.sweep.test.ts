import { afterEach, describe, expect, it } from 'vitest';
import { isClusterError, machineVersions } from 'session-process';
import type { ClusterSessionSupervisor } from 'session-process/redis';
import {
  eventually,
  redisAvailable,
  type TestCluster,
  TestCluster as Cluster,
} from './clusterHelpers.js';
import { fromV1, renamedCartAt } from '../support/renamedCart.js';

const available = await redisAvailable('the migration sweep test');

const v1 = machineVersions([renamedCartAt('1')]);
const v2 = machineVersions([renamedCartAt('1'), renamedCartAt('2')], {
  migrations: { '1': fromV1 },
});
const v3 = machineVersions([renamedCartAt('1'), renamedCartAt('2'), renamedCartAt('3')], {
  migrations: { '1': fromV1 },
});

const STORED = 100;
const PER_SECOND = 20;

/** The store's count of records of `version`, as `sessions.versions()` answers it. */
async function storedAt(sessions: ClusterSessionSupervisor, version: string): Promise<number> {
  const rows = await sessions.versions();
  return rows.filter((r) => r.version === version).reduce((n, r) => n + r.stored, 0);
}

describe.skipIf(!available)('the migration sweep', () => {
  let cluster: TestCluster;
  afterEach(async () => {
    await cluster?.close();
  });

  it('brings the stored records of an older version to zero at its rate, leaving running sessions and versions it does not hold alone', async () => {
    cluster = new Cluster();
    // Version-1 records, stored and owned by nobody (the node that wrote them has gone).
    const writer = cluster.node('writer', { supervisor: { logic: v1 } });
    await eventually(() => writer.sessions.stats().cluster.leaseHeld);
    const ids = Array.from({ length: STORED }, (_, i) => `c${i}`);
    for (const id of ids) {
      await writer.sessions.start(id);
      await writer.sessions.call(id, { type: 'add', item: `${id}-a` });
    }
    await writer.sessions.shutdown();
    // A record version 3 wrote (a node of newer code came and went): no version-2 node runs it.
    const future = cluster.node('future', { supervisor: { logic: v3 } });
    await future.sessions.start('f1');
    await future.sessions.call('f1', { type: 'add', item: 'f1-a' });
    await future.sessions.shutdown();
    const futureRecord = await cluster.admin.hgetall(`${cluster.prefix}s:f1`);
    // A session running now on a live version-1 node.
    const old = cluster.node('old', { supervisor: { logic: v1 } });
    await old.sessions.start('live1');
    await old.sessions.call('live1', { type: 'add', item: 'live1-a' });
    const liveRecord = await cluster.admin.hget(`${cluster.prefix}s:live1`, 'd');
    expect(await storedAt(old.sessions, '1')).toBe(STORED + 1);

    // Two nodes of the new code, sweeping PER_SECOND records a second each.
    const t0 = performance.now();
    const nodes = ['n1', 'n2'].map(
      (n) => cluster.node(n, { supervisor: { logic: v2 }, sweepPerSecond: PER_SECOND }).sessions,
    );
    const migrated = () => nodes.reduce((n, s) => n + (s.stats().store?.migrated['1'] ?? 0), 0);
    // The rate: sampled every 100 ms, never more than two steps' worth per node in any second.
    const samples: { at: number; n: number }[] = [];
    const sampler = setInterval(() => samples.push({ at: performance.now(), n: migrated() }), 100);
    try {
      await eventually(async () => (await storedAt(nodes[0]!, '1')) === 1, 20_000);
    } finally {
      clearInterval(sampler);
    }
    const sweptMs = performance.now() - t0;
    samples.push({ at: performance.now(), n: migrated() });
    let fastest = 0;
    for (const a of samples)
      for (const b of samples)
        if (b.at > a.at && b.at - a.at <= 1_000) fastest = Math.max(fastest, b.n - a.n);
    console.log(
      `sweep: ${STORED} records at ${PER_SECOND}/s on 2 nodes in ${Math.round(sweptMs)} ms, at most ${fastest} in a second`,
    );
    // Bounded by the rate: the two nodes share the work (a step a second, the first a second
    // after a node starts), with 3 s to spare for a loaded machine.
    expect(sweptMs).toBeLessThan((STORED / (2 * PER_SECOND) + 2) * 1_000 + 3_000);
    expect(fastest).toBeLessThanOrEqual(2 * 2 * PER_SECOND);
    expect(migrated()).toBe(STORED);
    // Migrated, not restarted: every cart kept its item, under the new field.
    expect(await nodes[0]!.call('c7', { type: 'items' })).toEqual(['c7-a']);
    expect(await nodes[1]!.call('c42', { type: 'items' })).toEqual(['c42-a']);

    // Left alone: the session the version-1 node runs (its record, its ownership, its calls), and
    // the record of a version the sweeping nodes do not hold.
    expect(await cluster.admin.hget(`${cluster.prefix}s:live1`, 'd')).toBe(liveRecord);
    expect(old.sessions.count).toBe(1);
    expect(await old.sessions.call('live1', { type: 'add', item: 'live1-b' })).toBe(2);
    expect(old.errors.filter((e) => isClusterError(e) || (e as { code?: string }).code)).toEqual(
      [],
    );
    expect(await cluster.admin.hgetall(`${cluster.prefix}s:f1`)).toEqual(futureRecord);
    expect(await cluster.admin.exists(`${cluster.prefix}o:f1`)).toBe(0);

    // The version-1 node drains and goes: its session is stored at version 1, and swept too.
    await old.sessions.drain();
    await old.sessions.shutdown();
    await eventually(async () => (await storedAt(nodes[1]!, '1')) === 0, 5_000);
    expect(await nodes[1]!.call('live1', { type: 'items' })).toEqual(['live1-a', 'live1-b']);
    expect(await storedAt(nodes[0]!, '3')).toBe(1);
    expect(await storedAt(nodes[0]!, '2')).toBe(STORED + 1);
    for (const n of cluster.nodes) expect(n.errors).toEqual([]);
  });
});
