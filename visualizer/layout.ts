import type { ELK, ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';
import type { MachineDef, StateNodeDef, TransitionDef } from '../src/visualizer/protocol.js';

/** Measures a line of text in the font the chart uses; returns its width in pixels. */
export type MeasureText = (text: string, kind: 'title' | 'line' | 'label') => number;

/** A laid-out state node; coordinates are absolute, in pixels. */
export interface NodeBox {
  id: string;
  def: StateNodeDef;
  x: number;
  y: number;
  width: number;
  height: number;
  /** Nesting depth (root 0). */
  depth: number;
  /** A region of a parallel state (drawn with a dashed border). */
  region: boolean;
  /** Transitions that stay in this state (no target, or itself): listed inside the box. */
  inner: string[];
}

/** The small filled circle pointing at a compound state's initial child. */
export interface InitialMark {
  parentId: string;
  x: number;
  y: number;
  r: number;
}

/** A laid-out transition arrow, one per (source, target) pair; labels merged. */
export interface EdgePath {
  id: string;
  source: string;
  target: string;
  initial: boolean;
  points: { x: number; y: number }[];
  label?: { x: number; y: number; width: number; height: number; lines: string[] };
}

export interface ChartLayout {
  direction: 'RIGHT' | 'DOWN';
  width: number;
  height: number;
  nodes: NodeBox[];
  initials: InitialMark[];
  edges: EdgePath[];
}

/** Text metrics shared by layout and rendering. */
export const METRICS = {
  titleHeight: 22,
  lineHeight: 16,
  labelLineHeight: 15,
  padX: 12,
  padBottom: 12,
  leafMinWidth: 96,
  leafMinHeight: 40,
  initialR: 5,
} as const;

/** `event [guard]`, the text of one transition. */
export function transitionText(t: TransitionDef): string {
  return t.guard ? `${t.label} [${t.guard}]` : t.label;
}

/** Title line of a state box: its key, with the type when it is not evident from the shape. */
export function titleOf(def: StateNodeDef): string {
  if (def.type === 'history') return `${def.key} (H${def.history === 'deep' ? '*' : ''})`;
  return def.key;
}

/** The small grey note at the right of a title line: what the box is, when its shape does not say. */
export function badgeOf(def: StateNodeDef, depth: number, region: boolean): string | undefined {
  if (depth === 0) return def.type === 'parallel' ? 'machine · parallel' : 'machine';
  if (def.type === 'parallel') return 'parallel';
  return region ? 'region' : undefined;
}

/** Lines listed inside a state box: invoked actors, then transitions that stay inside. */
function innerLines(def: StateNodeDef): string[] {
  const lines = def.invokes.map((i) => `invoke ${i.src}`);
  for (const t of def.transitions) {
    if (t.targets.length === 0) lines.push(`${transitionText(t)}`);
    else if (t.targets.length === 1 && t.targets[0] === def.id)
      lines.push(`↻ ${transitionText(t)}`);
  }
  return lines;
}

const escapeId = (id: string) => `n:${id}`;

/**
 * Lays a machine definition out with ELK (layered, hierarchy included so arrows may cross box
 * borders): compound and parallel states become nested boxes, regions of a parallel state are
 * boxes of their own, and each (source, target) pair gets one arrow whose label lists its events.
 */
export async function layoutMachine(
  def: MachineDef,
  elk: ELK,
  measure: MeasureText,
  options: {
    /** Main direction of the arrows. @default 'RIGHT' */
    direction?: 'RIGHT' | 'DOWN';
    /** Leaves ELK's defaults for cycle breaking (a retry after a layout failure). */
    plain?: boolean;
  } = {},
): Promise<ChartLayout> {
  const { direction = 'RIGHT', plain = false } = options;
  const byId = new Map<string, StateNodeDef>();
  const depthOf = new Map<string, number>();
  const parentOf = new Map<string, StateNodeDef>();
  const innerOf = new Map<string, string[]>();
  const edges: ElkExtendedEdge[] = [];
  const edgeMeta = new Map<
    string,
    { source: string; target: string; initial: boolean; lines: string[] }
  >();

  const common = {
    'org.eclipse.elk.json.edgeCoords': 'ROOT',
    'org.eclipse.elk.json.shapeCoords': 'ROOT',
  };
  // Depth-first cycle breaking follows the states in the order they are written (initial state
  // first), so arrows against that order are the ones drawn backwards. (ELK 0.12's model-order
  // strategies throw on compound graphs with INCLUDE_CHILDREN.)
  const ordered: Record<string, string> = plain
    ? {}
    : { 'elk.layered.cycleBreaking.strategy': 'DEPTH_FIRST' };

  const toElk = (node: StateNodeDef, depth: number, region = false): ElkNode => {
    byId.set(node.id, node);
    depthOf.set(node.id, depth);
    const inner = innerLines(node);
    innerOf.set(node.id, inner);
    const title = titleOf(node);
    const badge = badgeOf(node, depth, region);
    const textWidth = Math.max(
      measure(title, 'title') + (badge ? measure(badge, 'line') + 16 : 0),
      ...inner.map((l) => measure(l, 'line')),
    );
    const headerHeight = METRICS.titleHeight + inner.length * METRICS.lineHeight + 6;
    const elkNode: ElkNode = { id: escapeId(node.id), layoutOptions: { ...common } };
    // Regions side by side start at the same edge instead of being centred on one another.
    const align: Record<string, string> = region
      ? { 'elk.alignment': direction === 'DOWN' ? 'TOP' : 'LEFT' }
      : {};
    if (node.states.length === 0) {
      elkNode.width = Math.max(METRICS.leafMinWidth, Math.ceil(textWidth) + 2 * METRICS.padX);
      elkNode.height = Math.max(METRICS.leafMinHeight, headerHeight + 8);
      return elkNode;
    }
    const children = node.states.map((s) => {
      parentOf.set(s.id, node);
      return toElk(s, depth + 1, node.type === 'parallel');
    });
    if (node.initial?.length) {
      const markId = `i:${node.id}`;
      children.unshift({
        id: markId,
        width: METRICS.initialR * 2,
        height: METRICS.initialR * 2,
        layoutOptions: { ...common },
      });
      for (const target of node.initial) {
        const id = `e:init:${node.id}:${target}`;
        edges.push({ id, sources: [markId], targets: [escapeId(target)] });
        edgeMeta.set(id, { source: node.id, target, initial: true, lines: [] });
      }
    }
    elkNode.children = children;
    elkNode.layoutOptions = {
      ...common,
      ...ordered,
      ...align,
      'elk.padding': `[top=${headerHeight + 8},left=${METRICS.padX + 4},bottom=${METRICS.padBottom + 4},right=${METRICS.padX + 4}]`,
      'elk.nodeSize.constraints': 'MINIMUM_SIZE',
      'elk.nodeSize.minimum': `(${Math.ceil(textWidth) + 2 * METRICS.padX}, ${headerHeight + 20})`,
    };
    return elkNode;
  };

  const rootNode = toElk(def.root, 0);

  // One arrow per (source, target) pair, its label one line per transition.
  const pairs = new Map<string, { source: string; target: string; lines: string[] }>();
  for (const node of byId.values()) {
    for (const t of node.transitions) {
      for (const target of t.targets) {
        if (target === node.id || !byId.has(target)) continue;
        const key = `${node.id}\u0000${target}`;
        let pair = pairs.get(key);
        if (!pair) pairs.set(key, (pair = { source: node.id, target, lines: [] }));
        // A long `event [guard]` gets the guard on a line of its own: labels stay narrow, and
        // in a left-to-right layout every label's width widens the whole chart.
        if (t.guard && t.label.length + t.guard.length > 26)
          pair.lines.push(t.label, `[${t.guard}]`);
        else pair.lines.push(transitionText(t));
      }
    }
  }
  let n = 0;
  for (const pair of pairs.values()) {
    const id = `e:${n++}`;
    const width = Math.ceil(Math.max(...pair.lines.map((l) => measure(l, 'label')))) + 8;
    const height = pair.lines.length * METRICS.labelLineHeight + 4;
    edges.push({
      id,
      sources: [escapeId(pair.source)],
      targets: [escapeId(pair.target)],
      labels: [{ id: `${id}:label`, text: pair.lines.join('\n'), width, height }],
    });
    edgeMeta.set(id, { ...pair, initial: false });
  }

  const graph: ElkNode = {
    id: 'graph',
    layoutOptions: {
      ...common,
      ...ordered,
      'elk.algorithm': 'layered',
      'elk.direction': direction,
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.layered.spacing.nodeNodeBetweenLayers': '36',
      'elk.layered.spacing.edgeNodeBetweenLayers': '16',
      'elk.layered.spacing.edgeEdgeBetweenLayers': '12',
      'elk.spacing.nodeNode': '28',
      'elk.spacing.edgeNode': '16',
      'elk.spacing.edgeEdge': '12',
      'elk.spacing.edgeLabel': '4',
      'elk.edgeLabels.placement': 'CENTER',
      'elk.layered.edgeLabels.sideSelection': 'SMART_DOWN',
      'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
      'elk.padding': '[top=8,left=8,bottom=8,right=8]',
    },
    children: [rootNode],
    edges,
  };

  const out = await elk.layout(graph);

  const nodes: NodeBox[] = [];
  const initials: InitialMark[] = [];
  const walk = (e: ElkNode) => {
    if (e.id.startsWith('i:')) {
      initials.push({
        parentId: e.id.slice(2),
        x: (e.x ?? 0) + METRICS.initialR,
        y: (e.y ?? 0) + METRICS.initialR,
        r: METRICS.initialR,
      });
    } else if (e.id.startsWith('n:')) {
      const id = e.id.slice(2);
      const d = byId.get(id)!;
      nodes.push({
        id,
        def: d,
        x: e.x ?? 0,
        y: e.y ?? 0,
        width: e.width ?? 0,
        height: e.height ?? 0,
        depth: depthOf.get(id) ?? 0,
        region: parentOf.get(id)?.type === 'parallel',
        inner: innerOf.get(id) ?? [],
      });
    }
    for (const c of e.children ?? []) walk(c);
  };
  for (const c of out.children ?? []) walk(c);

  const paths: EdgePath[] = [];
  const collectEdges = (e: ElkNode) => {
    for (const edge of e.edges ?? []) {
      const meta = edgeMeta.get(edge.id);
      if (!meta) continue;
      const points: { x: number; y: number }[] = [];
      for (const s of edge.sections ?? []) {
        if (points.length === 0) points.push(s.startPoint);
        points.push(...(s.bendPoints ?? []), s.endPoint);
      }
      const path: EdgePath = {
        id: edge.id,
        source: meta.source,
        target: meta.target,
        initial: meta.initial,
        points,
      };
      const label = edge.labels?.[0];
      if (label && meta.lines.length) {
        path.label = {
          x: label.x ?? 0,
          y: label.y ?? 0,
          width: label.width ?? 0,
          height: label.height ?? 0,
          lines: meta.lines,
        };
      }
      paths.push(path);
    }
    for (const c of e.children ?? []) collectEdges(c);
  };
  collectEdges(out);

  return {
    direction,
    width: Math.ceil(out.width ?? 0),
    height: Math.ceil(out.height ?? 0),
    nodes,
    initials,
    edges: paths,
  };
}
