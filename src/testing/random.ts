/**
 * A small, fast pseudo-random generator (mulberry32) with a 32-bit seed: the same seed gives the
 * same numbers in [0, 1) on every platform. The model and the session under test draw from it
 * instead of `Math.random` when a run has a `seed`, so a machine that uses randomness takes the
 * same path in both.
 *
 * @example
 * ```ts
 * const random = createSeededRandom(42);
 * random(); // 0.6011037519201636, every time
 * ```
 */
export function createSeededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit hash of a seed and a text (FNV-1a), the seed of one step. @internal */
export function stepSeed(seed: number, text: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * Runs `fn` with `Math.random` drawing from `createSeededRandom(seed)` (restored afterwards);
 * with no seed, runs it as it is. @internal
 */
export function withSeed<T>(seed: number | undefined, fn: () => T): T {
  if (seed === undefined) return fn();
  const original = Math.random;
  Math.random = createSeededRandom(seed);
  try {
    return fn();
  } finally {
    Math.random = original;
  }
}
