import type { MeasureText } from './layout.js';
import { FONTS } from './renderChart.js';

/** Measures text with a canvas in the chart's fonts (so boxes and labels fit what is drawn). */
export function createMeasureText(): MeasureText {
  const ctx = document.createElement('canvas').getContext('2d');
  const cache = new Map<string, number>();
  return (text, kind) => {
    const key = `${kind}\u0000${text}`;
    let w = cache.get(key);
    if (w === undefined) {
      if (ctx) {
        ctx.font = FONTS[kind];
        w = ctx.measureText(text).width;
      } else w = text.length * 7.5;
      cache.set(key, w);
    }
    return w;
  };
}
