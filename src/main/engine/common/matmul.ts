/**
 * Matrix product for trainable layers. On the wasm backend, tf.matMul with a transposed operand
 * is slow (ENVIRONMENT.md), and autodiff of x·W produces exactly those products (dy·Wᵀ and
 * xᵀ·dy). kernels/wasm.ts fixes that globally by transposing an operand before a plain product;
 * this helper goes further for dense layers: it computes dy·Wᵀ as (W·dyᵀ)ᵀ, so the big weight
 * matrix is never transposed (only the small batch-sized tensors are), and it can skip the
 * gradient with respect to the data input of a first layer altogether. It works the same with or
 * without those kernels installed; where kernels/wasm.ts's gemm kernel reads a transposed operand in
 * place (standard layer sizes), the gradients are the plain transposed products, with no Transpose.
 */
import * as tf from '@tensorflow/tfjs';
import { COLSUM, DENSE } from '../kernels/simd.ts';
import { gemmHandles } from '../kernels/wasm.ts';

/** dy·bᵀ: read transposed in place where the gemm kernel can, else as (b·dyᵀ)ᵀ. */
function dyTimesBt(dy: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (gemmHandles(dy, b, false, true)) return tf.matMul(dy, b, false, true);
  // The big operand b stays untransposed; only the batch-sized dy is transposed (twice).
  return tf.transpose(tf.matMul(b, tf.transpose(dy))) as tf.Tensor2D;
}

/** aᵀ·dy: read transposed in place where the gemm kernel can, else a (a batch of rows) transposed. */
function aTtimesDy(a: tf.Tensor2D, dy: tf.Tensor2D): tf.Tensor2D {
  if (gemmHandles(a, dy, true, false)) return tf.matMul(a, dy, true, false);
  return tf.matMul(tf.transpose(a), dy);
}

const fastMatMul = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  const a2 = a;
  const b2 = b;
  save([a2, b2]);
  return {
    value: tf.matMul(a2, b2),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as [tf.Tensor2D, tf.Tensor2D];
      const dy2 = dy as tf.Tensor2D;
      return [dyTimesBt(dy2, sb), aTtimesDy(sa, dy2)];
    },
  };
});

const fastMatMulNoGradA = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([a]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa] = saved as [tf.Tensor2D];
      return [tf.zerosLike(sa), aTtimesDy(sa, dy as tf.Tensor2D)];
    },
  };
});

/**
 * a·b for 2-D tensors, differentiable, with gradients that avoid the wasm backend's slow
 * transposed products. On other backends it is plain tf.matMul. Pass `gradA = false` when `a` is
 * the data (the first layer of a network): its gradient is then reported as zeros, saving the
 * largest product of the backward pass.
 */
export function matMul(a: tf.Tensor2D, b: tf.Tensor2D, gradA = true): tf.Tensor2D {
  if (tf.getBackend() !== 'wasm') return tf.matMul(a, b);
  return (gradA ? fastMatMul(a, b) : fastMatMulNoGradA(a, b)) as tf.Tensor2D;
}

/** The fused dense layer's backward pass: dy·wᵀ (unless `inputGrad` is off), xᵀ·dy, Σ_rows dy. */
function fusedDense(inputGrad: boolean) {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([x, w]);
    return {
      value: tf.engine().runKernel(DENSE, { x, w, b }) as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
        const dy2 = dy as tf.Tensor2D;
        return [
          inputGrad ? dyTimesBt(dy2, sw) : tf.zerosLike(sx),
          aTtimesDy(sx, dy2),
          tf.engine().runKernel(COLSUM, { x: dy2 }) as tf.Tensor1D,
        ];
      },
    };
  });
}

const fusedDenseWithInputGrad = fusedDense(true);
const fusedDenseNoInputGrad = fusedDense(false);

/**
 * x·w + b for a dense layer (b [cols] broadcast over rows), differentiable; `inputGrad` as in
 * matMul. On wasm, where the gemm kernel takes the shapes, the forward pass is one kernel (the
 * bias starts the accumulators) and the backward three (dy·wᵀ, xᵀ·dy, the column sums of dy):
 * no Transpose, broadcast Add or axis-0 Sum (which tfjs runs as a transpose and a reduction).
 */
export function affine(
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  b: tf.Tensor,
  inputGrad = true,
): tf.Tensor2D {
  const fused =
    tf.getBackend() === 'wasm' &&
    b.rank === 1 &&
    b.dtype === 'float32' &&
    b.shape[0] === w.shape[1] &&
    gemmHandles(x, w, false, false);
  if (!fused) return tf.add(matMul(x, w, inputGrad), b);
  return (inputGrad ? fusedDenseWithInputGrad : fusedDenseNoInputGrad)(x, w, b) as tf.Tensor2D;
}
