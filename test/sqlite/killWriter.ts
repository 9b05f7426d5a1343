// A child process for sqliteStore.test.ts: writes to the store as fast as it can and prints the
// version of every write as soon as its `save` resolves, until it is killed.
import { sqliteStore } from 'session-process/sqlite';

const [path, synchronous] = process.argv.slice(2) as [string, 'full' | 'normal'];
const store = sqliteStore({ path, synchronous });
let version = 0;
for (;;) {
  const batch = Array.from({ length: 10 }, (_, i) => ({
    id: `s${i}`,
    expectedVersion: version,
    version: version + 1,
    data: JSON.stringify({ version: version + 1, pad: 'x'.repeat(800) }),
    dueAt: null,
  }));
  const results = await store.save(batch);
  if (results.some((r) => r !== 'ok')) throw new Error(`conflict at ${version}`);
  version += 1;
  process.stdout.write(`${version}\n`);
}
