import type { Redis } from 'ioredis';

let warnedNotDurable = false;

/**
 * @internal `durable` promises survival of `kill -9`; a Redis without AOF forgets everything on restart. */
export async function warnIfNotDurable(redis: Redis): Promise<void> {
  if (warnedNotDurable) return;
  try {
    const info = await redis.info('persistence');
    if (/aof_enabled:1/.test(info)) return;
    if (warnedNotDurable) return;
    warnedNotDurable = true;
    process.emitWarning(
      "durability 'durable' with a Redis that has no AOF (appendonly no): acknowledged calls survive a node's death but not a Redis restart. Set `appendonly yes` and `appendfsync always` (or `everysec`, losing up to a second).",
      { code: 'SESSION_PROCESS_REDIS_NOT_DURABLE' },
    );
  } catch {
    // INFO may be disabled (managed Redis): nothing to say then
  }
}
