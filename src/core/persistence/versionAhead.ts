import { SessionVersionAheadError } from '../errors.js';
import { compareVersions } from '../versions/compareVersions.js';
import type { VersionChain } from '../versions/VersionChain.js';
import type { SessionRecord } from './record.js';

/**
 * @internal
 * SESSION_VERSION_AHEAD when the record was written by a newer version than this process holds.
 */
export function versionAhead(
  id: string,
  record: SessionRecord,
  versionsOf: (logic: string) => VersionChain | undefined,
  logicVersion: (logic: string) => string | undefined,
): SessionVersionAheadError | undefined {
  if (typeof record?.logic !== 'string') return undefined;
  const versions = versionsOf(record.logic);
  if (versions) {
    const place = versions.place(record.logicVersion);
    return place.kind === 'ahead'
      ? new SessionVersionAheadError(id, place.version, versions.list)
      : undefined;
  }
  const theirs = record.logicVersion;
  const mine = logicVersion(record.logic);
  if (typeof theirs !== 'string' || theirs === mine) return undefined;
  // A plain machine: the record's version against the machine's, by number or semver; a
  // machine without a version (or one that cannot be ordered) cannot vouch for the record.
  const order = mine === undefined ? undefined : compareVersions(theirs, mine);
  return order === undefined || order > 0
    ? new SessionVersionAheadError(id, theirs, mine === undefined ? [] : [mine])
    : undefined;
}
