/**
 * A harder, noisier 28×28 dataset for the seen-ratio checks (README, CNN zoos: one run per task):
 * the embedded Fashion-MNIST images, each flipped left-right with probability 1/2, shifted by up
 * to 4 pixels (wrapping), its contrast scaled by U(0.4, 1.2) and brightness moved by
 * U(−0.1, 0.2), plus Gaussian noise of std 0.25, clipped to [0, 1]. Seeded: the same files every
 * time. Writes `hard-images-idx3-ubyte.gz` and `hard-labels-idx1-ubyte.gz` for an `idx` source:
 *
 *   npx tsx bench/hard-fashion.ts OUT_DIR
 *   npx d2nwg bench quality --preset smoke --config '{"dataset": {"kind": "idx",
 *     "images": "OUT_DIR/hard-images-idx3-ubyte.gz", "labels": "OUT_DIR/hard-labels-idx1-ubyte.gz"}}'
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Rng } from '../src/main/engine/rng.ts';

const SRC = join(import.meta.dirname, '..', 'resources', 'datasets', 'fashion-mnist');

function main(): void {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: npx tsx bench/hard-fashion.ts OUT_DIR');
    process.exitCode = 2;
    return;
  }
  const images = gunzipSync(readFileSync(join(SRC, 't10k-images-idx3-ubyte.gz')));
  const labels = gunzipSync(readFileSync(join(SRC, 't10k-labels-idx1-ubyte.gz')));
  const n = images.readUInt32BE(4);
  const [h, w] = [images.readUInt32BE(8), images.readUInt32BE(12)];
  const rng = new Rng(0);
  const result = Buffer.from(images);
  const px = new Float32Array(h * w);
  for (let i = 0; i < n; i++) {
    const base = 16 + i * h * w;
    const flip = rng.next() < 0.5;
    const dx = rng.int(9) - 4;
    const dy = rng.int(9) - 4;
    const contrast = 0.4 + 0.8 * rng.next();
    const brightness = -0.1 + 0.3 * rng.next();
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        const sr = (((r - dy) % h) + h) % h;
        const sc0 = (((c - dx) % w) + w) % w;
        const sc = flip ? w - 1 - sc0 : sc0;
        px[r * w + c] = images[base + sr * w + sc] / 255;
      }
    }
    for (let j = 0; j < h * w; j++) {
      const v = px[j] * contrast + brightness + 0.25 * rng.normal();
      result[base + j] = Math.round(255 * Math.min(1, Math.max(0, v)));
    }
  }
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'hard-images-idx3-ubyte.gz'), gzipSync(result));
  writeFileSync(join(out, 'hard-labels-idx1-ubyte.gz'), gzipSync(labels));
  console.log(`${n} images of ${h}×${w} written to ${out}`);
}

main();
