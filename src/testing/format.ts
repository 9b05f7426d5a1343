import type { EventObject } from 'xstate';

/**
 * JSON with object keys sorted, so two equal states serialize alike whatever the key order
 * (a state read back over HTTP, say). `undefined` members are dropped, as JSON does.
 * @internal
 */
export function stableStringify(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? 'undefined';
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort())
      out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/**
 * A state value as dotted paths, parallel regions joined with ` | `:
 * `{ auth: 'loggedIn', cart: { checkout: 'review' } }` → `auth.loggedIn | cart.checkout.review`.
 * A machine without child states (value `{}`) reads `(root)`.
 * @internal
 */
export function formatValue(value: unknown): string {
  const parts = flattenValue(value);
  return parts.length === 0 ? '(root)' : parts.join(' | ');
}

function flattenValue(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value === null || typeof value !== 'object') return [String(value)];
  const out: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const below = flattenValue(child);
    if (below.length === 0) out.push(key);
    else for (const part of below) out.push(`${key}.${part}`);
  }
  return out;
}

/**
 * An event as `type {payload}`: `cart.add {"sku":"A1","qty":2}`; `checkout.start` alone when it
 * carries nothing else.
 * @internal
 */
export function formatEvent(event: EventObject): string {
  const { type, ...payload } = event as EventObject & Record<string, unknown>;
  return Object.keys(payload).length === 0 ? type : `${type} ${stableStringify(payload)}`;
}

/** `events` as one line: `a › b {"x":1} › c`, or `(no events)`. @internal */
export function formatEvents(events: readonly EventObject[]): string {
  return events.length === 0 ? '(no events)' : events.map(formatEvent).join(' › ');
}
