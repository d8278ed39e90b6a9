// The Trainer compiles through the one compile path: its pass summaries and
// IR dumps are the CLI's (the train step's passes, then fusion), fusion can
// be turned off, compileStats reports dispatches and compile time, and a
// --print-ir-after naming no pass is refused.

import { CAST_PROLOGUES } from '../compiler/compile.ts';
import { adapterKindOf } from '../compiler/kernels/matmul-config.ts';
import { Trainer } from '../compiler/train/index.ts';
import { AmpcError } from '../ir/errors.ts';
import { crossEntropy, f32, i32, nn } from '../ir/trace/index.ts';
import type { Tensor } from '../ir/trace/index.ts';
import { gpuF16Test } from './helpers/gpu.ts';

const make = (device: Parameters<typeof Trainer.create>[0]['device'], extra: Record<string, unknown>) => Trainer.create({
  model: new nn.Sequential(new nn.Linear(12, 8), new nn.ReLU(), new nn.Linear(8, 3)),
  loss: (m: nn.Sequential, x: Tensor, y: Tensor) => crossEntropy(m.forward(x), y),
  inputs: [f32([4, 12]), i32([4])], optimizer: { kind: 'adam', lr: 1e-3 }, seed: 0, device, precision: 'amp', ...extra,
});

gpuF16Test('Trainer: pass summaries and dumps of the train step and fusion; fusion off; compile stats', async (t, ctx) => {
  const lines: string[] = [];
  const dumps: string[] = [];
  // Native f16 arithmetic: fusion keeps every f16 rounding there (the storage
  // mode, the default on CPU adapters, computes fused f16 ops with excess precision).
  const fused = await make(ctx, { log: (l: string) => lines.push(l), printIrAfter: 'optimizer', dump: (d: string) => dumps.push(d), f16Mode: 'native' });
  const unfused = await make(ctx, { fusion: false, f16Mode: 'native' });
  try {
    // Without cast prologues for the weights the compile keeps their f16 copies across steps (compiler/weight-copies.ts);
    // every adapter kind's matmuls convert their weights as they load them (CAST_PROLOGUES).
    const copies = CAST_PROLOGUES[adapterKindOf(ctx.adapterInfo)] === false ? ['weight-copies'] : [];
    t.deepEqual(lines.map((l) => l.split(':')[0]), ['amp-precision', 'cast-cleanup', 'loss-scaling', 'autodiff', 'optimizer', ...copies, 'fusion']);
    t.is(dumps.length, 1);
    t.regex(dumps[0]!, /^\/\/ -----\/\/ IR Dump After optimizer \/\/----- \/\/\ngraph @Sequential_step\(/);
    t.regex(dumps[0]!, / = unscale_check /);
    const a = fused.compileStats, b = unfused.compileStats;
    t.true(a.trainDispatches > 0 && a.trainDispatches < b.trainDispatches, `${a.trainDispatches} fused vs ${b.trainDispatches} unfused`);
    t.true(a.trainCompileMs > 0);
    // Same data, same seed: the fused and unfused steps agree (fusion changes no numerics beyond contraction).
    const x = Float32Array.from({ length: 48 }, (_, i) => Math.sin(i)), y = Int32Array.from([0, 1, 2, 1]);
    const la = await fused.step([x, y], { readLoss: true }), lb = await unfused.step([x, y], { readLoss: true });
    t.true(Math.abs(la! - lb!) <= 1e-6 * Math.abs(lb!), `${la} vs ${lb}`);
  } finally {
    fused.destroy();
    unfused.destroy();
  }
  const e = await t.throwsAsync(make(ctx, { printIrAfter: 'no-such-pass' }), { instanceOf: AmpcError });
  t.is(e!.code, 'E0609');
  t.regex(e!.message, /no pass named 'no-such-pass'.*loss-scaling, autodiff, optimizer, fusion/);
});
