import type { ChartLayout, EdgePath, NodeBox } from './layout.js';
import { badgeOf, METRICS, titleOf } from './layout.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Fonts used to draw, and to measure before layout (they must agree). */
export const FONTS = {
  title: '600 13px "DejaVu Sans", system-ui, sans-serif',
  line: '11.5px "DejaVu Sans Mono", ui-monospace, monospace',
  label: '11.5px "DejaVu Sans Mono", ui-monospace, monospace',
} as const;

function el<K extends keyof SVGElementTagNameMap>(
  name: K,
  attrs: Record<string, string | number>,
  parent?: Element,
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  parent?.appendChild(node);
  return node;
}

/** An orthogonal polyline with its corners rounded. */
function roundedPath(points: { x: number; y: number }[], radius = 6): string {
  if (points.length === 0) return '';
  const [first] = points;
  let d = `M${first!.x},${first!.y}`;
  for (let i = 1; i < points.length - 1; i++) {
    const p0 = points[i - 1]!;
    const p1 = points[i]!;
    const p2 = points[i + 1]!;
    const r = Math.min(
      radius,
      Math.hypot(p1.x - p0.x, p1.y - p0.y) / 2,
      Math.hypot(p2.x - p1.x, p2.y - p1.y) / 2,
    );
    const a = towards(p1, p0, r);
    const b = towards(p1, p2, r);
    d += ` L${a.x},${a.y} Q${p1.x},${p1.y} ${b.x},${b.y}`;
  }
  const last = points[points.length - 1]!;
  return `${d} L${last.x},${last.y}`;
}

function towards(from: { x: number; y: number }, to: { x: number; y: number }, dist: number) {
  const len = Math.hypot(to.x - from.x, to.y - from.y) || 1;
  return { x: from.x + ((to.x - from.x) * dist) / len, y: from.y + ((to.y - from.y) * dist) / len };
}

/** The drawn chart: the SVG and a way to move the highlight without drawing again. */
export interface RenderedChart {
  svg: SVGSVGElement;
  /** Marks these state node ids (and the arrows leaving them) active; clears the others. */
  setActive(ids: ReadonlySet<string>): void;
}

/**
 * Draws a laid-out chart as SVG. Every state box is a `<g data-state="<state node id>">`; the
 * active ones also carry `data-active="true"` (set by `setActive`).
 */
export function renderChart(layout: ChartLayout): RenderedChart {
  const svg = el('svg', {
    width: layout.width,
    height: layout.height,
    viewBox: `0 0 ${layout.width} ${layout.height}`,
    class: 'chart',
    role: 'img',
    'aria-label': `statechart of ${layout.nodes.find((n) => n.depth === 0)?.id ?? 'the machine'}`,
  });
  const defs = el('defs', {}, svg);
  for (const [id, cls] of [
    ['arrow', 'arrowhead'],
    ['arrow-live', 'arrowhead live'],
  ] as const) {
    const marker = el(
      'marker',
      {
        id,
        viewBox: '0 0 10 10',
        refX: 9,
        refY: 5,
        markerWidth: 8,
        markerHeight: 8,
        orient: 'auto-start-reverse',
        markerUnits: 'userSpaceOnUse',
      },
      defs,
    );
    el('path', { d: 'M0,0 L10,5 L0,10 z', class: cls }, marker);
  }

  const boxes = el('g', { class: 'boxes' }, svg);
  const groups = new Map<string, SVGGElement>();
  const sorted = [...layout.nodes].sort((a, b) => a.depth - b.depth);
  for (const node of sorted) groups.set(node.id, drawNode(node, boxes));

  const edgeLayer = el('g', { class: 'edges' }, svg);
  const labelLayer = el('g', { class: 'labels' }, svg);
  const edgesBySource = new Map<string, SVGElement[]>();
  for (const edge of layout.edges) {
    const parts = drawEdge(edge, edgeLayer, labelLayer);
    const list = edgesBySource.get(edge.source) ?? [];
    list.push(...parts);
    edgesBySource.set(edge.source, list);
  }
  for (const mark of layout.initials) {
    el('circle', { cx: mark.x, cy: mark.y, r: mark.r, class: 'initial' }, edgeLayer);
  }

  return {
    svg,
    setActive(ids) {
      for (const [id, g] of groups) {
        if (ids.has(id)) g.setAttribute('data-active', 'true');
        else g.removeAttribute('data-active');
      }
      for (const [source, parts] of edgesBySource) {
        for (const p of parts) p.classList.toggle('live', ids.has(source));
      }
      for (const p of Array.from(edgeLayer.querySelectorAll('path.edge'))) {
        const live = p.classList.contains('live');
        p.setAttribute('marker-end', `url(#${live ? 'arrow-live' : 'arrow'})`);
      }
    },
  };
}

function drawNode(node: NodeBox, parent: Element): SVGGElement {
  const { def } = node;
  const kind = node.region ? 'region' : def.type;
  const g = el(
    'g',
    { 'data-state': def.id, 'data-type': def.type, class: `state ${kind} depth-${node.depth % 2}` },
    parent,
  );
  const title = el('title', {}, g);
  title.textContent = `#${def.id}`;
  const radius = def.type === 'atomic' || def.type === 'final' ? 8 : 10;
  el(
    'rect',
    { x: node.x, y: node.y, width: node.width, height: node.height, rx: radius, class: 'box' },
    g,
  );
  if (def.type === 'final') {
    el(
      'rect',
      {
        x: node.x + 3,
        y: node.y + 3,
        width: node.width - 6,
        height: node.height - 6,
        rx: radius - 2,
        class: 'box-inner',
      },
      g,
    );
  }
  const tx = node.x + METRICS.padX;
  const leaf = def.states.length === 0;
  // A leaf's text block is centred vertically; a container's title sits at its top.
  const block = METRICS.titleHeight + node.inner.length * METRICS.lineHeight;
  let ty = node.y + (leaf ? Math.max(17, (node.height - block) / 2 + 16) : 17);
  const text = el('text', { x: tx, y: ty, class: 'title' }, g);
  text.textContent = titleOf(def);
  const badgeText = badgeOf(def, node.depth, node.region);
  if (badgeText) {
    const badge = el('text', { x: node.x + node.width - METRICS.padX, y: ty, class: 'badge' }, g);
    badge.textContent = badgeText;
  }
  ty += 4;
  for (const line of node.inner) {
    ty += METRICS.lineHeight;
    const t = el('text', { x: tx, y: ty - 3, class: 'inner' }, g);
    t.textContent = line;
  }
  return g;
}

function drawEdge(edge: EdgePath, edgeLayer: Element, labelLayer: Element): SVGElement[] {
  const parts: SVGElement[] = [];
  const path = el(
    'path',
    {
      d: roundedPath(edge.points),
      class: edge.initial ? 'edge initial-edge' : 'edge',
      'marker-end': 'url(#arrow)',
      'data-source': edge.source,
      'data-target': edge.target,
    },
    edgeLayer,
  );
  parts.push(path);
  if (edge.label) {
    const { x, y, width, height, lines } = edge.label;
    const g = el('g', { class: 'edge-label' }, labelLayer);
    el('rect', { x: x - 1, y: y, width: width + 2, height, rx: 4, class: 'label-bg' }, g);
    lines.forEach((line, i) => {
      const t = el(
        'text',
        { x: x + 4, y: y + 2 + (i + 1) * METRICS.labelLineHeight - 4, class: 'label' },
        g,
      );
      const bracket = line.indexOf(' [');
      if (line.startsWith('[')) {
        const guard = el('tspan', { class: 'guard' }, t);
        guard.textContent = line;
      } else if (bracket > 0) {
        t.textContent = line.slice(0, bracket);
        const guard = el('tspan', { class: 'guard' }, t);
        guard.textContent = line.slice(bracket);
      } else t.textContent = line;
    });
    parts.push(g);
  }
  return parts;
}
