/**
 * session-process/sqlite: the embedded durable {@link SessionStore} (one SQLite file, libsql).
 *
 * @packageDocumentation
 */
export {
  type SqliteSessionStore,
  type SqliteStoreOptions,
  type SqliteStoreStats,
  sqliteStore,
} from './sqliteStore.js';
