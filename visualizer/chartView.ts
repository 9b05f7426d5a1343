import ELK from 'elkjs/lib/elk.bundled.js';
import type { ELK as ElkApi } from 'elkjs/lib/elk-api.js';
import type { MachineDef } from '../src/visualizer/protocol.js';
import { activeStateIds } from './activeStates.js';
import { layoutMachine } from './layout.js';
import { createMeasureText } from './measureText.js';
import { type RenderedChart, renderChart } from './renderChart.js';

let elk: ElkApi | undefined;
const measure = () => createMeasureText();

/** A drawn machine whose highlight follows the session's state value. */
export interface ChartView {
  readonly element: SVGSVGElement;
  setValue(value: unknown): void;
  /** Ids of the active state nodes, as last set. */
  readonly active: ReadonlySet<string>;
}

/**
 * Lays out and draws a machine (ELK's bundled build runs in the page itself: no worker, no
 * download). Layout is retried once with ELK's default cycle breaking if the first try throws.
 */
export async function drawMachine(def: MachineDef): Promise<ChartView> {
  // elk.bundled.js is CommonJS; esbuild hands over either the class or its namespace.
  const ElkClass = ((ELK as unknown as { default?: unknown }).default ?? ELK) as new () => ElkApi;
  elk ??= new ElkClass();
  const m = measure();
  let layout: Awaited<ReturnType<typeof layoutMachine>>;
  try {
    layout = await layoutMachine(def, elk, m);
  } catch (err) {
    console.warn('visualizer: layout failed, retrying with plain options', err);
    elk = new ElkClass();
    layout = await layoutMachine(def, elk, m, true);
  }
  const chart: RenderedChart = renderChart(layout);
  let active: ReadonlySet<string> = new Set();
  return {
    element: chart.svg,
    get active() {
      return active;
    },
    setValue(value) {
      active = activeStateIds(def.root, value);
      chart.setActive(active);
    },
  };
}
