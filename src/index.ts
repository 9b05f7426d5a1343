/**
 * session-process: a long-lived XState v5 actor per web session.
 *
 * @packageDocumentation
 */
export { createSessionSupervisor } from './core/createSessionSupervisor.js';
/** @internal The handle class, shared with the cluster's supervisor. */
export { Handle, type HandleOwner } from './core/Handle.js';
export {
  CallTimeoutError,
  EventNotAcceptedError,
  InvalidSessionIdError,
  isSessionError,
  RateLimitedError,
  RecordTooLargeError,
  SessionAlreadyStartedError,
  SessionCrashedError,
  SessionEndedError,
  SessionError,
  type SessionErrorCode,
  type SessionErrorOptions,
  SessionInitFailedError,
  SessionLimitReachedError,
  SessionNotFoundError,
  SessionRestoreFailedError,
  SessionRotatedError,
  SessionVersionAheadError,
  StoreCorruptError,
  StoreUnavailableError,
  TooManyTimersError,
  UnknownLogicError,
} from './core/errors.js';
/** @internal An error's message, for the messages of other entry points. */
export { messageOf } from './core/errors.js';
export {
  ClusterError,
  type ClusterErrorCode,
  type ClusterErrorOptions,
  isClusterError,
} from './core/ClusterError.js';
export { callIdOf, getSessionId, type ReplyArgs, type ReplyOptions, reply } from './core/reply.js';
export { generateSessionId, isValidSessionId } from './core/sessionId.js';
export { telemetryChannels } from './core/telemetry.js';
export type { SessionRecord, StoredTimer } from './core/persistence/record.js';
export { machineVersions, type VersionedMachine } from './core/versions/machineVersions.js';
export type {
  MachineVersionsOptions,
  MigratableSnapshot,
  MigratedSnapshot,
  MigrationProblem,
  SnapshotMigration,
  VersionChain,
  VersionPlace,
} from './core/versions/VersionChain.js';
export type {
  CallOptions,
  ClusterAdapter,
  Durability,
  EndReason,
  ListOptions,
  SessionHandle,
  SessionInfo,
  SessionMessage,
  SessionPage,
  SessionPresence,
  SessionSnapshot,
  SessionStatus,
  SessionSupervisor,
  SessionVersionCount,
  StartOptions,
  SubscribeOptions,
  SupervisorOptions,
  SupervisorStats,
  TelemetryEvents,
  TelemetryName,
} from './core/types.js';
export { memoryStore } from './core/store/memoryStore.js';
/** @internal Counting records by version, for the stores of other entry points. */
export { countVersions } from './core/store/SessionStore.js';
export type {
  DueSession,
  QuarantinedSession,
  QuarantineMarker,
  SessionStore,
  StoredSession,
  StoredVersionCount,
  StoreWrite,
  StoreWriteResult,
} from './core/store/SessionStore.js';
