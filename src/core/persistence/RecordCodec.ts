import { createHmac, timingSafeEqual } from 'node:crypto';
import { RecordTooLargeError } from '../errors.js';
import { parseRecord, SIGNED_PREFIX, type SessionRecord } from './record.js';

/** @internal The resolved options of a {@link RecordCodec}. */
export interface RecordCodecOptions {
  /** The largest record, in bytes of its stored text. */
  maxRecordBytes: number;
  /** HMAC keys: records are signed with the first and accepted with any; none, unsigned. */
  keys: readonly Uint8Array[];
}

/** Length of a base64url HMAC-SHA256 (32 bytes, no padding). */
const MAC_LENGTH = 43;

/**
 * @internal
 * Turns records into the text a store keeps and back, with the two checks a store shared with
 * other software needs (issue 22): a size bound, applied before anything is written and before
 * anything read is parsed, and an optional HMAC-SHA256 that proves a record was written by a
 * holder of the key. A signed record is `hmac-sha256:<mac>:<json>`, the MAC over the JSON text.
 */
export class RecordCodec {
  readonly #max: number;
  readonly #keys: readonly Uint8Array[];

  constructor(options: RecordCodecOptions) {
    this.#max = options.maxRecordBytes;
    this.#keys = options.keys;
  }

  /** The stored text of a record; throws RECORD_TOO_LARGE when it is over the bound. */
  encode(record: SessionRecord): string {
    const json = JSON.stringify(record);
    const data =
      this.#keys.length === 0 ? json : `${SIGNED_PREFIX}${mac(this.#keys[0]!, json)}:${json}`;
    const over = bytesOver(data, this.#max);
    if (over !== undefined) throw new RecordTooLargeError(record.id, over, this.#max);
    return data;
  }

  /**
   * The record in stored text, checked before it is parsed: its size (from the length alone),
   * then, with keys, its signature. Throws what is wrong (the caller wraps it in
   * SESSION_RESTORE_FAILED).
   */
  decode(data: string, id: string): SessionRecord {
    const over = bytesOver(data, this.#max);
    if (over !== undefined) throw new RecordTooLargeError(id, over, this.#max);
    if (this.#keys.length > 0) this.#verify(data);
    return parseRecord(data);
  }

  #verify(data: string): void {
    if (!data.startsWith(SIGNED_PREFIX) || data[SIGNED_PREFIX.length + MAC_LENGTH] !== ':')
      throw new Error(
        'the record is not signed, and recordKey is set: it was not written by this application ' +
          '(or before its recordKey was set)',
      );
    const given = Buffer.from(data.slice(SIGNED_PREFIX.length, SIGNED_PREFIX.length + MAC_LENGTH));
    const json = data.slice(SIGNED_PREFIX.length + MAC_LENGTH + 1);
    for (const key of this.#keys) {
      const expected = Buffer.from(mac(key, json));
      if (expected.length === given.length && timingSafeEqual(expected, given)) return;
    }
    throw new Error(
      'the record signature matches no recordKey: it was changed in the store, or signed with a ' +
        'key no longer given',
    );
  }
}

function mac(key: Uint8Array, json: string): string {
  return createHmac('sha256', key).update(json).digest('base64url');
}

/**
 * The UTF-8 size of `text` when it is over `max` bytes, else `undefined`. Decided from the
 * length alone when it can be (a UTF-16 unit is 1 to 3 UTF-8 bytes), so the usual record is not
 * scanned; else counted (a scan, far cheaper than the parse it saves).
 */
function bytesOver(text: string, max: number): number | undefined {
  if (text.length * 3 <= max) return undefined;
  const bytes = Buffer.byteLength(text, 'utf8');
  return bytes > max ? bytes : undefined;
}

/** @internal `recordKey` as keys, checked. */
export function recordKeys(
  key: string | Uint8Array | ReadonlyArray<string | Uint8Array> | undefined,
): Uint8Array[] {
  if (key === undefined) return [];
  const list = typeof key === 'string' || key instanceof Uint8Array ? [key] : [...key];
  if (list.length === 0) throw new TypeError('recordKey must hold at least one key');
  return list.map((k, i) => {
    const bytes = typeof k === 'string' ? Buffer.from(k, 'utf8') : k;
    if (!(bytes instanceof Uint8Array) || bytes.length === 0)
      throw new TypeError(`recordKey[${i}] must be a non-empty string or Uint8Array`);
    return bytes;
  });
}
