/**
 * PyTorch naming and memory order for safetensors exports, so `model.load_state_dict(
 * safetensors.torch.load_file(path))` works on the module the manifest describes:
 *
 * - MLP: `layers.{i}.weight` [out, in] and `layers.{i}.bias` [out] for the i-th nn.Linear
 *   (an nn.ModuleList of Linear layers; activations are not modules in this naming).
 * - CNN: `convs.{i}.weight` [cout, cin, kh, kw] and `convs.{i}.bias` for the i-th nn.Conv2d
 *   (stride 2), then `head.weight` [outputs, channels] and `head.bias` after global average pooling.
 *
 * Our flat layout stores dense kernels [in, out] and conv kernels [kh, kw, cin, cout] (tfjs
 * order), so both are transposed here.
 */
import type { Layout, ParamSpec } from '../nn/architecture.ts';
import { featureTensors, torchFeatureLines, type ExportFeatures } from './features.ts';

/** One tensor of the PyTorch state dict, and where it came from in the flat layout. */
export interface TorchTensor {
  readonly name: string;
  readonly shape: number[];
  readonly data: Float32Array;
  /** Layout parameter it was built from. */
  readonly from: string;
  /** How the layout tensor was permuted ('none', 'transpose(1, 0)', 'permute(3, 2, 0, 1)'). */
  readonly transform: string;
}

/** Row-major [rows, cols] → [cols, rows]. */
export function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) out[j * rows + i] = src[i * cols + j];
  return out;
}

/** [kh, kw, cin, cout] → [cout, cin, kh, kw]. */
function hwioToOihw(
  src: Float32Array,
  kh: number,
  kw: number,
  ci: number,
  co: number,
): Float32Array {
  const out = new Float32Array(src.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let c = 0; c < ci; c++)
        for (let o = 0; o < co; o++)
          out[((o * ci + c) * kh + y) * kw + x] = src[((y * kw + x) * ci + c) * co + o];
  return out;
}

function slice(params: Float32Array, p: ParamSpec): Float32Array {
  return params.slice(p.offset, p.offset + p.size);
}

/** The flat vector as a PyTorch state dict (names, shapes, data in PyTorch order). */
export function toTorchStateDict(layout: Layout, params: Float32Array): TorchTensor[] {
  const out: TorchTensor[] = [];
  const specs = layout.params;
  const pairs = specs.length / 2;
  for (let i = 0; i < pairs; i++) {
    const k = specs[2 * i];
    const b = specs[2 * i + 1];
    const isHead = layout.arch.kind === 'cnn' && i === pairs - 1;
    const prefix = layout.arch.kind === 'mlp' ? `layers.${i}` : isHead ? 'head' : `convs.${i}`;
    if (k.shape.length === 2) {
      const [inD, outD] = k.shape;
      out.push({
        name: `${prefix}.weight`,
        shape: [outD, inD],
        data: transpose2d(slice(params, k), inD, outD),
        from: k.name,
        transform: 'transpose(1, 0)',
      });
    } else {
      const [kh, kw, ci, co] = k.shape;
      out.push({
        name: `${prefix}.weight`,
        shape: [co, ci, kh, kw],
        data: hwioToOihw(slice(params, k), kh, kw, ci, co),
        from: k.name,
        transform: 'permute(3, 2, 0, 1)',
      });
    }
    out.push({
      name: `${prefix}.bias`,
      shape: [...b.shape],
      data: slice(params, b),
      from: b.name,
      transform: 'none',
    });
  }
  return out;
}

const IMPORTS = 'import torch, torch.nn as nn, torch.nn.functional as F, safetensors.torch';

/** The `Features` module whose buffers hold the feature pipeline (state dict `features.*`). */
function torchFeaturesClass(f: ExportFeatures): string[] {
  return [
    'class Features(nn.Module):  # raw flattened inputs -> the features the classifier takes',
    '    def __init__(self):',
    '        super().__init__()',
    ...featureTensors(f).map(
      (t) =>
        `        self.register_buffer("${t.name.slice('features.'.length)}", torch.zeros(${t.shape.join(', ')}))`,
    ),
    '    def forward(self, x):',
    ...torchFeatureLines(f, '        '),
    '        return x',
  ];
}

/**
 * A PyTorch module matching the state dict, as text for the manifest. With `features`, the module
 * takes raw inputs [n, D] (or [n, H, W, C]) and computes the features itself.
 */
export function torchModuleSource(layout: Layout, features?: ExportFeatures | null): string {
  const a = layout.arch;
  const act =
    a.activation === 'leaky_relu'
      ? 'F.leaky_relu(x, 0.01)'
      : a.activation === 'relu'
        ? 'F.relu(x)'
        : 'torch.tanh(x)';
  const head = features ? [IMPORTS, ...torchFeaturesClass(features)] : [IMPORTS];
  const initFeatures = features ? ['        self.features = Features()'] : [];
  if (a.kind === 'mlp') {
    const widths = [a.inputDim, ...a.hidden, a.outputs];
    const layers = widths
      .slice(0, -1)
      .map((w, i) => `nn.Linear(${w}, ${widths[i + 1]})`)
      .join(', ');
    return [
      ...head,
      'class Net(nn.Module):',
      '    def __init__(self):',
      '        super().__init__()',
      ...initFeatures,
      `        self.layers = nn.ModuleList([${layers}])`,
      features
        ? `    def forward(self, x):  # x: raw inputs [n, ${features.inputShape.reduce((p, q) => p * q, 1)}] (see manifest "input")`
        : '    def forward(self, x):  # x: [n, inputDim] feature vectors',
      features ? '        x = self.features(x)' : '        x = x.flatten(1)',
      '        for i, layer in enumerate(self.layers):',
      '            x = layer(x)',
      `            if i < len(self.layers) - 1: x = ${act}`,
      '        return x',
    ].join('\n');
  }
  const k = a.kernelSize;
  let cin = a.inputShape[2];
  const convs = a.channels.map((c) => {
    const s = `nn.Conv2d(${cin}, ${c}, ${k}, stride=2)`;
    cin = c;
    return s;
  });
  const [ih, iw, ic] = a.inputShape;
  return [
    ...head,
    'class Net(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    ...initFeatures,
    `        self.convs = nn.ModuleList([${convs.join(', ')}])`,
    `        self.head = nn.Linear(${cin}, ${a.outputs})`,
    ...(features
      ? [
          '    def forward(self, x):  # x: raw inputs [n, H*W*C] flattened in H, W, C order',
          `        x = self.features(x).reshape(-1, ${ih}, ${iw}, ${ic}).permute(0, 3, 1, 2)`,
        ]
      : ['    def forward(self, x):  # x: [n, C, H, W] (NCHW)']),
    '        for conv in self.convs:',
    `            h, w = x.shape[2], x.shape[3]`,
    `            ph = max((-(-h // 2) - 1) * 2 + ${k} - h, 0); pw = max((-(-w // 2) - 1) * 2 + ${k} - w, 0)`,
    "            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))  # TF 'same' padding",
    `            x = conv(x); x = ${act}`,
    '        return self.head(x.mean(dim=(2, 3)))',
  ].join('\n');
}
