/**
 * The weights as a tfjs LayersModel (`model.json` + `weights.bin`), loadable with
 * `tf.loadLayersModel` in a browser or Node. The model is built from the architecture with
 * tf.layers so that it computes exactly what engine/nn `forward` computes; it is serialised
 * through tf.io.withSaveHandler because tfjs without tfjs-node has no file:// handler, and the
 * bytes are written by the caller (all-or-nothing, see write.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { Activation } from '../../../shared/schemas/zoo.ts';
import { LEAKY_RELU_SLOPE } from '../nn/forward.ts';
import type { Layout } from '../nn/architecture.ts';
import { foldFeatures, featureDim, rawDim, type ExportFeatures } from './features.ts';

/** The two files of a tfjs LayersModel. */
export interface TfjsModelFiles {
  /** model.json text: topology + weights manifest pointing at weights.bin. */
  readonly modelJson: string;
  readonly weightsBin: Uint8Array;
}

function activationLayer(activation: Activation, name: string): tf.layers.Layer {
  switch (activation) {
    case 'leaky_relu':
      return tf.layers.leakyReLU({ alpha: LEAKY_RELU_SLOPE, name });
    case 'relu':
      return tf.layers.reLU({ name });
    case 'tanh':
      return tf.layers.activation({ activation: 'tanh', name });
  }
}

/**
 * Build the LayersModel for `layout` with `params` loaded. With `features`, the first layer is a
 * Dense layer named `features` holding the whole feature pipeline folded into one affine map
 * (features.ts), so `predict` takes raw flattened inputs. The caller owns the model and must
 * dispose it (it holds the weight variables).
 */
export function buildLayersModel(
  layout: Layout,
  params: Float32Array,
  features?: ExportFeatures | null,
): tf.Sequential {
  const a = layout.arch;
  const model = tf.sequential({ name: 'd2nwg_generated' });
  const pre: tf.Tensor[] = [];
  if (features) {
    const k = featureDim(features);
    model.add(
      tf.layers.dense({
        units: k,
        useBias: true,
        name: 'features',
        trainable: false,
        inputShape: [rawDim(features)],
      }),
    );
    if (a.kind === 'cnn') model.add(tf.layers.reshape({ targetShape: [...a.inputShape] }));
    const { kernel, bias } = foldFeatures(features);
    pre.push(tf.tensor2d(kernel, [rawDim(features), k]), tf.tensor1d(bias));
  }
  const first = (i: number, shape: number[]) => (i === 0 && !features ? { inputShape: shape } : {});
  if (a.kind === 'mlp') {
    const widths = [a.inputDim, ...a.hidden, a.outputs];
    for (let i = 0; i + 1 < widths.length; i++) {
      model.add(
        tf.layers.dense({
          units: widths[i + 1],
          useBias: true,
          name: `dense${i}`,
          ...first(i, [a.inputDim]),
        }),
      );
      if (i + 2 < widths.length) model.add(activationLayer(a.activation, `dense${i}_act`));
    }
  } else {
    a.channels.forEach((c, i) => {
      model.add(
        tf.layers.conv2d({
          filters: c,
          kernelSize: a.kernelSize,
          strides: 2,
          padding: 'same',
          useBias: true,
          name: `conv${i}`,
          ...first(i, [...a.inputShape]),
        }),
      );
      model.add(activationLayer(a.activation, `conv${i}_act`));
    });
    model.add(tf.layers.globalAveragePooling2d({ name: 'pool' }));
    model.add(tf.layers.dense({ units: a.outputs, useBias: true, name: 'dense' }));
  }
  // Trainable weights come in the same order as the layout (kernel, bias per layer); the frozen
  // 'features' layer's come after them (tfjs lists non-trainable weights last).
  const weights = [
    ...layout.params.map((p) =>
      tf.tensor(params.subarray(p.offset, p.offset + p.size), [...p.shape], 'float32'),
    ),
    ...pre,
  ];
  try {
    model.setWeights(weights);
  } finally {
    tf.dispose(weights);
  }
  return model;
}

/** Serialise the weights as tfjs LayersModel files. */
export async function tfjsModelFiles(
  layout: Layout,
  params: Float32Array,
  features?: ExportFeatures | null,
): Promise<TfjsModelFiles> {
  const model = buildLayersModel(layout, params, features);
  try {
    let files: TfjsModelFiles | null = null;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        if (artifacts.modelTopology === undefined || artifacts.weightSpecs === undefined) {
          throw new Error('tfjs export: the model produced no topology or weights');
        }
        const weightsBin = new Uint8Array(
          tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? new ArrayBuffer(0)),
        );
        const json: tf.io.ModelJSON = {
          modelTopology: artifacts.modelTopology,
          format: artifacts.format ?? 'layers-model',
          generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
          convertedBy: 'D2NWG Studio',
          weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
        };
        files = { modelJson: JSON.stringify(json), weightsBin };
        return {
          modelArtifactsInfo: {
            dateSaved: new Date(),
            modelTopologyType: 'JSON',
            weightDataBytes: weightsBin.byteLength,
          },
        };
      }),
    );
    if (files === null) throw new Error('tfjs export: the save handler was not called');
    return files;
  } finally {
    model.dispose();
  }
}
