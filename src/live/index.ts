/**
 * session-process/live: live views of session processes over WebSocket (ws 8).
 *
 * @packageDocumentation
 */
export { attachLiveBridge } from './attachLiveBridge.js';
export type {
  LiveEventCheck,
  LiveEvents,
  StandardSchemaLike,
  StandardSchemaResult,
} from './eventChecks.js';
export {
  isLiveRefusedError,
  type LiveRefusalReason,
  type LiveRefusedCode,
  LiveRefusedError,
} from './LiveRefusedError.js';
export {
  CLOSE_SESSION_ENDED,
  type CallMessage,
  type ClientMessage,
  type EndedMessage,
  type ErrorMessage,
  encodeMessage,
  isLiveEvent,
  LIVE_PROTOCOL_VERSION,
  LIVE_SUBPROTOCOL,
  type LiveEndReason,
  type LiveRefusalCode,
  type LiveErrorCode,
  type LiveEvent,
  type LiveSessionErrorCode,
  MAX_EVENT_TYPE_LENGTH,
  MAX_REF_LENGTH,
  type ParseResult,
  parseClientMessage,
  parseServerMessage,
  REFUSAL_CLOSE_CODES,
  type ReplyMessage,
  refusalOf,
  type SendMessage,
  type ServerMessage,
  type SnapshotMessage,
} from './protocol.js';
export {
  type LiveDroppedEvent,
  type LiveRefusedEvent,
  liveTelemetryChannels,
} from './telemetry.js';
export type { LiveBridge, LiveBridgeOptions, LiveBridgeStats } from './types.js';
// The upgrade plumbing the visualizer's feed shares (and an app's own upgrade handler may use).
export {
  answerHttp,
  claim,
  isClaimed,
  type KoaSessionMiddleware,
  pathOf,
  readSessionId,
  UPGRADE_CLAIMED,
  upgradeContext,
} from './upgrade.js';
