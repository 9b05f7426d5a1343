/**
 * A dependency-free SVG line chart: stacked panels sharing one time axis, a few series each.
 * Used by bench/soak.ts to draw memory and latency over time next to its printed table.
 *
 * @example
 * ```ts
 * writeFileSync('soak.svg', plotSvg({
 *   title: 'soak', xLabel: 'minutes',
 *   panels: [{ title: 'memory (MB)', series: [{ name: 'heap', points: [[0, 40], [1, 41]] }] }],
 * }));
 * ```
 */
export interface Series {
  name: string;
  /** `[x, y]` pairs, x ascending. */
  points: ReadonlyArray<readonly [number, number]>;
}

export interface Panel {
  title: string;
  series: Series[];
  /** Shaded span of x (the warm-up, say). */
  shade?: readonly [number, number] | undefined;
  /** A logarithmic y axis (latencies spanning decades). @default false */
  log?: boolean;
}

export interface PlotOptions {
  title: string;
  xLabel: string;
  panels: Panel[];
  /** @default 860 (px) */
  width?: number;
  /** Height of one panel. @default 260 (px) */
  panelHeight?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd'];

/** Renders the chart as an SVG document. */
export function plotSvg(options: PlotOptions): string {
  const width = options.width ?? 860;
  const ph = options.panelHeight ?? 260;
  const m = { left: 64, right: 150, top: 28, bottom: 36 };
  const head = 30;
  const height = head + options.panels.length * ph;
  const all = options.panels.flatMap((p) => p.series.flatMap((s) => s.points));
  const xs = all.map(([x]) => x);
  const x0 = Math.min(0, ...xs);
  const x1 = Math.max(x0 + 1e-9, ...xs);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${esc(options.title)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15">${esc(options.title)}</text>`,
  ];
  options.panels.forEach((panel, i) => {
    const top = head + i * ph + m.top;
    const bottom = head + (i + 1) * ph - m.bottom;
    const left = m.left;
    const right = width - m.right;
    const ys = panel.series.flatMap((s) => s.points.map(([, y]) => y));
    const sx = (x: number) => left + ((x - x0) / (x1 - x0)) * (right - left);
    let ticks: number[];
    let sy: (y: number) => number;
    if (panel.log) {
      const positive = ys.filter((y) => y > 0);
      const lo = Math.floor(Math.log10(Math.min(1, ...positive)));
      const hi = Math.ceil(Math.log10(Math.max(10 ** (lo + 1), ...positive)));
      ticks = Array.from({ length: hi - lo + 1 }, (_, k) => 10 ** (lo + k));
      sy = (y: number) =>
        bottom - ((Math.log10(Math.max(y, 10 ** lo)) - lo) / (hi - lo)) * (bottom - top);
    } else {
      const yMax = niceCeil(Math.max(1e-9, ...ys) * 1.05);
      ticks = [0, 1, 2, 3, 4].map((k) => (yMax * k) / 4);
      sy = (y: number) => bottom - (y / yMax) * (bottom - top);
    }
    out.push(
      `<text x="${left}" y="${top - 8}" font-size="13">${esc(panel.title)}</text>`,
      `<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" fill="none" stroke="#999"/>`,
    );
    if (panel.shade) {
      const a = sx(panel.shade[0]);
      const b = sx(panel.shade[1]);
      out.push(
        `<rect x="${a}" y="${top}" width="${Math.max(0, b - a)}" height="${bottom - top}" fill="#000" opacity="0.06"/>`,
        `<text x="${(a + b) / 2}" y="${bottom - 6}" text-anchor="middle" fill="#777">warm-up</text>`,
      );
    }
    for (const y of ticks) {
      out.push(
        `<line x1="${left}" x2="${right}" y1="${sy(y)}" y2="${sy(y)}" stroke="#eee"/>`,
        `<text x="${left - 6}" y="${sy(y) + 4}" text-anchor="end">${fmt(y)}</text>`,
      );
    }
    for (let k = 0; k <= 5; k++) {
      const x = x0 + ((x1 - x0) * k) / 5;
      out.push(`<text x="${sx(x)}" y="${bottom + 16}" text-anchor="middle">${fmt(x)}</text>`);
    }
    if (i === options.panels.length - 1)
      out.push(
        `<text x="${(left + right) / 2}" y="${bottom + 32}" text-anchor="middle">${esc(options.xLabel)}</text>`,
      );
    panel.series.forEach((s, j) => {
      const color = COLORS[j % COLORS.length];
      const d = s.points.map(
        ([x, y], n) => `${n ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`,
      );
      out.push(
        `<path d="${d.join('')}" fill="none" stroke="${color}" stroke-width="1.8"/>`,
        `<line x1="${right + 12}" x2="${right + 32}" y1="${top + 12 + j * 18}" y2="${top + 12 + j * 18}" stroke="${color}" stroke-width="2"/>`,
        `<text x="${right + 38}" y="${top + 16 + j * 18}">${esc(s.name)}</text>`,
      );
    });
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const f of [1, 2, 2.5, 5, 10]) if (f * p >= v) return f * p;
  return 10 * p;
}

function fmt(v: number): string {
  if (v !== 0 && Math.abs(v) < 0.01) return v.toExponential(0);
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function esc(s: string): string {
  return s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
