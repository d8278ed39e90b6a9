// Pictures of graphs in the three formats `ampc dump --format` writes: the
// DOT text itself (dot.ts), the SVG Graphviz lays out from it (@viz-js/viz,
// Graphviz compiled to WebAssembly: no native install), or an HTML page
// embedding that SVG (html.ts). Also the format a file name asks for, for
// callers that choose it by extension (the mnist example's --graph).

import type { Viz } from '@viz-js/viz';
import { AmpcError } from '../../ir/errors.ts';
import type { Graph } from '../../ir/graph.ts';
import { graphsToDot } from './dot.ts';
import type { PictureInfo } from './dot.ts';
import { htmlPage } from './html.ts';

export type { PictureInfo } from './dot.ts';

export const PICTURE_FORMATS = ['svg', 'dot', 'html'] as const;
export type PictureFormat = (typeof PICTURE_FORMATS)[number];

export function isPictureFormat(s: string): s is PictureFormat {
  return (PICTURE_FORMATS as readonly string[]).includes(s);
}

/** The format of a picture file from its extension (.svg, .dot, .html); E0609 for any other. */
export function pictureFormatOfPath(path: string): PictureFormat {
  const ext = /\.([^./\\]+)$/.exec(path)?.[1]?.toLowerCase() ?? '';
  if (isPictureFormat(ext)) return ext;
  throw new AmpcError('E0609', `${path}: a picture file must end in ${PICTURE_FORMATS.map((f) => `.${f}`).join(', ')} (the extension chooses the format)`);
}

let vizInstance: Promise<Viz> | undefined;

/** Lays out DOT text with Graphviz and returns the SVG (the WASM module is loaded once, when first needed). */
export async function dotToSvg(dot: string): Promise<string> {
  vizInstance ??= import('@viz-js/viz').then((viz) => viz.instance());
  return (await vizInstance).renderString(dot, { format: 'svg', engine: 'dot' });
}

/** The picture of `graphs` in `format`. */
export async function drawGraphs(graphs: readonly Graph[], format: PictureFormat, info: PictureInfo): Promise<string> {
  if (format === 'dot') return graphsToDot(graphs, info);
  if (format === 'svg') return dotToSvg(graphsToDot(graphs, info));
  // The page shows the header and legend itself, above the picture.
  return htmlPage(await dotToSvg(graphsToDot(graphs, info, { header: false })), info, graphs.map((g) => g.name));
}
