import { channel } from 'node:diagnostics_channel';
import type { LiveRefusalReason, LiveRefusedCode } from './LiveRefusedError.js';

/**
 * What is published on `session-process:live-refused` for each refused upgrade.
 *
 * @example
 * ```ts
 * subscribe('session-process:live-refused', (msg) => {
 *   const { reason, code, status } = msg as LiveRefusedEvent;
 * });
 * ```
 */
export interface LiveRefusedEvent {
  reason: LiveRefusalReason;
  code: LiveRefusedCode;
  status: number;
  /** The request's path (`''` for a connection closed before its request head arrived). */
  path: string;
  origin: string | undefined;
  sessionId: string | undefined;
  message: string;
}

/**
 * What is published on `session-process:live-dropped` when the bridge cuts a view off: it missed
 * a heartbeat (`heartbeat`: a dead peer, or one that stopped reading), or it let more than
 * `maxBufferedBytes` pile up (`buffer`).
 *
 * @example
 * ```ts
 * subscribe('session-process:live-dropped', (msg) => log.info(msg as LiveDroppedEvent));
 * ```
 */
export interface LiveDroppedEvent {
  sessionId: string;
  reason: 'heartbeat' | 'buffer';
}

/**
 * The `node:diagnostics_channel` channels of the live bridge: `refused`
 * (`session-process:live-refused`, a {@link LiveRefusedEvent}) and `dropped`
 * (`session-process:live-dropped`, a {@link LiveDroppedEvent}).
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 * subscribe(liveTelemetryChannels.refused.name, (msg) => console.warn('live view refused', msg));
 * ```
 */
export const liveTelemetryChannels = {
  refused: channel('session-process:live-refused'),
  dropped: channel('session-process:live-dropped'),
} as const;
