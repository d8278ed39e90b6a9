// The example's picture (--plot FILE.svg), from the metrics log's rows and
// the validation losses: the training loss as logged and its moving
// average, with the validation loss at each evaluation; the gradients'
// global norm (before clipping) against the clipping threshold; and the
// learning rate of the schedule (warmup, then cosine decay). Under AMP a
// fourth chart shows the loss scale when it moved. Drawn with the library's
// chart writer (compiler/picture/charts.ts).

import { chartsSvg, smooth } from '../../compiler/picture/charts.ts';
import type { Chart } from '../../compiler/picture/charts.ts';

export interface PlotInput {
  readonly title: string;
  /** The metrics log's rows (parseMetricsLog). */
  readonly rows: readonly Record<string, number>[];
  readonly validation: readonly (readonly [number, number])[];
  readonly clipGradNorm: number | undefined;
}

export function lossCurveSvg(p: PlotInput): string {
  const col = (name: string) => p.rows.filter((r) => r[name] !== undefined).map((r) => [r.step!, r[name]!] as const);
  const loss = col('loss');
  const charts: Chart[] = [{
    title: p.title, xLabel: 'step', yLabel: 'cross-entropy (nats / character)',
    series: [
      { name: `training loss (logged every ${loss.length > 1 ? loss[1]![0] - loss[0]![0] : 1} steps)`, color: '#9ecae1', points: loss },
      { name: 'moving average (10 logs)', color: '#08519c', points: smooth(loss, 9) },
      ...(p.validation.length ? [{ name: 'validation loss', color: '#d94801', points: p.validation }] : []),
    ],
  }];
  const norm = col('grad_norm');
  if (norm.length) {
    charts.push({
      title: 'global gradient norm (unscaled, before clipping)', xLabel: 'step', yLabel: 'L2 norm',
      series: [
        { name: 'gradient norm', color: '#756bb1', points: norm },
        ...(p.clipGradNorm !== undefined && norm.length > 1 ? [{ name: `clip at ${p.clipGradNorm}`, color: '#636363', dashed: true, points: [[norm[0]![0], p.clipGradNorm], [norm.at(-1)![0], p.clipGradNorm]] as const }] : []),
      ],
    });
  }
  charts.push({ title: 'learning rate (of the next update)', xLabel: 'step', yLabel: 'lr', series: [{ name: 'learning rate', color: '#31a354', points: col('lr') }] });
  const scale = col('scale');
  if (new Set(scale.map(([, s]) => s)).size > 1) {
    charts.push({ title: 'loss scale', xLabel: 'step', yLabel: 'scale', log2: true, series: [{ name: 'loss scale', color: '#d94801', points: scale, steps: true }] });
  }
  return chartsSvg(charts);
}
