// Device time per dispatch of the MNIST MLP train step (784-H-10, Adam):
// each dispatch of the compiled plan submitted on its own and waited for,
// `--reps` times, the median per dispatch; then whole steps (Session.run)
// for comparison. Per-dispatch times include a submit and a wait each, so
// their sum exceeds a whole step; compare dispatches with each other.
//
//   npx tsx bench/dispatches.ts [--precision f32,amp] [--batch 64] [--hidden 256] [--reps 15]
//                               [--loss-scale off] [--cast-prologues on|params|off] [--weight-copies]

import { Command, Option } from 'commander';
import { compileGraph } from '../compiler/compile.ts';
import { crossEntropy, f32, i32, nn, traceModule } from '../ir/trace/index.ts';
import type { Tensor } from '../ir/trace/index.ts';
import { trainStepGraph } from '../passes/train-step.ts';
import { acquireDevice, describeDevice } from '../runtime/device.ts';
import { Session } from '../runtime/session.ts';

const o = new Command()
  .option('--precision <list>', 'f32, amp or both', 'f32,amp')
  .option('--batch <n>', 'batch size', '64')
  .option('--hidden <n>', 'hidden width', '256')
  .option('--reps <n>', 'timed repetitions per dispatch', '15')
  .addOption(new Option('--loss-scale <mode>', 'loss scaling under amp').choices(['dynamic', 'off']).default('dynamic'))
  .addOption(new Option('--cast-prologues <on|params|off>', 'override the adapter kind\'s cast prologues (params: the weights only)').choices(['on', 'params', 'off']))
  .option('--weight-copies', 'keep the weights\' f16 copies across steps (as the Trainer compiles)')
  .parse()
  .opts<{ precision: string; batch: string; hidden: string; reps: string; lossScale: 'dynamic' | 'off'; castPrologues?: 'on' | 'params' | 'off'; weightCopies?: boolean }>();

const B = Number(o.batch), H = Number(o.hidden), reps = Number(o.reps);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const ctx = await acquireDevice();
console.log(`${describeDevice(ctx)}\nMLP 784-${H}-10, Adam, batch ${B}; median of ${reps} runs per dispatch, ms`);
try {
  for (const precision of o.precision.split(',') as ('f32' | 'amp')[]) {
    const model = new nn.Sequential(new nn.Linear(784, H), new nn.ReLU(), new nn.Linear(H, 10));
    const traced = traceModule(model, [f32([B, 784]), i32([B])], { call: (m: nn.Sequential, x: Tensor, y: Tensor) => crossEntropy(m.forward(x), y) });
    const step = trainStepGraph(traced.graph, { kind: 'adam', lr: 1e-3 }, { precision, ...(precision === 'amp' ? { lossScale: o.lossScale } : {}) });
    const compiled = compileGraph(step.graph, ctx, {
      updates: step.updates, weightCopies: o.weightCopies ?? false, ...(o.castPrologues ? { castPrologues: o.castPrologues === 'params' ? 'params' as const : o.castPrologues === 'on' } : {}),
    });
    const session = await Session.create(ctx, compiled.plan);
    const times = compiled.plan.dispatches.map(() => [] as number[]);
    for (let r = 0; r <= reps; r++) {
      for (let i = 0; i < compiled.plan.dispatches.length; i++) {
        const start = performance.now();
        session.runDispatch(i);
        await ctx.device.queue.onSubmittedWorkDone();
        if (r > 0) times[i]!.push(performance.now() - start);
      }
    }
    const whole: number[] = [];
    for (let r = 0; r < reps; r++) {
      const start = performance.now();
      session.run();
      await ctx.device.queue.onSubmittedWorkDone();
      whole.push(performance.now() - start);
    }
    console.log(`\n${precision}: ${compiled.dispatches} dispatches; whole step ${median(whole).toFixed(2)} ms (min ${Math.min(...whole).toFixed(2)})`);
    compiled.plan.dispatches.forEach((d, i) => {
      console.log(`${median(times[i]!).toFixed(2).padStart(7)}  ${String(i).padStart(2)} ${compiled.plan.kernels[d.kernel]!.label} (${d.workgroups.join('x')} workgroups)`);
    });
    session.destroy();
  }
} finally {
  ctx.destroy();
}
