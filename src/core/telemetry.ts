import { channel, type Channel } from 'node:diagnostics_channel';
import type { TelemetryEvents, TelemetryName } from './types.js';

const NAMES: readonly TelemetryName[] = [
  'start',
  'stop',
  'call',
  'cast',
  'crash',
  'expire',
  'rate-limited',
];

/**
 * The `node:diagnostics_channel` channels the package publishes on, by event name
 * (`session-process:start`, `session-process:call`, ...).
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 * subscribe('session-process:crash', (msg) => log.error(msg));
 * ```
 */
export const telemetryChannels: Readonly<Record<TelemetryName, Channel>> = Object.fromEntries(
  NAMES.map((name) => [name, channel(`session-process:${name}`)]),
) as Record<TelemetryName, Channel>;

type Listener = (event: any) => void;

/** @internal One supervisor's telemetry: its `on()` listeners plus the shared channels. */
export class Telemetry {
  readonly #listeners = new Map<TelemetryName, Set<Listener>>();

  /** Whether anyone listens to `name` (so callers can skip measuring). */
  active(name: TelemetryName): boolean {
    return telemetryChannels[name].hasSubscribers || (this.#listeners.get(name)?.size ?? 0) > 0;
  }

  on<TName extends TelemetryName>(
    name: TName,
    listener: (event: TelemetryEvents[TName]) => void,
  ): () => void {
    if (!NAMES.includes(name))
      throw new TypeError(`Unknown telemetry event '${String(name)}'; known: ${NAMES.join(', ')}`);
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  emit<TName extends TelemetryName>(
    name: TName,
    event: TelemetryEvents[TName],
    onError: (err: unknown) => void,
  ): void {
    const ch = telemetryChannels[name];
    if (ch.hasSubscribers) ch.publish(event);
    const set = this.#listeners.get(name);
    if (!set) return;
    for (const listener of set) {
      try {
        listener(event);
      } catch (err) {
        onError(err);
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}
