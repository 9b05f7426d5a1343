import type { ELK as ElkApi } from 'elkjs/lib/elk-api.js';
import type { MachineDef } from '../src/visualizer/protocol.js';
import { activeStateIds } from './activeStates.js';
import { type ChartLayout, layoutMachine } from './layout.js';
import { createMeasureText } from './measureText.js';
import { renderChart } from './renderChart.js';

let elk: ElkApi | undefined;
let elkClass: Promise<new () => ElkApi> | undefined;

/**
 * Loads ELK (its bundled build runs in the page itself: no worker, no download). Evaluating it
 * takes about two seconds of main thread, so it is deferred until the page is up: the list shows
 * at once, and the page calls this when idle so that the first chart does not wait for it.
 */
export function loadElk(): Promise<new () => ElkApi> {
  elkClass ??= import('elkjs/lib/elk.bundled.js').then((mod) => {
    // elk.bundled.js is CommonJS: the class is the namespace's default, or its default's.
    const m = mod as unknown as { default: { default?: unknown } };
    return (m.default.default ?? m.default) as new () => ElkApi;
  });
  return elkClass;
}

/** A drawn machine whose highlight follows the session's state value. */
export interface ChartView {
  readonly element: SVGSVGElement;
  readonly layout: ChartLayout;
  setValue(value: unknown): void;
  /**
   * Scales the drawing: `fit` shows the whole chart in `box` (never above 100 %: a small chart
   * is not blown up), `actual` draws it 1:1 (a big chart then scrolls inside its panel).
   */
  setZoom(zoom: 'fit' | 'actual', box: { width: number; height: number }): void;
  /** Ids of the active state nodes, as last set. */
  readonly active: ReadonlySet<string>;
}

async function layoutOnce(def: MachineDef, direction: 'RIGHT' | 'DOWN'): Promise<ChartLayout> {
  const ElkClass = await loadElk();
  elk ??= new ElkClass();
  const measure = createMeasureText();
  try {
    return await layoutMachine(def, elk, measure, { direction });
  } catch (err) {
    console.warn('visualizer: layout failed, retrying with plain options', err);
    elk = new ElkClass();
    return layoutMachine(def, elk, measure, { direction, plain: true });
  }
}

const fitScale = (l: ChartLayout, box: { width: number; height: number }) =>
  Math.min(1, box.width / l.width, box.height / l.height);

/**
 * The layout to show in `box`: the one that fits it at the larger scale (the page opens on
 * "fit", which shows the whole chart), left-to-right unless top-down is clearly larger (10 %):
 * it reads like text.
 */
function pickLayout(
  right: ChartLayout,
  down: ChartLayout,
  box: { width: number; height: number },
): ChartLayout {
  return fitScale(down, box) > fitScale(right, box) * 1.1 ? down : right;
}

/**
 * Lays out and draws a machine. With `direction: 'auto'` both directions are laid out and the one that fits `box`
 * at the larger scale is drawn (left-to-right wins ties: it reads like text).
 */
export async function drawMachine(
  def: MachineDef,
  direction: 'auto' | 'RIGHT' | 'DOWN',
  box: { width: number; height: number },
): Promise<ChartView> {
  let layout: ChartLayout;
  if (direction === 'auto') {
    const right = await layoutOnce(def, 'RIGHT');
    const down = await layoutOnce(def, 'DOWN');
    layout = pickLayout(right, down, box);
  } else layout = await layoutOnce(def, direction);

  const chart = renderChart(layout);
  let active: ReadonlySet<string> = new Set();
  return {
    element: chart.svg,
    layout,
    get active() {
      return active;
    },
    setValue(value) {
      active = activeStateIds(def.root, value);
      chart.setActive(active);
    },
    setZoom(zoom, area) {
      const scale = zoom === 'actual' ? 1 : fitScale(layout, area);
      chart.svg.setAttribute('width', String(Math.round(layout.width * scale)));
      chart.svg.setAttribute('height', String(Math.round(layout.height * scale)));
      chart.svg.dataset.scale = scale.toFixed(3);
    },
  };
}
