import { h } from './format.js';

const MASKED = '••••••';

/**
 * The context as a collapsible tree: objects and arrays are `<details>` (open down to `openDepth`,
 * and kept open or closed across updates by path), leaves are coloured by type.
 */
export function renderTree(value: unknown, openPaths: Set<string>, openDepth = 2): HTMLElement {
  const root = h('div', { class: 'tree' });
  root.append(node('context', value, 'context', 0));
  return root;

  function node(key: string, v: unknown, path: string, depth: number): HTMLElement {
    if (v !== null && typeof v === 'object') {
      const entries = Array.isArray(v)
        ? v.map((x, i) => [String(i), x] as const)
        : Object.entries(v);
      const details = h('details', { 'data-path': path });
      const isOpen = openPaths.has(path) || (depth < openDepth && !openPaths.has(`!${path}`));
      if (isOpen) details.open = true;
      details.addEventListener('toggle', () => {
        openPaths.delete(details.open ? `!${path}` : path);
        openPaths.add(details.open ? path : `!${path}`);
      });
      const hint = Array.isArray(v) ? `[${entries.length}]` : `{${entries.length}}`;
      details.append(
        h('summary', {}, h('span', { class: 'key' }, key), ' ', h('span', { class: 'hint' }, hint)),
      );
      for (const [k, x] of entries) details.append(node(k, x, `${path}.${k}`, depth + 1));
      return details;
    }
    return h('div', { class: 'leaf' }, h('span', { class: 'key' }, key), ': ', leaf(v));
  }

  function leaf(v: unknown): HTMLElement {
    if (v === MASKED) return h('span', { class: 'masked', title: 'masked by sanitize' }, v);
    if (typeof v === 'string') return h('span', { class: 'str' }, JSON.stringify(v));
    if (typeof v === 'number') return h('span', { class: 'num' }, String(v));
    return h('span', { class: 'lit' }, v === undefined ? 'undefined' : JSON.stringify(v));
  }
}
