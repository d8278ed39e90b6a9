// The SVG chart writer (compiler/picture/charts.ts): one
// path per series, step functions for the loss scale, log2 ticks, legend
// text escaped, non-finite points left out, and the moving average.

import test from 'ava';
import { chartsSvg, smooth } from '../compiler/picture/charts.ts';

test('chartsSvg: a panel per chart, a path per series, legend names escaped, non-finite points dropped', (t) => {
  const svg = chartsSvg([
    { title: 'loss <f32 & amp>', xLabel: 'step', yLabel: 'loss', series: [
      { name: 'f32', color: '#00f', points: [[0, 2], [10, 1], [20, NaN], [30, 0.5]] },
      { name: 'a<b', color: '#f00', points: [[0, 2.1], [10, 1.1]], dashed: true },
    ] },
    { title: 'scale', xLabel: 'step', yLabel: 'scale', log2: true, series: [{ name: 'scale', color: '#0a0', steps: true, points: [[0, 65536], [10, 32768], [20, 0]] }] },
  ]);
  t.regex(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="560" height="600"/);
  t.true(svg.trimEnd().endsWith('</svg>'));
  t.regex(svg, /loss &lt;f32 &amp; amp&gt;/);
  t.regex(svg, />a&lt;b</);
  const paths = [...svg.matchAll(/<path d="([^"]+)"/g)].map((m) => m[1]!);
  t.is(paths.length, 3);
  t.is(paths[0]!.split(/[ML]/).filter(Boolean).length, 3, 'the NaN point is left out');
  t.regex(svg, /stroke-dasharray="5 3"/);
  // A step function: each new value starts with a horizontal segment at the old height.
  const [m0, l1, l2] = paths[2]!.split(/(?=[ML])/);
  t.is(m0!.trim().split(' ')[1], l1!.trim().slice(1).split(' ')[1], 'holds the old value until the next point');
  t.not(l1!.trim().split(' ')[1], l2!.trim().split(' ')[1]);
  t.regex(svg, />2\^16</);
  t.regex(svg, />2\^15</);
  t.notRegex(svg, /NaN|Infinity/);
});

test('smooth: a trailing moving average', (t) => {
  t.deepEqual(smooth([[0, 1], [1, 3], [2, 5], [3, 7]], 1), [[0, 1], [1, 2], [2, 4], [3, 6]]);
  t.deepEqual(smooth([], 3), []);
});
