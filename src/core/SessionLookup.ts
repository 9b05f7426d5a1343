import type { Entry } from './Entry.js';
import { isSessionError, SessionNotFoundError } from './errors.js';
import type { Persistence } from './persistence/Persistence.js';
import type { SessionRegistry } from './SessionRegistry.js';
import { assertSessionId, isValidSessionId } from './sessionId.js';
import type { SessionPresence } from './types.js';

/**
 * @internal
 * Finding a session by ID for the supervisor: in memory, brought back from the store, or why
 * not (an invalid ID, one rotated away, none).
 */
export class SessionLookup {
  readonly #registry: SessionRegistry;
  readonly #persist: Persistence | undefined;

  constructor(registry: SessionRegistry, persist: Persistence | undefined) {
    this.#registry = registry;
    this.#persist = persist;
  }

  /** The session in memory, or restored synchronously from the store; else throws. */
  entry(id: string): Entry {
    const entry = this.#registry.get(id);
    if (entry) return entry;
    assertSessionId(id);
    this.#registry.checkRotated(id);
    const restored = this.#persist?.restoreSync(id);
    if (restored) return restored;
    throw new SessionNotFoundError(id);
  }

  /** The session in memory, or restored from the store; else throws. */
  async entryAsync(id: string): Promise<Entry> {
    const entry = this.#registry.get(id);
    if (entry) return entry;
    assertSessionId(id);
    this.#registry.checkRotated(id);
    if (this.#persist) await this.#persist.restore(id);
    return this.entry(id);
  }

  /**
   * The session in memory, or restored synchronously from the store, or undefined (for
   * `touch(id)`, which never throws); a store's failure goes to `report`.
   */
  entryQuietly(id: string, report: (err: unknown) => void): Entry | undefined {
    let entry = this.#registry.get(id);
    try {
      if (!entry && isValidSessionId(id)) entry = this.#persist?.restoreSync(id);
    } catch (err) {
      // An unrestorable record is reported once, when it is quarantined; a newer version's by
      // whoever asks for it with an operation that can fail.
      if (
        !isSessionError(err, 'SESSION_RESTORE_FAILED') &&
        !isSessionError(err, 'SESSION_VERSION_AHEAD')
      )
        report(err);
    }
    return entry;
  }

  /** A supervisor's `status(id)`. */
  async status(id: string): Promise<SessionPresence> {
    assertSessionId(id);
    if (this.#registry.has(id)) return 'running';
    if (this.#registry.isRotated(id)) return 'rotated';
    if (!this.#persist) return 'absent';
    try {
      if (!(await this.#persist.stored(id))) return 'absent';
    } catch (err) {
      // A cluster's store answers so for an ID another node rotated away.
      if (isSessionError(err, 'SESSION_ROTATED')) return 'rotated';
      throw err;
    }
    return this.#registry.has(id) ? 'running' : 'stored';
  }

  /** A supervisor's `restore(id)`. */
  async restore(id: string): Promise<boolean> {
    assertSessionId(id);
    if (this.#registry.has(id)) return true;
    this.#registry.checkRotated(id);
    if (!this.#persist) return false;
    return (await this.#persist.restore(id)) !== undefined || this.#registry.has(id);
  }
}
