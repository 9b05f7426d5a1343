/**
 * session-process/visualizer: a page that lists live sessions and draws the selected one's
 * statechart, following it live, mounted in a Koa app behind `authorize`.
 *
 * @packageDocumentation
 */
export { isLoopback } from './isLoopback.js';
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
  MASK,
  maskSecrets,
  SECRET_KEY_PATTERN,
  type Sanitize,
  type SanitizeInfo,
} from './sanitize.js';
export { serializeMachine } from './serializeMachine.js';
export { type Visualizer, type VisualizerOptions, visualizer } from './visualizer.js';
