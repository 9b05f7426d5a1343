/**
 * Carts shown to visitors who have no running cart session (the lazy middleware started none).
 * Its own module, without imports, because the pages' browser bundle reaches it through views.ts.
 */
const sessionless = new WeakSet<object>();

/** Marks `cart` as the empty cart of a visitor without a session. */
export function markSessionless(cart: object): void {
  sessionless.add(cart);
}

/**
 * Whether `cart` belongs to a running cart session (false for the empty cart of a visitor who has
 * none): pages load their live script only then, as a live view needs a session to follow.
 */
export function hasSession(cart: object): boolean {
  return !sessionless.has(cart);
}
