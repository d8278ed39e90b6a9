// Colours and shapes of graph pictures: one table from dtype to colour, and
// the shape each kind of thing is drawn with. The colours are from the
// Okabe-Ito palette (safe for the common colour-vision deficiencies: f16 and
// f32 differ on the blue-orange axis and in lightness, and read the same in
// grey); black text is legible on every fill. The legend of the DOT picture
// and of the HTML page are both built from these tables.

import type { DType } from '../../ir/dtype.ts';

export interface DtypeColour {
  /** What the legend calls the group (f16, f32, or the non-float dtypes together). */
  readonly legend: string;
  /** Fill of nodes whose result has this dtype. */
  readonly fill: string;
  /** Edges carrying a value of this dtype, and borders. */
  readonly line: string;
}

const F16: DtypeColour = { legend: 'f16', fill: '#E69F00', line: '#A36F00' };
const F32: DtypeColour = { legend: 'f32', fill: '#56B4E9', line: '#0072B2' };
const OTHER: DtypeColour = { legend: 'i32 / u32 / bool', fill: '#D9D9D9', line: '#666666' };

/** The colour of every dtype (typed over DType, so a new dtype needs an entry). */
export const DTYPE_COLOURS: { readonly [D in DType]: DtypeColour } = {
  f16: F16,
  f32: F32,
  i32: OTHER,
  u32: OTHER,
  bool: OTHER,
};

/** The distinct entries of DTYPE_COLOURS, in legend order. */
export const LEGEND_COLOURS: readonly DtypeColour[] = [F16, F32, OTHER];

/** Graphviz shapes of the kinds of nodes, with the words the legend uses for them. */
export const SHAPES = {
  op: { shape: 'box', legend: 'rounded box: op' },
  cast: { shape: 'hexagon', legend: 'hexagon: cast (edges out of it labelled with the change)' },
  input: { shape: 'ellipse', legend: 'ellipse: graph input' },
  param: { shape: 'cylinder', legend: 'cylinder: parameter ({param} input)' },
  output: { shape: 'doubleoctagon', legend: 'double octagon: graph output' },
  fused: { shape: 'cluster', legend: 'dashed box: fused kernel (its body ops inside)' },
} as const;

/** Background and border of a fused kernel's cluster, and of a graph's cluster in a module of several. */
export const FUSED_CLUSTER = { fill: '#F2F2F2', line: '#555555' } as const;
export const GRAPH_CLUSTER = { fill: '#FFFFFF', line: '#999999' } as const;

export const FONT = 'Helvetica,Arial,sans-serif';
