import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteStore } from 'session-process/sqlite';
import { storeConformance } from 'session-process/testing';
import { afterAll, afterEach, describe, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'sp-sqlite-conformance-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const paths = new WeakMap<object, string>();
const opened = (path: string) => {
  const store = sqliteStore({ path });
  paths.set(store, path);
  return store;
};
storeConformance('sqliteStore', () => opened(join(dir, `s${n++}.db`)), {
  vitest: { describe, it, afterEach },
  reopen: (store) => opened(paths.get(store)!),
});
storeConformance(
  'sqliteStore (synchronous normal)',
  () => sqliteStore({ path: join(dir, `n${n++}.db`), synchronous: 'normal' }),
  { vitest: { describe, it, afterEach } },
);
storeConformance(
  'sqliteStore (commits on the event loop)',
  () => sqliteStore({ path: join(dir, `i${n++}.db`), commitThread: false }),
  { vitest: { describe, it, afterEach } },
);
