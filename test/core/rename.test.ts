import { createSessionSupervisor, isSessionError } from 'session-process';
import { describe, expect, it } from 'vitest';
import { workerMachine } from './fixtures.js';

// What the Koa layer's rotate() relies on: the Koa middleware serializes rotations of one ID in
// a process, but other callers of `rename` (and a cluster) do not.
describe('rename, twice at once', () => {
  it('refuses a second concurrent rename of the same ID with SESSION_ROTATED', async () => {
    const sessions = createSessionSupervisor({ logic: workerMachine, onError: () => {} });
    try {
      await sessions.start('old');
      sessions.cast('old', { type: 'inc' });
      const results = await Promise.allSettled([
        sessions.rename('old', 'first'),
        sessions.rename('old', 'second'),
      ]);
      expect(results[0].status).toBe('fulfilled');
      expect(results[1].status).toBe('rejected');
      expect(isSessionError((results[1] as PromiseRejectedResult).reason, 'SESSION_ROTATED')).toBe(
        true,
      );
      expect(sessions.started('first')).toBe(true);
      expect(await sessions.call('first', { type: 'get' })).toBe(1);
    } finally {
      await sessions.shutdown();
    }
  });
});
