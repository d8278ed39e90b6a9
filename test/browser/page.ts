// The page of the browser test: test/browser.test.ts bundles this file with
// esbuild (platform browser, through ampc's browser entry and mapping), serves
// it with the artifacts it compiled, and calls `ampcPage.run()` in headless
// Chromium. The page acquires a device from navigator.gpu, runs the shared
// case (test/browser/case.ts: artifacts loaded by URL, Trainer steps), and
// traces code of its own: a function with a deliberate shape error, whose
// message must name this file's line (as the bundle's position), and one
// without, whose nodes must record this file's lines. The traces need no
// device; the test also runs them from a classic-script (IIFE) bundle.

import { acquireDevice, describeDevice, f32, isAmpcError, trace } from '../../browser.ts';
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

function traceError(): PageTraces['traceError'] {
  try {
    trace(deliberateMismatch, [f32([2, 3]), f32([4, 5])]);
  } catch (e) {
    if (!isAmpcError(e)) throw e;
    return { code: e.code, message: e.message, loc: e.loc ? `${e.loc.file}:${e.loc.line}:${e.loc.col}` : '' };
  }
  throw new Error('tracing deliberateMismatch did not fail');
}

function traces(): PageTraces {
  const nodePlaces = trace(wellShaped, [f32([2, 3]), f32([3, 4])]).nodes.map((n) => (n.loc ? `${n.loc.file}:${n.loc.line}:${n.loc.col}` : ''));
  return { traceError: traceError(), nodePlaces };
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
