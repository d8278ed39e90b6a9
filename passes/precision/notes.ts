// Notes that name values: a note is kept as parts (text and values) and
// rendered with the printed names of the graph it ends up in, so a later
// pass that renumbers values (cast-cleanup) can render it again.

import type { Graph, Node, Value } from '../../ir/graph.ts';
import { nameValues } from '../../ir/text/printer.ts';

export type NotePart = string | Value;

const PARTS = new WeakMap<Node, readonly NotePart[]>();

export function setNoteParts(node: Node, parts: readonly NotePart[]): void {
  PARTS.set(node, parts);
}

export function noteParts(node: Node): readonly NotePart[] | undefined {
  return PARTS.get(node);
}

/** Sets `node.note` of every node with parts, naming values as `g` prints them. */
export function renderNotes(g: Graph): void {
  const names = nameValues(g);
  for (const n of g.nodes) {
    const parts = PARTS.get(n);
    if (!parts) continue;
    n.note = parts.map((p) => (typeof p === 'string' ? p : `%${names.get(p) ?? p.name ?? '?'}`)).join('');
  }
}
