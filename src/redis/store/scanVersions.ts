import type { Cluster, Redis } from 'ioredis';
import { countVersions, type StoredVersionCount } from '../../index.js';
import { FIELD } from './keys.js';

/** Escapes a literal for a Redis glob pattern. @internal */
export function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * @internal
 * Counts stored records per logic and version: SCAN over the record keys (every master of a
 * Redis Cluster), reading each record's data in batches. An operator's query, O(records); each
 * page is bounded by `page` (the store's command timeout), not the whole scan.
 */
export async function scanVersions(
  redis: Redis | Cluster,
  pattern: string,
  page: <T>(operation: () => Promise<T>) => Promise<T> = (operation) => operation(),
): Promise<StoredVersionCount[]> {
  const clients: Redis[] = redis.isCluster ? (redis as Cluster).nodes('master') : [redis as Redis];
  const data: string[] = [];
  for (const client of clients) {
    let cursor = '0';
    do {
      const from = cursor;
      cursor = await page(async () => {
        const [next, keys] = await client.scan(from, 'MATCH', pattern, 'COUNT', 500);
        if (keys.length === 0) return next;
        const pipeline = client.pipeline();
        for (const key of keys) pipeline.hget(key, FIELD.data);
        for (const [err, value] of (await pipeline.exec()) ?? []) {
          if (err) throw err;
          if (typeof value === 'string') data.push(value);
        }
        return next;
      });
    } while (cursor !== '0');
  }
  return countVersions(data);
}
