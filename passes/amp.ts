// The passes of automatic mixed precision, in order: op precisions from the
// policy (casts inserted), then cast cleanup. The `amp` pipeline and the AMP
// train step both run exactly these.

import { castCleanupPass } from './cast-cleanup.ts';
import type { Pass } from './pass.ts';
import { precisionPass } from './precision.ts';

export const AMP_PASSES: readonly Pass[] = [precisionPass, castCleanupPass];
