// A child process for durable.test.ts: a supervisor in `durable` mode on a SQLite file or a Redis
// prefix. Mode `serve` reads "id sku" lines and prints "ack sku" once each `put` call resolves;
// mode `dump` prints every session's items as JSON, then exits.
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { createSessionSupervisor, type SessionStore } from 'session-process';
import { redisStore } from 'session-process/redis';
import { sqliteStore } from 'session-process/sqlite';
import { shelf } from './fixtures.js';

const [kind, where, mode, ids] = process.argv.slice(2) as [string, string, string, string];
let redis: Redis | undefined;
let store: SessionStore;
if (kind === 'sqlite') store = sqliteStore({ path: where });
else {
  redis = new Redis('redis://127.0.0.1:6379');
  store = redisStore({ redis, prefix: where });
}
// A store with some latency (a network hop, a slow fsync) widens the window between a change
// and its save: the window an acknowledgement must not fall into.
const save = store.save.bind(store);
store.save = async (writes) => {
  await new Promise((r) => setTimeout(r, 10));
  return save(writes);
};
const durability = (process.env.SP_DURABILITY ?? 'durable') as 'durable' | 'eventual';
const sessions = createSessionSupervisor({ logics: { shelf }, store, durability });

if (mode === 'dump') {
  const out: Record<string, string[]> = {};
  for (const id of ids.split(',')) {
    if (await sessions.restore(id)) out[id] = sessions.snapshot(id).context.items;
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
  await sessions.shutdown();
  await store.close();
  redis?.disconnect();
} else {
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const [id, sku] = line.split(' ') as [string, string];
    sessions
      .ensure(id, { logic: 'shelf' })
      .then(() => sessions.call(id, { type: 'put', sku }))
      .then(
        () => process.stdout.write(`ack ${sku}\n`),
        (err: unknown) => process.stderr.write(`failed ${sku}: ${String(err)}\n`),
      );
  });
}
