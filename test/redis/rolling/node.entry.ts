/**
 * One node of the rolling-deploy test, as its own process (bundled by the test with esbuild), at
 * version 1 or 2 of one cart machine, deployed as a shop deploys it: the version-1 node runs
 * `machineVersions([v1])`, the version-2 node `machineVersions([v1, v2], { migrations })`.
 * Version 2 renamed the context field `items` to `entries`, so a version-1 node running a
 * version-2 record would crash on it (visibly). Version 2 migrates version-1 records on restore
 * (its migration renames the field); version 1 refuses version-2 records (SESSION_VERSION_AHEAD,
 * the record untouched), by the library alone. SIGTERM drains the node (its sessions go to the
 * others) and exits. The parent drives it over IPC: add an item (a call), read items, watch sessions.
 * Every add an actor processes is logged with the machine's monotonic clock and the version.
 */
import { appendFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { createSessionSupervisor, getSessionId, machineVersions } from 'session-process';
import { type ClusterSessionSupervisor, redisCluster } from 'session-process/redis';
import { fromV1, renamedCartAt } from '../../support/renamedCart.js';

const [prefix, nodeId, version, logPath] = process.argv.slice(2) as [
  string,
  string,
  '1' | '2',
  string,
];

function log(self: object, item: string): void {
  appendFileSync(
    logPath,
    `${getSessionId(self as never)} ${version} ${process.hrtime.bigint()} ${item} ${nodeId}\n`,
  );
}

function event(id: string, what: string): void {
  appendFileSync(`${logPath}.events`, `${id} ${process.hrtime.bigint()} ${nodeId} ${what}\n`);
}

const v1 = renamedCartAt('1', log);
/** Version 2 renamed `items` to `entries` (`fromV1`): a stored version-1 cart keeps its items. */
const v2 = renamedCartAt('2', log);

const cart =
  version === '1'
    ? machineVersions([v1])
    : machineVersions([v1, v2], { migrations: { '1': fromV1 } });

let restoreFailures = 0;
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const sessions = createSessionSupervisor({
  logic: cart,
  durability: 'durable',
  callTimeoutMs: 5_000,
  onError: (err, info) => {
    const code = (err as { code?: string }).code;
    if (code === 'SESSION_RESTORE_FAILED') restoreFailures++;
    if (info.sessionId) event(info.sessionId, `error:${code ?? String(err)}`);
  },
  cluster: redisCluster({
    redis,
    nodeId,
    prefix,
    leaseMs: Number(process.env.ROLL_LEASE_MS ?? 1_000),
  }),
}) as ClusterSessionSupervisor;
// The sessions' comings and goings on this node, beside the activation log (printed for a lost
// item's session): restored or started, stopped and why, taken, given up, the lease lost.
sessions.on('start', (e) => event(e.sessionId, e.restored ? 'restored' : 'started'));
sessions.on('stop', (e) => event(e.sessionId, `stop:${e.reason}`));
sessions.on('lease', (e) => {
  if (e.sessionId !== undefined)
    event(e.sessionId, `${e.type}${e.previousOwner ? `<${e.previousOwner}` : ''}`);
  else if (e.type !== 'renew') event('-', `${e.type}:${e.sessions ?? ''}`);
});

/** Views hosted here: when each item was first seen (monotonic clock, ns). */
const seenAt = new Map<string, bigint>();

type Msg =
  | { t: 'add'; n: number; id: string; item: string }
  | { t: 'items'; n: number; id: string }
  | { t: 'ensure'; n: number; id: string }
  | { t: 'watch'; n: number; ids: string[] }
  | { t: 'seen'; n: number; keys: string[] }
  | { t: 'stats'; n: number };

const answer = (n: number, body: object) => process.send?.({ n, ...body });
const fail = (n: number, err: unknown) =>
  answer(n, { ok: false, code: (err as { code?: string }).code ?? String(err) });

process.on('message', (m: Msg) => {
  switch (m.t) {
    case 'add':
      sessions.call<number>(m.id, { type: 'add', item: m.item }).then(
        (v) => answer(m.n, { ok: true, v }),
        (e) => {
          event(m.id, `add-failed:${(e as { code?: string }).code ?? String(e)}:${m.item}`);
          fail(m.n, e);
        },
      );
      break;
    case 'items':
      sessions.call<string[]>(m.id, { type: 'items' }).then(
        (v) => answer(m.n, { ok: true, v }),
        (e) => fail(m.n, e),
      );
      break;
    case 'ensure':
      sessions.ensure(m.id).then(
        () => {
          event(m.id, 'ensured');
          answer(m.n, { ok: true });
        },
        (e) => fail(m.n, e),
      );
      break;
    case 'watch': {
      const see = (id: string, context: unknown) => {
        const c = context as { items?: string[]; entries?: string[] };
        const now = process.hrtime.bigint();
        for (const item of c.entries ?? c.items ?? [])
          if (!seenAt.has(`${id} ${item}`)) seenAt.set(`${id} ${item}`, now);
      };
      // As a live view does: follow the changes, and show the current state when it connects.
      for (const id of m.ids) {
        sessions.subscribe(id, (msg) => {
          if (msg.type === 'snapshot') see(id, msg.snapshot.context);
        });
      }
      Promise.all(m.ids.map((id) => sessions.read(id).then((s) => see(id, s.context)))).then(
        () => answer(m.n, { ok: true }),
        (e) => fail(m.n, e),
      );
      break;
    }
    case 'seen':
      answer(m.n, { ok: true, v: m.keys.map((key) => seenAt.get(key)?.toString() ?? null) });
      break;
    case 'stats':
      sessions.versions().then(
        (versions) =>
          answer(m.n, {
            ok: true,
            v: {
              restoreFailures,
              count: sessions.count,
              migrated: sessions.stats().store?.migrated ?? {},
              versions,
            },
          }),
        (e) => fail(m.n, e),
      );
      break;
  }
});

process.once('SIGTERM', () => {
  sessions
    .drain()
    .then(() => sessions.shutdown())
    .finally(() => {
      redis.disconnect();
      process.exit(0);
    });
});

const started = performance.now();
const wait = setInterval(() => {
  if (sessions.stats().cluster.leaseHeld || performance.now() - started > 15_000) {
    clearInterval(wait);
    process.send?.({ ready: true });
  }
}, 10);
