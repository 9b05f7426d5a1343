/**
 * session-process/visualizer: a page that lists live sessions and draws the selected one's
 * statechart, following it live, mounted in a Koa app behind `allowedHosts` and `authorize`.
 *
 * @packageDocumentation
 */
// The request checks live in session-process/koa (so that /metrics reuses them without ws); the
// visualizer's names stay.
export { type AllowedHosts, isHostAllowed, isLoopback } from '../koa/index.js';
export type {
  ClientMessage,
  EventEntry,
  InvokeDef,
  MachineDef,
  ServerMessage,
  SessionRow,
  StateNodeDef,
  TransitionDef,
} from './protocol.js';
export {
  defaultSanitize,
  isSecretKey,
  MASK,
  maskSecrets,
  SECRET_KEY_PATTERN,
  type Sanitize,
  type SanitizeInfo,
} from './sanitize.js';
export { serializeMachine } from './serializeMachine.js';
export {
  type DropReason,
  isVisualizerError,
  type RefusalReason,
  VisualizerError,
  type VisualizerErrorCode,
  type VisualizerReport,
  visualizerTelemetryChannels,
} from './VisualizerError.js';
export { CLOSE_SLOW_READER } from './constants.js';
export type {
  Visualizer,
  VisualizerAttachment,
  VisualizerOptions,
  VisualizerOrigins,
} from './types.js';
export { visualizer } from './visualizer.js';
