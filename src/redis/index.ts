/**
 * session-process/redis: the Redis {@link SessionStore} and the Redis cluster.
 *
 * @packageDocumentation
 */
export { type RedisSessionStore, type RedisStoreOptions, redisStore } from './store/redisStore.js';
