import type { EventObject } from 'xstate';

/** Format of the records this version writes. */
export const RECORD_FORMAT = 1;

/**
 * A session as it is saved: everything needed to bring it back in another process. Plain JSON;
 * `migrate` (a supervisor option) receives it as read, before it is used.
 */
export interface SessionRecord {
  /** Record format (1). */
  format: number;
  id: string;
  /** Name of the logic in the supervisor's `logics`. */
  logic: string;
  /** The logic's own `version` (the machine config's `version`), when it has one. */
  logicVersion?: string | undefined;
  /** The `input` the session was started with (a restart after a crash reuses it). */
  input?: unknown;
  /** Epoch milliseconds. */
  startedAt: number;
  /** Epoch milliseconds of the last call, cast or touch. */
  lastActiveAt: number;
  /** The session's version (grows with each change). */
  version: number;
  /** XState's persisted snapshot (`actor.getPersistedSnapshot()`). */
  snapshot: unknown;
  /** Delayed events the session had scheduled for itself, with their due times. */
  timers: StoredTimer[];
}

/** A delayed event (an `after` transition, a delayed `raise`/`sendTo` self) of a stored session. */
export interface StoredTimer {
  /** XState's id of the delayed event (an `after` transition's event type), used to cancel it. */
  id: string;
  event: EventObject;
  /** Epoch milliseconds at which it fires. */
  dueAt: number;
}

/**
 * How a signed record's text begins (`recordKey`): `hmac-sha256:<base64url MAC>:<JSON>`. A
 * record's JSON begins with `{`, so the two never mix.
 */
export const SIGNED_PREFIX = 'hmac-sha256:';

/**
 * Parses stored text into a record, or throws saying what is wrong with it. A signed record's
 * signature is skipped, not checked: restoring checks it (with `recordKey`); readers that only
 * look at records (counting versions, say) need no key.
 */
export function parseRecord(data: string): SessionRecord {
  const json = data.startsWith(SIGNED_PREFIX)
    ? data.slice(data.indexOf(':', SIGNED_PREFIX.length) + 1)
    : data;
  const value: unknown = JSON.parse(json);
  if (typeof value !== 'object' || value === null)
    throw new TypeError('the record is not an object');
  return value as SessionRecord;
}

/** Checks the fields a restore relies on (after `migrate`). */
export function checkRecord(record: SessionRecord, id: string): void {
  const problems: string[] = [];
  if (record.id !== id) problems.push(`id is ${JSON.stringify(record.id)}`);
  if (typeof record.logic !== 'string') problems.push('logic is not a string');
  if (typeof record.version !== 'number') problems.push('version is not a number');
  if (typeof record.startedAt !== 'number') problems.push('startedAt is not a number');
  if (typeof record.lastActiveAt !== 'number') problems.push('lastActiveAt is not a number');
  if (typeof record.snapshot !== 'object' || record.snapshot === null)
    problems.push('snapshot is not an object');
  if (!Array.isArray(record.timers)) problems.push('timers is not an array');
  if (problems.length) throw new TypeError(`malformed record: ${problems.join('; ')}`);
}
