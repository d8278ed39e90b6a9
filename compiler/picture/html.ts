// A self-contained HTML page around a picture's SVG: a short header (what is
// drawn, the graphs, the pipeline), the legend (from the palette and shape
// tables the SVG is drawn with; the SVG itself is drawn without its own), and
// the SVG inline, so hovering a node shows its tooltip (instruction, note,
// source place). No scripts, no external files.

import { LEGEND_COLOURS, SHAPES } from './palette.ts';
import type { PictureInfo } from './dot.ts';

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The SVG element alone: Graphviz's XML declaration, doctype and comments before it removed. */
function svgElement(svg: string): string {
  const start = svg.indexOf('<svg');
  if (start < 0) throw new Error('picture: Graphviz returned no <svg> element');
  return svg.slice(start).trim();
}

export function htmlPage(svg: string, info: PictureInfo, graphNames: readonly string[]): string {
  const swatches = LEGEND_COLOURS.map((c) => `<li><span class="swatch" style="background:${c.fill};border-color:${c.line}"></span>${escapeHtml(c.legend)}</li>`);
  const shapes = Object.values(SHAPES).map((s) => `<li>${escapeHtml(s.legend)}</li>`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(info.title)}</title>
<style>
  body { font-family: Helvetica, Arial, sans-serif; margin: 1.5em; color: #222; }
  h1 { font-size: 1.3em; margin: 0 0 0.3em; }
  p { margin: 0.2em 0; }
  .legend { display: flex; gap: 2.5em; margin: 0.8em 0 1em; font-size: 0.9em; }
  .legend ul { list-style: none; padding: 0; margin: 0; }
  .legend li { margin: 0.15em 0; }
  .swatch { display: inline-block; width: 1.6em; height: 0.9em; margin-right: 0.5em; border: 1px solid; vertical-align: middle; }
  .picture { overflow: auto; }
</style>
</head>
<body>
<h1>${escapeHtml(info.title)}</h1>
<p>${escapeHtml([`${graphNames.length === 1 ? 'graph' : 'graphs'} ${graphNames.map((n) => `@${n}`).join(', ')}`, ...info.details].join(' · '))}</p>
<p>Hover over an op for its instruction, its note (why it has its precision, what was fused) and its source place.</p>
<div class="legend">
<ul>
${swatches.join('\n')}
</ul>
<ul>
${shapes.join('\n')}
</ul>
</div>
<div class="picture">
${svgElement(svg)}
</div>
</body>
</html>
`;
}
