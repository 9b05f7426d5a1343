/** What a `sanitize` hook is told about the value it is given. */
export interface SanitizeInfo {
  /** `context`: a snapshot's context; `event`: an event of the log; `value`: a state value. */
  kind: 'context' | 'event' | 'value';
  sessionId: string;
}

/**
 * Rewrites what the visualizer is about to send (contexts, events, state values); return a copy,
 * never mutate the argument (it is the session's own object).
 */
export type Sanitize = (value: unknown, info: SanitizeInfo) => unknown;

/** Keys whose values `maskSecrets` hides by default. */
export const SECRET_KEY_PATTERN = /pass|secret|token|card|cvc/i;

/** What a masked value becomes. */
export const MASK = '••••••';

/**
 * A copy of `value` in which every property whose key matches `pattern` is replaced by
 * `'••••••'`, at any depth. The visualizer's default `sanitize`.
 *
 * @example
 * ```ts
 * maskSecrets({ user: 'ada', card: '4242424242424242' }); // { user: 'ada', card: '••••••' }
 * visualizer(sessions, { sanitize: (v) => maskSecrets(v, /pass|secret|token|card|cvc|email/i) });
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
      if (isActorRef(v) || v instanceof Date || v instanceof Map || v instanceof Set) return v;
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = pattern.test(k) ? MASK : walk(x);
      return out;
    } finally {
      seen.delete(v);
    }
  };
  return walk(value);
}

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
