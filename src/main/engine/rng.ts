/**
 * Seeded pseudo-random numbers for everything the engine draws: splits, tasks, inits, noise.
 * One algorithm everywhere (splitmix32 seeding a sfc32 stream) so that the same config and seed
 * gives the same numbers on every backend and every front door.
 */

/** Hash a string label into a 32-bit integer (FNV-1a), for deriving child seeds by name. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function splitmix32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let t = a ^ (a >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    t ^= t >>> 15;
    return t >>> 0;
  };
}

/** A stream's position (Rng.state), plain data that crosses postMessage. */
export interface RngState {
  readonly seed: number;
  readonly s: readonly [number, number, number, number];
  readonly spare: number | null;
}

/** A deterministic random stream. Not cryptographic. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | null = null;
  /** The seed this stream was built from, kept for provenance. */
  readonly seed: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`Rng seed must be a finite number, got ${seed}`);
    this.seed = seed >>> 0;
    const sm = splitmix32(this.seed);
    this.a = sm();
    this.b = sm();
    this.c = sm();
    this.d = sm();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** An independent copy of this stream at its current position (both then draw the same). */
  clone(): Rng {
    const r = new Rng(this.seed);
    r.a = this.a;
    r.b = this.b;
    r.c = this.c;
    r.d = this.d;
    r.spareNormal = this.spareNormal;
    return r;
  }

  /** This stream's position as plain numbers, to continue it in another thread (fromState). */
  state(): RngState {
    return { seed: this.seed, s: [this.a, this.b, this.c, this.d], spare: this.spareNormal };
  }

  /** The stream `state()` described, at the same position: it draws what the original draws. */
  static fromState(st: RngState): Rng {
    const r = new Rng(st.seed);
    [r.a, r.b, r.c, r.d] = st.s;
    r.spareNormal = st.spare;
    return r;
  }

  /** A new independent stream derived from this seed and a label; does not advance this stream. */
  fork(label: string | number): Rng {
    return new Rng((Math.imul(this.seed ^ 0x5bd1e995, 31) + hashString(String(label))) >>> 0);
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!(n > 0)) throw new Error(`Rng.int needs n > 0, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Standard normal draw (Box-Muller, caching the spare value). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /**
   * A new Float32Array of N(mean, std²) draws by Marsaglia's polar method: no sin/cos, one log
   * per pair, ~3× faster than normalArray for the large per-step noise arrays of the trainers
   * (a VAE batch's input noise is 110k draws). A different stream from normalArray's (the spare
   * of normal() is neither used nor changed).
   */
  fastNormalArray(n: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      let u: number;
      let v: number;
      let s: number;
      do {
        u = 2 * this.next() - 1;
        v = 2 * this.next() - 1;
        s = u * u + v * v;
      } while (s >= 1 || s === 0);
      const f = std * Math.sqrt((-2 * Math.log(s)) / s);
      out[i] = mean + f * u;
      if (i + 1 < n) out[i + 1] = mean + f * v;
    }
    return out;
  }

  /** Fill a new Float32Array with N(mean, std²) draws. */
  normalArray(n: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /** Fill a new Float32Array with U(lo, hi) draws. */
  uniformArray(n: number, lo: number, hi: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * this.next();
    return out;
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T extends { length: number; [i: number]: unknown }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = arr[i];
      arr[i] = arr[j];
      arr[j] = tmp;
    }
    return arr;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /** k distinct indices from 0..n-1, in random order. */
  sample(n: number, k: number): Int32Array {
    if (k > n) throw new Error(`cannot sample ${k} distinct items from ${n}`);
    return this.permutation(n).slice(0, k);
  }

  /** A seed for a tfjs initialiser or a child process, derived from this stream. */
  seedInt(): number {
    return this.nextUint32() & 0x7fffffff;
  }
}
