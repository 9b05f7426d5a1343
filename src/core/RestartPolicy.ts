import type { Entry } from './Entry.js';

/** @internal The resolved `restart` option. */
export interface RestartOptions {
  onCrash: boolean;
  maxRestarts: number;
  withinMs: number;
}

/**
 * @internal
 * Per-session restart after a crash: a session restarts from its initial state at most
 * `maxRestarts` times within `withinMs`, then ends as `crashed`. Never a global wipe.
 */
export class RestartPolicy {
  readonly #options: RestartOptions;

  constructor(options: Partial<RestartOptions> | undefined) {
    this.#options = {
      onCrash: options?.onCrash ?? false,
      maxRestarts: options?.maxRestarts ?? 3,
      withinMs: options?.withinMs ?? 60_000,
    };
  }

  /** Records a crash of `entry` at `now`; whether the session restarts. */
  crashed(entry: Entry, now: number): boolean {
    const { onCrash, maxRestarts, withinMs } = this.#options;
    if (!onCrash) return false;
    const recent = (entry.crashes ?? []).filter((t) => now - t < withinMs);
    recent.push(now);
    entry.crashes = recent;
    return recent.length <= maxRestarts;
  }
}
