// Charts of training runs (loss curves, the loss scale) as a standalone SVG:
// one panel per chart, each with line series on linear axes (ticks at round
// values), a legend, and an optional log2 y axis (for the loss scale). Small
// on purpose — the examples and bench/amp-vs-f32.ts draw a few hundred points
// (from a metrics log, compiler/train/metrics.ts), and a browser or the
// README shows the file as it is. No Node module: it runs in a browser too.

export interface Series {
  readonly name: string;
  readonly color: string;
  /** [x, y] points, x increasing. */
  readonly points: readonly (readonly [number, number])[];
  readonly dashed?: boolean;
  /** Draw as a step function (the value holds until the next point), e.g. the loss scale. */
  readonly steps?: boolean;
}

export interface Chart {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** Plot y on a log2 axis (values > 0). */
  readonly log2?: boolean;
}

const W = 560, H = 300, M = { left: 64, right: 16, top: 34, bottom: 44 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** About `n` round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const fmt = (v: number) => (Math.abs(v) >= 1e4 ? v.toExponential(0) : String(Number(v.toPrecision(4))));

function panel(c: Chart, top: number): string {
  const pts = c.series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y) && (!c.log2 || y > 0));
  if (pts.length === 0) return '';
  const ty = (y: number) => (c.log2 ? Math.log2(y) : y);
  const xs = pts.map(([x]) => x), ys = pts.map(([, y]) => ty(y));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y1 === y0) [y0, y1] = [y0 - 1, y1 + 1];
  const pad = (y1 - y0) * 0.05;
  [y0, y1] = [y0 - pad, y1 + pad];
  const pw = W - M.left - M.right, ph = H - M.top - M.bottom;
  const sx = (x: number) => M.left + ((x - x0) / (x1 - x0 || 1)) * pw;
  const sy = (y: number) => top + M.top + (1 - (ty(y) - y0) / (y1 - y0)) * ph;
  const parts: string[] = [];
  parts.push(`<text x="${W / 2}" y="${top + 20}" text-anchor="middle" font-weight="bold">${esc(c.title)}</text>`);
  const yTicks = c.log2 ? ticks(Math.floor(y0), Math.ceil(y1)).filter((v) => Number.isInteger(v)).map((e) => 2 ** e) : ticks(y0, y1);
  for (const v of yTicks) {
    const y = sy(v);
    if (y < top + M.top - 1 || y > top + M.top + ph + 1) continue;
    parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${M.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${c.log2 ? `2^${Math.log2(v)}` : fmt(v)}</text>`);
  }
  for (const v of ticks(x0, x1)) {
    const x = sx(v);
    parts.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${top + M.top + ph}" y2="${top + M.top + ph + 4}" stroke="#333"/>`);
    parts.push(`<text x="${x.toFixed(1)}" y="${top + M.top + ph + 16}" text-anchor="middle">${fmt(v)}</text>`);
  }
  parts.push(`<rect x="${M.left}" y="${top + M.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${M.left + pw / 2}" y="${top + H - 8}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${top + M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`);
  for (const s of c.series) {
    const ok = s.points.filter(([, y]) => Number.isFinite(y) && (!c.log2 || y > 0));
    const d = ok.map(([x, y], k) => {
      const to = `${sx(x).toFixed(1)} ${sy(y).toFixed(1)}`;
      if (k === 0) return `M${to}`;
      return s.steps ? `L${sx(x).toFixed(1)} ${sy(ok[k - 1]![1]).toFixed(1)} L${to}` : `L${to}`;
    }).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
  }
  // Legend in the top right corner, on white, sized to its longest name (~6.2 px per character at 11 px).
  const lw = 36 + 6.2 * Math.max(...c.series.map((s) => s.name.length));
  const lx = M.left + pw - lw - 6;
  parts.push(`<rect x="${lx.toFixed(1)}" y="${top + M.top + 4}" width="${lw.toFixed(1)}" height="${c.series.length * 16 + 4}" fill="white" fill-opacity="0.9" stroke="#ccc"/>`);
  c.series.forEach((s, i) => {
    const ly = top + M.top + 17 + i * 16;
    parts.push(`<line x1="${(lx + 6).toFixed(1)}" x2="${(lx + 26).toFixed(1)}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    parts.push(`<text x="${(lx + 31).toFixed(1)}" y="${ly}">${esc(s.name)}</text>`);
  });
  return parts.join('\n');
}

/** The charts stacked vertically in one SVG document. */
export function chartsSvg(charts: readonly Chart[]): string {
  const body = charts.map((c, i) => panel(c, i * H)).join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H * charts.length}" viewBox="0 0 ${W} ${H * charts.length}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    body,
    '</svg>',
    '',
  ].join('\n');
}

/** Mean of each point with the `k` points before it (a trailing moving average). */
export function smooth(points: readonly (readonly [number, number])[], k: number): [number, number][] {
  return points.map(([x], i) => {
    const w = points.slice(Math.max(0, i - k), i + 1);
    return [x, w.reduce((a, [, y]) => a + y, 0) / w.length];
  });
}
