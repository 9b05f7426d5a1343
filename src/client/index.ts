/**
 * session-process/client: the live-view client. Browser-safe: it imports nothing from Node and
 * nothing of the package but the wire protocol.
 *
 * @packageDocumentation
 */
export {
  type ConnectLiveOptions,
  connectLive,
  isLiveError,
  type LiveBackoff,
  type LiveClient,
  LiveError,
  type LiveSocket,
  type LiveState,
} from './connectLive.js';
export {
  CLOSE_SESSION_ENDED,
  LIVE_PROTOCOL_VERSION,
  LIVE_SUBPROTOCOL,
  type LiveEndReason,
  type LiveRefusalCode,
  type LiveErrorCode,
  type LiveEvent,
  REFUSAL_CLOSE_CODES,
  refusalOf,
  type SnapshotMessage,
} from '../live/protocol.js';
