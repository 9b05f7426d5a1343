/** `k3Jx…9Qa` for a long session ID; short ones stay whole. */
export function shortId(id: string): string {
  return id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-4)}` : id;
}

/** A state value as dotted leaf paths: `{ auth: 'anonymous', cart: { shopping: 'empty' } }` → `auth.anonymous · cart.shopping.empty`. */
export function formatStateValue(value: unknown): string {
  const out: string[] = [];
  const walk = (v: unknown, prefix: string) => {
    if (typeof v === 'string') out.push(prefix ? `${prefix}.${v}` : v);
    else if (v && typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>);
      if (entries.length === 0 && prefix) out.push(prefix);
      for (const [k, sub] of entries) walk(sub, prefix ? `${prefix}.${k}` : k);
    } else if (prefix) out.push(prefix);
  };
  walk(value, '');
  return out.join(' · ');
}

/** `14:03:07.412` */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** `just now`, `42 s ago`, `3 min ago`, `2 h ago`, `5 d ago`. */
export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 2) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** Shorthand for building DOM: `h('td', { class: 'id' }, 'text')`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | undefined> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}
