/**
 * @internal
 * Orders two version strings: integers (`'3'`) by number, semantic versions (`'1.4.0'`,
 * `'2.0.0-beta.1'`, an optional leading `v`) by semver precedence, an integer against a semver as
 * `N.0.0`. Returns a negative number, zero or a positive number, or `undefined` when either
 * cannot be ordered (`'blue'`, `'2024-01-02'`): such a pair is never guessed at.
 */
export function compareVersions(a: string, b: string): number | undefined {
  if (a === b) return 0;
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) return undefined;
  for (let i = 0; i < 3; i++) if (x.core[i] !== y.core[i]) return x.core[i]! - y.core[i]!;
  // A pre-release precedes its release; two pre-releases compare field by field.
  if (!x.pre.length || !y.pre.length) return y.pre.length - x.pre.length;
  for (let i = 0; i < Math.min(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i]!;
    const q = y.pre[i]!;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Number(p) - Number(q);
    if (pn !== qn) return pn ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return x.pre.length - y.pre.length;
}

const SEMVER = /^v?(\d+)(?:\.(\d+)(?:\.(\d+))?)?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

function parse(v: string): { core: number[]; pre: string[] } | undefined {
  const m = SEMVER.exec(v);
  if (!m) return undefined;
  return {
    core: [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)],
    pre: m[4] ? m[4].split('.') : [],
  };
}
