// The page of the browser test: test/browser.test.ts bundles this file with
// esbuild (platform browser, through ampc's browser entry and mapping), serves
// it with the artifacts it compiled, and calls `ampcPage.run()` in headless
// Chromium. The page acquires a device from navigator.gpu, runs the shared
// case (test/browser/case.ts: artifacts loaded by URL, Trainer steps), and
// traces code of its own: a function with a deliberate shape error, whose
// message must name this file's line (as the bundle's position), and one
// without, whose nodes must record this file's lines; the same for models of
// ampc's nn blocks (an nn.Linear fed the wrong width, an nn.Sequential), whose
// ops are made inside ampc but must be placed at this file's call of the
// block. The traces need no device; the test also runs them from a
// classic-script (IIFE) bundle.

import { acquireDevice, describeDevice, f32, isAmpcError, nn, trace, traceModule } from '../../browser.ts';
import type { Tensor } from '../../browser.ts';
import { runCase } from './case.ts';
import type { CaseResult } from './case.ts';

declare const location: { readonly href: string };

/** What the page's own traces give: no device needed (test/browser.test.ts also runs them from a classic-script bundle). */
export interface PageTraces {
  /** The E0201 of tracing deliberateMismatch. */
  readonly traceError: { readonly code: string; readonly message: string; readonly loc: string };
  /** FILE:LINE:COL of each node of a trace of wellShaped, in order. */
  readonly nodePlaces: readonly string[];
  /** The E0201 of tracing MisfedLinear (its nn.Linear's matmul), with traceModule. */
  readonly blockError: { readonly code: string; readonly message: string; readonly loc: string };
  /** The same error, with the nn.Linear called from a function given to trace() (no module scopes). */
  readonly blockErrorInTrace: { readonly code: string; readonly message: string; readonly loc: string };
  /** `OP FILE:LINE:COL` of each node of a trace of WellShapedBlocks (traceModule), in order. */
  readonly blockNodePlaces: readonly string[];
}

export interface PageResult extends CaseResult, PageTraces {
  readonly adapter: {
    readonly vendor: string;
    readonly architecture: string;
    readonly description: string;
    readonly featureLevel: string;
    readonly hasF16: boolean;
    /** describeDevice() of the page's device. */
    readonly summary: string;
    /** The limits kernels were sized by. */
    readonly limits: Readonly<Record<string, number>>;
  };
}

/** What the page offers the test, as globalThis.ampcPage. */
export interface PageApi {
  run(): Promise<PageResult>;
  traces(): PageTraces;
}

/** A user's mistake: [2,3] x [4,5] has inner dimensions that differ. */
function deliberateMismatch(x: Tensor, w: Tensor): Tensor {
  const h = x.relu();
  return h.matmul(w); // @deliberate-mismatch
}

function wellShaped(x: Tensor, w: Tensor): Tensor {
  const h = x.matmul(w); // @well-shaped-matmul
  return h.tanh(); // @well-shaped-tanh
}

/** A user's mistake with an nn block: its nn.Linear(4, 3) is fed rows of 5 features. */
class MisfedLinear extends nn.Module {
  fc = this.register('fc', new nn.Linear(4, 3));
  forward(x: Tensor): Tensor {
    return this.fc.forward(x); // @block-mismatch
  }
}

const looseLinear = new nn.Linear(4, 3);

function misfedLooseLinear(x: Tensor): Tensor {
  return looseLinear.forward(x); // @block-mismatch-in-trace
}

/** ampc's nn blocks with the right shapes, in a Sequential: [2,1,4,4] in, [2,3] out. */
class WellShapedBlocks extends nn.Module {
  body = this.register('body', new nn.Sequential(
    new nn.Conv2d(1, 2, 3, { padding: 1 }), new nn.BatchNorm2d(2), new nn.MaxPool2d(2), new nn.AvgPool2d(1), new nn.Flatten(),
    new nn.Linear(8, 3), new nn.LayerNorm(3), new nn.GELU(), new nn.ReLU(),
  ));
  forward(x: Tensor): Tensor {
    return this.body.forward(x); // @well-shaped-blocks
  }
}

const place = (loc: { readonly file?: string; readonly line: number; readonly col: number } | undefined): string => (loc ? `${loc.file}:${loc.line}:${loc.col}` : '');

/** The AmpcError `work` throws, as plain data. */
function errorOf(work: () => unknown, what: string): PageTraces['traceError'] {
  try {
    work();
  } catch (e) {
    if (!isAmpcError(e)) throw e;
    return { code: e.code, message: e.message, loc: place(e.loc) };
  }
  throw new Error(`tracing ${what} did not fail`);
}

function traces(): PageTraces {
  const nodePlaces = trace(wellShaped, [f32([2, 3]), f32([3, 4])]).nodes.map((n) => place(n.loc));
  const blockNodePlaces = traceModule(new WellShapedBlocks(), [f32([2, 1, 4, 4])]).graph.nodes.map((n) => `${n.op} ${place(n.loc)}`);
  return {
    traceError: errorOf(() => trace(deliberateMismatch, [f32([2, 3]), f32([4, 5])]), 'deliberateMismatch'),
    nodePlaces,
    blockError: errorOf(() => traceModule(new MisfedLinear(), [f32([2, 5])]), 'MisfedLinear'),
    blockErrorInTrace: errorOf(() => trace(misfedLooseLinear, [f32([2, 5])]), 'misfedLooseLinear'),
    blockNodePlaces,
  };
}

async function run(): Promise<PageResult> {
  const device = await acquireDevice();
  try {
    const info = device.adapterInfo;
    const adapter = {
      vendor: info.vendor, architecture: info.architecture, description: info.description,
      featureLevel: device.featureLevel, hasF16: device.hasF16, summary: describeDevice(device), limits: { ...device.limits },
    };
    const computed = await runCase(device, (dir) => new URL(`./${dir}/`, location.href));
    return { adapter, ...traces(), ...computed };
  } finally {
    device.destroy();
  }
}

const api: PageApi = { run, traces };
(globalThis as unknown as { ampcPage: PageApi }).ampcPage = api;
