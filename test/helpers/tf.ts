import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';

/**
 * Run `fn` and assert that it leaves no more live tensors than before. Use it around every engine
 * call in unit tests: a leak in a training loop is a memory leak per step.
 */
export async function expectNoLeakedTensors<T>(fn: () => T | Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const out = await fn();
  const after = tf.memory().numTensors;
  expect(after, `leaked ${after - before} tensors`).toBe(before);
  return out;
}
