/**
 * `target` with some members replaced (a supervisor whose `call` fails, a store without
 * `loadSync`): the rest are the target's own, methods bound to it. For fault injection at a seam
 * without a second implementation of everything else.
 *
 * @example
 * ```ts
 * const down = new SessionError('STORE_UNAVAILABLE', 'the store is down');
 * const sessions = withOverrides(t.sessions, { restore: () => Promise.reject(down) });
 * ```
 */
export function withOverrides<T extends object>(
  target: T,
  overrides: { [K in keyof T]?: T[K] | undefined },
): T {
  return new Proxy(target, {
    get(t, prop) {
      if (Object.hasOwn(overrides, prop)) return (overrides as Record<PropertyKey, unknown>)[prop];
      const value = Reflect.get(t, prop, t);
      return typeof value === 'function' ? value.bind(t) : value;
    },
  });
}
