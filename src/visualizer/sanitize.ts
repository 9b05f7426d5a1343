/** What a `sanitize` hook is told about the value it is given. */
export interface SanitizeInfo {
  /**
   * `context`: a snapshot's context; `event`: an event of the log. State values never pass
   * through `sanitize`: they are the machine's own state names, and the page needs them as they
   * are to mark the active states.
   */
  kind: 'context' | 'event';
  sessionId: string;
}

/**
 * Rewrites what the visualizer is about to send (contexts and events, never state values);
 * return a copy, never mutate the argument (it is the session's own object).
 */
export type Sanitize = (value: unknown, info: SanitizeInfo) => unknown;

/**
 * Keys whose values `maskSecrets` hides by default, matched against the key as written and
 * against its words in snake_case (`apiKey`, `API-KEY` and `api_key` are all `api_key`), so that
 * short words (`pin`, `otp`, `ssn`, `pan`, `card`) match only as whole words: `pinCode` and
 * `card_no` are masked, `shipping` and `discarded` are not.
 */
export const SECRET_KEY_PATTERN =
  /(?:^|_)(?:pass|pwd|pin|otp|ssn|pan|card|cards|cvv2?|cvc2?|cookies?|jwt|bearer)(?:_|$)|pass_?(?:word|wd|phrase|code)|password|passwd|secret|token|api_?key|private_?key|access_?key|authori[sz]ation|cookie|cvv|cvc|credential|credit_?card|card_?(?:no|num|number)|security_?code|signature/i;

/** What a masked value becomes. */
export const MASK = '••••••';

/**
 * A key's words in lowercase snake_case: `privateKey` → `private_key`, `X-API-Key` → `x_api_key`,
 * `cardNumber2` → `card_number2`.
 */
function snakeWords(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toLowerCase();
}

/**
 * Whether a key names a secret for `pattern`: tested on the key as written and on its
 * snake_case words.
 *
 * @example
 * ```ts
 * isSecretKey('apiKey'); // true
 * isSecretKey('shipping'); // false
 * ```
 */
export function isSecretKey(key: string, pattern: RegExp = SECRET_KEY_PATTERN): boolean {
  // A global or sticky pattern keeps `lastIndex` between calls: reset it so every key is judged alone.
  pattern.lastIndex = 0;
  if (pattern.test(key)) return true;
  pattern.lastIndex = 0;
  return pattern.test(snakeWords(key));
}

/**
 * A copy of `value` in which every property whose key names a secret ({@link isSecretKey}) is
 * replaced by `'••••••'`, at any depth: in nested objects, arrays, Map values (string keys are
 * judged like property names) and Set members. The visualizer's default `sanitize` (contexts and
 * events; state values never pass through `sanitize`).
 *
 * @example
 * ```ts
 * maskSecrets({ user: 'ada', card: '4242424242424242' }); // { user: 'ada', card: '••••••' }
 * maskSecrets({ headers: new Map([['Authorization', 'Bearer x']]) }); // Map { Authorization → '••••••' }
 * // more keys: a pattern of your own, tested the same way (`SECRET_KEY_PATTERN` is the default)
 * const withEmail = new RegExp(`${SECRET_KEY_PATTERN.source}|email`, 'i');
 * visualizer(sessions, { sanitize: (v) => maskSecrets(v, withEmail) });
 * ```
 */
export function maskSecrets(value: unknown, pattern: RegExp = SECRET_KEY_PATTERN): unknown {
  const seen = new WeakSet<object>();
  const walk = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (seen.has(v)) return '[circular]';
    seen.add(v);
    try {
      if (Array.isArray(v)) return v.map(walk);
      if (isActorRef(v) || v instanceof Date) return v;
      if (v instanceof Map) {
        const out = new Map<unknown, unknown>();
        for (const [k, x] of v) {
          out.set(k, typeof k === 'string' && isSecretKey(k, pattern) ? MASK : walk(x));
        }
        return out;
      }
      if (v instanceof Set) return new Set([...v].map(walk));
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = isSecretKey(k, pattern) ? MASK : walk(x);
      return out;
    } finally {
      seen.delete(v);
    }
  };
  return walk(value);
}

/**
 * The visualizer's default `sanitize`: {@link maskSecrets} on contexts and events (the only
 * values `sanitize` is given).
 *
 * @example
 * ```ts
 * visualizer(sessions, { sanitize: (v, info) => defaultSanitize(dropEmails(v), info) });
 * ```
 */
export const defaultSanitize: Sanitize = (value) => maskSecrets(value);

/** @internal An XState actor ref (a spawned child kept in context, say). */
export function isActorRef(v: object): v is { id: string } {
  const r = v as { send?: unknown; getSnapshot?: unknown; id?: unknown };
  return typeof r.send === 'function' && typeof r.getSnapshot === 'function';
}

/**
 * @internal
 * A JSON-safe copy of a (sanitized) value: actor refs become `{ $actor: id }`, functions
 * `'[function]'`, bigints strings, Maps and Sets arrays; deeper than `maxDepth` becomes `'…'`.
 */
export function toJsonSafe(value: unknown, maxDepth = 12): unknown {
  const seen = new WeakSet<object>();
  const walk = (v: unknown, depth: number): unknown => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v;
      case 'number':
        return Number.isFinite(v) ? v : String(v);
      case 'bigint':
        return `${v}n`;
      case 'undefined':
        return undefined;
      case 'function':
        return '[function]';
      case 'symbol':
        return String(v);
    }
    if (v === null) return null;
    const o = v as object;
    if (depth >= maxDepth) return '…';
    if (seen.has(o)) return '[circular]';
    if (isActorRef(o)) return { $actor: String(o.id) };
    if (o instanceof Date) return o.toISOString();
    if (o instanceof Error) return { name: o.name, message: o.message };
    seen.add(o);
    try {
      if (Array.isArray(o)) return o.map((x) => walk(x, depth + 1) ?? null);
      if (o instanceof Map) return [...o].map(([k, x]) => [walk(k, depth + 1), walk(x, depth + 1)]);
      if (o instanceof Set) return [...o].map((x) => walk(x, depth + 1));
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(o)) {
        const w = walk(x, depth + 1);
        if (w !== undefined) out[k] = w;
      }
      return out;
    } finally {
      seen.delete(o);
    }
  };
  return walk(value, 0);
}
