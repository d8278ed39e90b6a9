// GridSample (opsets 16, 20, 22) as the IR's `grid_sample` (ir/grid-sample.ts,
// PyTorch's grid_sample semantics, which ONNX follows). Opset 16 names the
// modes bilinear / nearest / bicubic; opsets 20 and 22 rename them linear /
// nearest / cubic and allow N-D inputs: only the 4-D case ([N, C, H, W] with a
// [N, Ho, Wo, 2] grid) is supported, others are refused with E0901. Float
// tensors only; a grid of another float type than X is sampled in f32 (both
// widened) and the result cast back to X's type.

import type { Entry, NodeCtx } from '../context.ts';
import type { OpMapping } from './types.ts';
import { asDtype, rankOf, val } from './types.ts';

const MODES_16: Record<string, string> = { bilinear: 'bilinear', nearest: 'nearest', bicubic: 'bicubic' };
const MODES_20: Record<string, string> = { linear: 'bilinear', nearest: 'nearest', cubic: 'bicubic' };

function gridSample(c: NodeCtx): Entry[] {
  const x = c.value(0), grid = c.value(1);
  for (const v of [x, grid]) {
    if (v.type.dtype !== 'f32' && v.type.dtype !== 'f16') c.unsupported(`input of type ${v.type.dtype} (float and float16 only)`);
  }
  if (rankOf(x) !== 4) c.unsupported(`a ${rankOf(x) - 2}-D sample (X of rank ${rankOf(x)}): only 4-D inputs [N, C, H, W] are supported`);
  if (rankOf(grid) !== 4 || grid.type.shape[3] !== 2) c.bad(`grid of shape [${grid.type.shape.join(', ')}] for a 4-D X (expected [N, Ho, Wo, 2])`);
  const modes = c.opset >= 20 ? MODES_20 : MODES_16;
  const given = c.string('mode', c.opset >= 20 ? 'linear' : 'bilinear');
  const mode = modes[given];
  if (!mode) c.bad(`mode '${given}' (opset ${c.opset >= 20 ? '20+' : '16'} has ${Object.keys(modes).join(', ')})`);
  const padding = c.string('padding_mode', 'zeros');
  if (!['zeros', 'border', 'reflection'].includes(padding)) c.bad(`padding_mode '${padding}'`);
  const align = c.int('align_corners', 0);
  if (align !== 0 && align !== 1) c.bad(`align_corners ${align} (0 or 1)`);
  const attrs = { mode, padding_mode: padding, align_corners: align === 1 };
  if (x.type.dtype === grid.type.dtype) return val(c.add('grid_sample', [x, grid], attrs));
  const y = c.add('grid_sample', [asDtype(c, x, 'f32'), asDtype(c, grid, 'f32')], attrs);
  return val(asDtype(c, y, x.type.dtype));
}

export const GRID_SAMPLE_OPS: Record<string, OpMapping> = {
  GridSample: { map: gridSample },
};
