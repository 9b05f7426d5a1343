import { stableStringify } from './format.js';
import type { ModelState } from './types.js';

/**
 * How `stateKey` keys one context field: `true` for its exact value, or split points that
 * divide its numbers into classes (`[1, 2]`: below 1, 1, 2 and more).
 */
export type FieldClasses = true | readonly number[];

/**
 * Builds a `serializeState` from classes of context fields, so that a context that grows
 * without bound (a list only appended to, a counter) gives a finite graph while every guard
 * boundary stays in the key. Each field is a dotted path into the context (`'items.length'`,
 * `'user.age'`, `'step'`), keyed on its exact value (`true`) or on the class its number falls
 * in between split points: `[1, 2]` keys a list's length as 0 / 1 / many; add the values the
 * guards compare against (`items.length >= 3` wants `3` among them), so that both sides of the
 * boundary are states of their own. The traversal reaches each class first at its smallest
 * value (breadth first), the value right at the boundary, where an off-by-one guard fails.
 * Fields not named are left out of the key (compare them with `compareContext`).
 *
 * A key that still hides a boundary is refused when the paths are planned: the traversal tries
 * the states the key merged with the same events, and names the two contexts and the event
 * whose guards decide differently.
 *
 * @example
 * ```ts
 * createSessionTestModel(basketMachine, {
 *   events: [{ type: 'basket.add', sku: 'A1' }, { type: 'checkout' }],
 *   // `isBulk` reads items.length >= 3: classes 0, 1, 2, 3 and more.
 *   serializeState: stateKey({ 'items.length': [1, 2, 3], coupon: true }),
 *   compareContext: (context) => context.items,
 * });
 * ```
 */
export function stateKey(
  fields: Readonly<Record<string, FieldClasses>>,
): (state: ModelState) => string {
  const entries = Object.entries(fields).map(([path, classes]) => ({
    path,
    keys: path.split('.'),
    splits: classes === true ? undefined : [...classes].sort((a, b) => a - b),
  }));
  return ({ value, context }) => {
    const key: Record<string, unknown> = {};
    for (const { path, keys, splits } of entries) {
      let v: unknown = context;
      for (const k of keys) v = v === null || v === undefined ? undefined : (v as any)[k];
      key[path] = splits && typeof v === 'number' ? classOf(v, splits) : (v ?? null);
    }
    return stableStringify({ value, context: key });
  };
}

/** The class of `v` between sorted split points: `<1`, `1`, `2..<5`, `>=5`. */
function classOf(v: number, splits: readonly number[]): string {
  let i = 0;
  while (i < splits.length && (splits[i] as number) <= v) i++;
  if (i === 0) return `<${splits[0]}`;
  const lo = splits[i - 1] as number;
  if (i === splits.length) return `>=${lo}`;
  const hi = splits[i] as number;
  return Number.isInteger(lo) && hi === lo + 1 ? String(lo) : `${lo}..<${hi}`;
}
