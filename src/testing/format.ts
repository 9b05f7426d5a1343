import type { EventObject } from 'xstate';

/**
 * JSON with object keys sorted, so two equal states serialize alike whatever the key order
 * (a state read back over HTTP, say). `undefined` members are dropped, as JSON does.
 * @internal
 */
export function stableStringify(value: unknown): string {
  return write(value) ?? 'undefined';
}

/**
 * JSON written directly, keys sorted, without building a sorted copy first: it runs for every
 * state the traversal meets and every state a path checks (hundreds of thousands in a large
 * run). `undefined` when JSON would leave the value out. Objects with a `toJSON` (dates, actor
 * references) and other non-plain objects are written as `JSON.stringify` writes them.
 */
function write(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += write(value[i]) ?? 'null';
    }
    return `${out}]`;
  }
  const proto = Object.getPrototypeOf(value);
  if (
    (proto !== Object.prototype && proto !== null) ||
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  )
    return JSON.stringify(value);
  const record = value as Record<string, unknown>;
  let out = '{';
  let first = true;
  for (const key of Object.keys(record).sort()) {
    const member = write(record[key]);
    if (member === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(key)}:${member}`;
    first = false;
  }
  return `${out}}`;
}

/**
 * Whether `a` and `b` write the same JSON with sorted keys (`stableStringify(a) ===
 * stableStringify(b)`), found without writing it.
 * @internal
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!isPlainJson(a) || !isPlainJson(b)) return stableStringify(a) === stableStringify(b);
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) {
      if (!jsonEqual(a[i] ?? null, b[i] ?? null)) return false;
    }
    return true;
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  let count = 0;
  for (const key of Object.keys(left)) {
    const value = left[key];
    if (value === undefined || typeof value === 'function') continue;
    count++;
    if (!jsonEqual(value, right[key])) return false;
  }
  for (const key of Object.keys(right)) {
    const value = right[key];
    if (value !== undefined && typeof value !== 'function') count--;
  }
  return count === 0;
}

/** An array or an object without a prototype of its own or `toJSON` (compared member by member). */
function isPlainJson(value: unknown): value is object {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value);
  return (
    (proto === Object.prototype || proto === null) &&
    typeof (value as { toJSON?: unknown }).toJSON !== 'function'
  );
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
