/**
 * A tiny model batch for backend tests: 4 MLPs 6→8→3, each with its own seeded init, 40 training
 * and 12 test rows of its own and its own batch order. A fresh copy per call (the members' Rngs are
 * consumed by training).
 */
import { ArchitectureSchema } from '../../src/shared/schemas/zoo.ts';
import { layoutOf, resolveArchitecture } from '../../src/main/engine/nn/architecture.ts';
import type { BatchMember } from '../../src/main/engine/nn/batch.ts';
import { initParams } from '../../src/main/engine/nn/params.ts';
import { Rng } from '../../src/main/engine/rng.ts';

export const tinyBatchLayout = layoutOf(
  resolveArchitecture(ArchitectureSchema.parse({ kind: 'mlp', hidden: [8] }), [6], 3),
);

export function tinyBatchMembers(): BatchMember[] {
  return Array.from({ length: 4 }, (_, m) => {
    const r = new Rng(10 + m);
    return {
      init: initParams(tinyBatchLayout, new Rng(m)),
      xTrain: r.normalArray(40 * 6),
      yTrain: Int32Array.from({ length: 40 }, (_, i) => i % 3),
      xTest: r.normalArray(12 * 6),
      yTest: Int32Array.from({ length: 12 }, (_, i) => i % 3),
      rng: new Rng(100 + m),
    };
  });
}
