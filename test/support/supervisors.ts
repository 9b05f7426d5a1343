import { afterEach } from 'vitest';
import {
  createSessionSupervisor,
  type SessionSupervisor,
  type SupervisorOptions,
} from 'session-process';

/**
 * The test file's supervisor factory: each one made with `defaults` (and `onError` quiet unless
 * given), shut down after every test.
 *
 * @example
 * ```ts
 * const supervisor = supervisors({ logics: { shelf } });
 * const s = supervisor({ store: memoryStore() });
 * ```
 */
export function supervisors(
  defaults: SupervisorOptions = {},
): (options?: SupervisorOptions) => SessionSupervisor {
  const open: SessionSupervisor[] = [];
  afterEach(async () => {
    for (const s of open.splice(0)) await s.shutdown();
  });
  return (options = {}) => {
    const s = createSessionSupervisor({ onError: () => {}, ...defaults, ...options });
    open.push(s);
    return s;
  };
}
