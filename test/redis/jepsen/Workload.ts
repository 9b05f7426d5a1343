import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { bundleChild } from '../../support/bundleChild.js';
import { REDIS_URL, uniquePrefix } from '../clusterHelpers.js';
import { NodeProcess } from '../NodeProcess.js';
import { type CheckResult, check, parseLog } from './checker.js';

let bundled: string | undefined;

/** Bundles the node process once (the package by its sources, dependencies from node_modules). */
async function bundle(): Promise<string> {
  bundled ??= await bundleChild(new URL('./node.entry.ts', import.meta.url));
  return bundled;
}

export interface WorkloadOptions {
  fencing: boolean;
  sessions?: number;
  clients?: number;
  leaseMs?: number;
  /**
   * Where a run that the checker fails keeps its evidence: the activation log, every request's
   * trace (`requests.jsonl`) and every Redis key of the run (`redis.json`). Default: kept in a
   * temporary directory whose path the report gives (`evidence`); nothing is kept for a clean run.
   */
  keepEvidence?: boolean;
}

/** One request a client made, as it saw it (times on the machine's monotonic clock, ms). */
export interface RequestTrace {
  node: string;
  id: string;
  item: string;
  sentAt: number;
  answeredAt: number;
  ok: boolean;
  code?: string;
}

export interface WorkloadReport extends CheckResult {
  acked: number;
  failed: number;
  activations: number;
  /**
   * Per fault (SIGKILL of one node, SIGSTOP of another), the longest time any view on a
   * surviving node waited, once its session first changed after the fault, for a snapshot (ms).
   */
  viewGapMs: { kill: number; stop: number };
  /**
   * The same from the fault itself (ms): includes the failover and any time nobody happened to
   * change the session (random traffic under load), so it says less about the views.
   */
  viewFromFaultMs: { kill: number; stop: number };
  /** The directory holding a failing run's evidence (undefined for a clean run). */
  evidence: string | undefined;
}

const nowMs = () => Number(process.hrtime.bigint() / 1_000_000n);

/**
 * Three node processes; clients add unique items through random nodes to a set of sessions while
 * one node is killed (SIGKILL) and restarted, and another is paused past its lease (SIGSTOP, then
 * SIGCONT) with requests waiting for it; then the checker reads every session and the logs.
 */
export async function runWorkload(options: WorkloadOptions): Promise<WorkloadReport> {
  const file = await bundle();
  const prefix = uniquePrefix();
  const dir = mkdtempSync(join(tmpdir(), 'sp-jepsen-'));
  const logPath = join(dir, 'activations.log');
  writeFileSync(logPath, '');
  const leaseMs = options.leaseMs ?? 500;
  const S = options.sessions ?? 6;
  const C = options.clients ?? 6;
  const ids = Array.from({ length: S }, (_, i) => `j${i}`);
  const spawn = async (nodeId: string): Promise<NodeProcess> => {
    const child = fork(file, [prefix, nodeId, logPath, options.fencing ? '' : '1'], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, JEPSEN_LEASE_MS: String(leaseMs), REDIS_URL },
    });
    await new Promise<void>((resolve) => child.once('message', () => resolve()));
    return new NodeProcess(nodeId, child);
  };
  const nodes = [await spawn('n0'), await spawn('n1'), await spawn('n2')];
  const acked = new Map<string, string[]>(ids.map((id) => [id, []]));
  const traces: RequestTrace[] = [];
  let failed = 0;
  let clean = false;
  try {
    // Each node owns a share of the sessions, and watches all of them.
    for (const [i, id] of ids.entries()) await nodes[i % 3]!.request({ t: 'ensure', id }, 5_000);
    await new Promise((r) => setTimeout(r, 50));
    for (const n of nodes) await n.request({ t: 'watch', ids }, 5_000);

    let running = true;
    let k = 0;
    const add = async (node: NodeProcess, id: string): Promise<void> => {
      const item = `i${++k}`;
      const sentAt = nowMs();
      const r = await node.request({ t: 'add', id, item }, 4_000);
      traces.push({
        node: node.nodeId,
        id,
        item,
        sentAt,
        answeredAt: nowMs(),
        ok: r.ok,
        ...(r.code ? { code: r.code } : {}),
      });
      if (r.ok) acked.get(id)!.push(item);
      else failed++;
    };
    const clients = Array.from({ length: C }, async () => {
      while (running) {
        const live = nodes.filter((n) => n.alive);
        const node = live[Math.floor(Math.random() * live.length)]!;
        await add(node, ids[Math.floor(Math.random() * ids.length)]!);
      }
    });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    await sleep(400);
    // Kill one node, restart it under the same node ID a moment later.
    const killedAt = nowMs();
    nodes[1]!.child.kill('SIGKILL');
    await sleep(leaseMs * 1.5);
    nodes[1] = await spawn('n1');
    await sleep(300);
    // Pause another past its lease, with requests for its sessions waiting in its queue.
    const paused = nodes[2]!;
    const stoppedAt = nowMs();
    paused.child.kill('SIGSTOP');
    paused.paused = true;
    const queued = ids.map((id) => add(paused, id));
    await sleep(leaseMs * 2.5);
    paused.child.kill('SIGCONT');
    paused.paused = false;
    await Promise.all(queued);
    await sleep(400);
    running = false;
    await Promise.all(clients);

    // Read the end state through one node, then the views of all.
    const final = new Map<string, string[]>();
    for (const id of ids) {
      for (let tries = 0; tries < 20; tries++) {
        const r = await nodes[0]!.request({ t: 'items', id }, 5_000);
        if (r.ok) {
          final.set(id, r.v as string[]);
          break;
        }
        await sleep(100);
      }
    }
    await sleep(200);
    let viewRegressions = 0;
    for (const n of nodes)
      if (n.alive) viewRegressions += Number((await n.request({ t: 'views' }, 5_000)).v ?? 0);
    const log = parseLog(readFileSync(logPath, 'utf8'));
    // How long the views on the nodes that survived each fault waited for their next snapshot
    // once their session changed again (a session nobody happened to change for a while is not
    // a view that stopped): n0 and n2 watched through the kill of n1, n0 through the pause of n2.
    const changedAfter = (id: string, after: number): number | undefined => {
      let first: number | undefined;
      for (const e of log) {
        const at = Number(e.at / 1_000_000n);
        if (e.sessionId === id && at >= after && (first === undefined || at < first)) first = at;
      }
      return first;
    };
    const gap = async (node: NodeProcess, after: number, fromFault = false): Promise<number> => {
      const r = await node.request({ t: 'received' }, 5_000);
      let worst = 0;
      for (const id of ids) {
        const changed = changedAfter(id, after);
        if (changed === undefined) continue;
        const times = (r.v as Record<string, number[]>)[id] ?? [];
        const next = times.find((t) => t >= changed);
        const since = fromFault ? after : changed;
        worst = Math.max(worst, next === undefined ? Number.POSITIVE_INFINITY : next - since);
      }
      return worst;
    };
    const viewGapMs = {
      kill: Math.max(await gap(nodes[0]!, killedAt), await gap(nodes[2]!, killedAt)),
      stop: await gap(nodes[0]!, stoppedAt),
    };
    const viewFromFaultMs = {
      kill: Math.max(await gap(nodes[0]!, killedAt, true), await gap(nodes[2]!, killedAt, true)),
      stop: await gap(nodes[0]!, stoppedAt, true),
    };
    const result = check({ acked, final, log, viewRegressions });
    clean = result.ok || !(options.keepEvidence ?? true);
    if (!clean) {
      writeFileSync(join(dir, 'requests.jsonl'), traces.map((t) => JSON.stringify(t)).join('\n'));
      writeFileSync(
        join(dir, 'run.json'),
        JSON.stringify(
          { prefix, leaseMs, killedAt, stoppedAt, result, final: Object.fromEntries(final) },
          null,
          1,
        ),
      );
      writeFileSync(join(dir, 'redis.json'), JSON.stringify(await dumpKeys(prefix), null, 1));
    }
    return {
      ...result,
      acked: [...acked.values()].reduce((a, l) => a + l.length, 0),
      failed,
      activations: new Set(log.map((e) => e.activation)).size,
      viewGapMs,
      viewFromFaultMs,
      evidence: clean ? undefined : dir,
    };
  } finally {
    for (const n of nodes) {
      if (n.alive) {
        n.child.kill('SIGCONT');
        n.child.kill('SIGKILL');
      }
    }
    const admin = new Redis(REDIS_URL);
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length) await admin.del(...keys);
    admin.disconnect();
    if (clean) rmSync(dir, { recursive: true, force: true });
  }
}

/** Every key of a run with its value, as Redis holds it (the evidence of a failing run). */
async function dumpKeys(prefix: string): Promise<Record<string, unknown>> {
  const admin = new Redis(REDIS_URL);
  try {
    const out: Record<string, unknown> = {};
    for (const key of await admin.keys(`${prefix}*`)) {
      const type = await admin.type(key);
      if (type === 'string') out[key] = await admin.get(key);
      else if (type === 'hash') out[key] = await admin.hgetall(key);
      else if (type === 'set') out[key] = await admin.smembers(key);
      else if (type === 'zset') out[key] = await admin.zrange(key, 0, -1, 'WITHSCORES');
      else out[key] = type;
    }
    return out;
  } finally {
    admin.disconnect();
  }
}
