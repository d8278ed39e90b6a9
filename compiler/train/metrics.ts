// Per-step training metrics as a log (Trainer option `metrics`): every N
// steps one line of loss, loss scale, skipped steps, optimizer updates,
// learning rate, gradient norm (when the step reports it), throughput and
// elapsed time, as JSON Lines or CSV. Lines go to a function (anywhere, the
// browser included) or, in Node, to a file (compiler/train/metrics-file.ts)
// that is created anew and gets each line in one write, so it always ends
// with a whole line and can be read (plotted, tailed) while training runs.
//
// Reading the metrics syncs with the device, once per logged step: with
// `every: 1` each step waits for the previous one; the default (10) keeps the
// queue full between logs. Throughput counts the samples of the steps since
// the previous line over the wall time between the two lines' reads, so it
// includes everything the device did for them.
//
//   {"step":10,"loss":0.6931,"scale":65536,"skipped":0,"updates":10,"lr":0.001,"samples_per_s":2048.1,"elapsed_s":0.31}
//   step,loss,scale,skipped,updates,lr,grad_norm,samples_per_s,elapsed_s

import { AmpcError } from '../../ir/errors.ts';

export interface MetricsOptions {
  /** Where each line goes: a file path (Node; created anew) or a function that receives every line (without its newline). */
  readonly to?: string | ((line: string) => void);
  /** Receives each logged step's metrics as an object (e.g. for a progress bar); `to`, this or both. */
  readonly onMetrics?: (m: StepMetrics) => void;
  /** 'jsonl' or 'csv' (default: csv for a path ending in .csv, else jsonl). CSV starts with a header line. */
  readonly format?: 'jsonl' | 'csv';
  /** Log after every this many steps (default 10). */
  readonly every?: number;
}

/** One line of the log. */
export interface StepMetrics {
  /** Train steps run so far (micro-steps with accumulation, skipped ones included). */
  readonly step: number;
  /** The loss of this step's batch. */
  readonly loss: number;
  /** The loss scale the next step uses (1 without loss scaling). */
  readonly scale: number;
  /** Steps skipped so far because a gradient was not finite. */
  readonly skipped: number;
  /** Optimizer updates applied so far (the step counter `opt.step`). */
  readonly updates: number;
  /** The learning rate of the next update (the schedule's factor at `updates` times the base rate). */
  readonly lr: number;
  /** The gradients' global norm of this step (only when the Trainer reports it: `report: { gradNorm: true }`). */
  readonly gradNorm?: number;
  /** Samples per second since the previous line. */
  readonly samplesPerSecond: number;
  /** Seconds since the first step began. */
  readonly elapsedSeconds: number;
}

const COLUMNS: readonly (readonly [keyof StepMetrics, string])[] = [
  ['step', 'step'], ['loss', 'loss'], ['scale', 'scale'], ['skipped', 'skipped'], ['updates', 'updates'], ['lr', 'lr'],
  ['gradNorm', 'grad_norm'], ['samplesPerSecond', 'samples_per_s'], ['elapsedSeconds', 'elapsed_s'],
];

function fail(detail: string): never {
  throw new AmpcError('E0609', `Trainer.create: metrics${detail}`);
}

/** The options checked (E0609), with defaults. */
export function resolveMetrics(o: MetricsOptions): {
  to: string | ((line: string) => void) | undefined; onMetrics: ((m: StepMetrics) => void) | undefined; format: 'jsonl' | 'csv'; every: number;
} {
  if (!o || typeof o !== 'object') fail(` must be an object such as { to: 'train.jsonl', every: 10 }, got ${JSON.stringify(o)}`);
  const known = ['to', 'onMetrics', 'format', 'every'];
  for (const k of Object.keys(o)) if (!known.includes(k)) fail(`: unknown option '${k}' (known: ${known.join(', ')})`);
  if (o.to === undefined && o.onMetrics === undefined) fail(': give `to` (a file path or a function (line) => void), `onMetrics` ((metrics) => void), or both');
  if (o.to !== undefined && typeof o.to !== 'function' && (typeof o.to !== 'string' || o.to === '')) fail(`.to must be a file path or a function (line) => void, got ${JSON.stringify(o.to)}`);
  if (o.onMetrics !== undefined && typeof o.onMetrics !== 'function') fail(`.onMetrics must be a function (metrics) => void, got ${JSON.stringify(o.onMetrics)}`);
  if (o.format !== undefined && o.format !== 'jsonl' && o.format !== 'csv') fail(`.format must be 'jsonl' or 'csv', got ${JSON.stringify(o.format)}`);
  const every = o.every ?? 10;
  if (!Number.isSafeInteger(every) || every < 1) fail(`.every must be a whole number of steps >= 1, got ${JSON.stringify(o.every)}`);
  const format = o.format ?? (typeof o.to === 'string' && o.to.toLowerCase().endsWith('.csv') ? 'csv' : 'jsonl');
  return { to: o.to, onMetrics: o.onMetrics, format, every };
}

/** Shortest text that reads back as the same f32 value (f32 losses print as 0.6931472, not 0.6931471824645996). */
function num(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity';
  if (Number.isInteger(x)) return String(x);
  const f = Math.fround(x);
  if (f === x) {
    for (let p = 1; p <= 9; p++) {
      const s = Number(x.toPrecision(p));
      if (Math.fround(s) === f) return String(s);
    }
  }
  return String(Number(x.toPrecision(7)));
}

/** Formats lines of one log: a header first for CSV; the columns are fixed by whether the gradient norm is logged. */
export class MetricsFormatter {
  readonly #columns: readonly (readonly [keyof StepMetrics, string])[];
  #headerDone = false;

  constructor(readonly format: 'jsonl' | 'csv', withGradNorm: boolean) {
    this.#columns = COLUMNS.filter(([k]) => k !== 'gradNorm' || withGradNorm);
  }

  /** The lines for `m`: the CSV header before the first one. JSON keeps non-finite numbers as strings ("NaN"), CSV as text. */
  lines(m: StepMetrics): string[] {
    const out: string[] = [];
    if (this.format === 'csv') {
      if (!this.#headerDone) out.push(this.#columns.map(([, name]) => name).join(','));
      out.push(this.#columns.map(([k]) => num(m[k] as number)).join(','));
    } else {
      out.push(`{${this.#columns.map(([k, name]) => {
        const v = m[k] as number;
        return `${JSON.stringify(name)}:${Number.isFinite(v) ? num(v) : JSON.stringify(num(v))}`;
      }).join(',')}}`);
    }
    this.#headerDone = true;
    return out;
  }
}

/** Reads a log back (JSONL or CSV, as MetricsFormatter writes it): one record per step line, by column name. */
export function parseMetricsLog(text: string, where = 'metrics log'): Record<string, number>[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return [];
  const value = (s: unknown, line: number): number => {
    const v = typeof s === 'number' ? s : typeof s === 'string' ? Number(s) : NaN;
    if (typeof s === 'string' && Number.isNaN(v) && s !== 'NaN') throw new AmpcError('E0602', `${where}:${line}: ${JSON.stringify(s)} is not a number`);
    return v;
  };
  if (lines[0]!.trimStart().startsWith('{')) {
    return lines.map((l, i) => {
      let o: unknown;
      try {
        o = JSON.parse(l);
      } catch {
        throw new AmpcError('E0602', `${where}:${i + 1}: not a JSON object`);
      }
      if (!o || typeof o !== 'object' || Array.isArray(o)) throw new AmpcError('E0602', `${where}:${i + 1}: not a JSON object`);
      return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, value(v, i + 1)]));
    });
  }
  const header = lines[0]!.split(',');
  return lines.slice(1).map((l, i) => {
    const cells = l.split(',');
    if (cells.length !== header.length) throw new AmpcError('E0602', `${where}:${i + 2}: ${cells.length} values, the header has ${header.length}`);
    return Object.fromEntries(header.map((h, j) => [h, value(cells[j], i + 2)]));
  });
}
