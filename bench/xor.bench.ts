/**
 * XOR chunk encode and decode throughput on the three chunk shapes Prometheus benchmarks, 120 samples
 * per chunk: constant values at a fixed 15s step; 15s steps with jitter and random-step values; 15s
 * steps with jitter and random values in [0, 1).
 *
 * The reference, measured in the same run, is a straightforward decoder that keeps the bit stream
 * and values as BigInt (bench/xor-bigint.ts); the ratio says what the number-based bit reader buys.
 *
 *   pnpm bench xor [--chunks=N] [--rounds=N]
 */
import { ValueType, XORChunk, type SampleIterator } from '../packages/tsdb/src/index.js';
import { decodeBigInt } from './xor-bigint.js';

const SAMPLES_PER_CHUNK = 120;

interface Shape {
  name: string;
  /** Decode target in samples/s, or 0 for none. */
  decodeTarget: number;
  /** Fills `ts`/`vs` with one chunk's samples. */
  fill(rnd: () => number, ts: Float64Array, vs: Float64Array): void;
}

const shapes: Shape[] = [
  {
    name: 'constant',
    decodeTarget: 50e6,
    fill(_rnd, ts, vs) {
      for (let i = 0; i < ts.length; i++) {
        ts[i] = 1_700_000_000_000 + i * 15_000;
        vs[i] = 1243535.123;
      }
    },
  },
  {
    name: 'random steps',
    decodeTarget: 25e6,
    fill(rnd, ts, vs) {
      let t = 1_700_000_000_000;
      let v = 1000;
      for (let i = 0; i < ts.length; i++) {
        ts[i] = t;
        vs[i] = v;
        t += 15_000 + Math.floor((rnd() - 0.5) * 200);
        v += Math.floor((rnd() - 0.5) * 200);
      }
    },
  },
  {
    name: 'random [0,1)',
    decodeTarget: 0,
    fill(rnd, ts, vs) {
      let t = 1_700_000_000_000;
      for (let i = 0; i < ts.length; i++) {
        ts[i] = t;
        vs[i] = rnd();
        t += 15_000 + Math.floor((rnd() - 0.5) * 200);
      }
    },
  },
];

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * Best of `rounds` runs of `fn`, in seconds of this process' CPU time (user + system), which other load
 * on a shared machine disturbs less than wall time; the work is single-threaded, so it is one core's time.
 */
function best(rounds: number, fn: () => void): number {
  let min = Infinity;
  for (let r = 0; r < rounds; r++) {
    const start = process.cpuUsage();
    fn();
    const used = process.cpuUsage(start);
    min = Math.min(min, (used.user + used.system) / 1e6);
  }
  return min;
}

function flag(args: string[], name: string, def: number): number {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? def : Number(a.slice(name.length + 3));
}

const fmt = (x: number): string => `${(x / 1e6).toFixed(1)} M/s`;

interface Prepared {
  shape: Shape;
  ts: Float64Array[];
  vs: Float64Array[];
  encodeSecs: number;
  chunks: Uint8Array[];
}

/** Generates a shape's samples and measures encoding them. */
function prepare(shape: Shape, nChunks: number, rounds: number): Prepared {
  const rnd = mulberry32(1);
  const ts: Float64Array[] = [];
  const vs: Float64Array[] = [];
  for (let c = 0; c < nChunks; c++) {
    const t = new Float64Array(SAMPLES_PER_CHUNK);
    const v = new Float64Array(SAMPLES_PER_CHUNK);
    shape.fill(rnd, t, v);
    ts.push(t);
    vs.push(v);
  }
  let chunks: Uint8Array[] = [];
  const encodeSecs = best(rounds, () => {
    chunks = [];
    for (let c = 0; c < nChunks; c++) {
      const chunk = new XORChunk();
      const app = chunk.appender();
      const t = ts[c] as Float64Array;
      const v = vs[c] as Float64Array;
      for (let i = 0; i < SAMPLES_PER_CHUNK; i++) app.append(t[i] as number, v[i] as number);
      chunks.push(chunk.bytes);
    }
  });
  return { shape, ts, vs, encodeSecs, chunks };
}

export async function main(args: string[]): Promise<void> {
  const nChunks = flag(args, 'chunks', 20_000);
  const rounds = flag(args, 'rounds', 15);
  const total = nChunks * SAMPLES_PER_CHUNK;
  const prepared = shapes.map((shape) => prepare(shape, nChunks, rounds));
  const parsed = prepared.map((p) => p.chunks.map((b) => XORChunk.fromBytes(b)));
  // Warm up on every shape first, as a long-running process that sees all kinds of chunks is: otherwise
  // the JIT's state depends on which shape happens to be measured first.
  for (let r = 0; r < 3; r++) for (const chunks of parsed) sink += decodeAll(chunks);

  const rows: string[][] = [['shape', 'bytes/sample', 'encode', 'decode', 'decode BigInt ref', 'ratio', 'decode target', 'result']];
  let failed = false;
  prepared.forEach(({ shape, ts, vs, encodeSecs, chunks }, k) => {
    const decodeSecs = best(rounds, () => {
      sink += decodeAll(parsed[k]!);
    });
    const refSecs = best(Math.max(1, Math.floor(rounds / 3)), () => {
      for (const c of chunks) sink += decodeBigInt(c);
    });
    verify(parsed[k]!, ts, vs);

    const bytes = chunks.reduce((n, c) => n + c.length, 0);
    const decodeRate = total / decodeSecs;
    const ok = shape.decodeTarget === 0 || decodeRate >= shape.decodeTarget;
    failed ||= !ok;
    rows.push([
      shape.name,
      (bytes / total).toFixed(2),
      fmt(total / encodeSecs),
      fmt(decodeRate),
      fmt(total / refSecs),
      `${(refSecs / decodeSecs).toFixed(1)}×`,
      shape.decodeTarget === 0 ? '–' : `≥ ${fmt(shape.decodeTarget)}`,
      shape.decodeTarget === 0 ? '–' : ok ? 'pass' : 'FAIL',
    ]);
  });
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write(`XOR chunks: ${nChunks} chunks × ${SAMPLES_PER_CHUNK} samples per shape, best of ${rounds} by CPU time, one core (Node ${process.version})\n`);
  for (const r of rows) process.stdout.write(r.map((c, i) => c.padEnd(widths[i]!)).join('  ') + '\n');
  if (Number.isNaN(sink)) process.stdout.write('(NaN checksum)\n');
  if (failed) process.exitCode = 1;
}

/** Keeps the decoders' results alive. */
let sink = 0;

/** Decodes every chunk with one reused iterator; the sum keeps the work from being optimised away. */
function decodeAll(chunks: readonly XORChunk[]): number {
  let sum = 0;
  let it: SampleIterator | undefined;
  for (const c of chunks) {
    it = c.iterator(it);
    while (it.next() !== ValueType.None) sum += it.atT() + it.atFloat();
  }
  return sum;
}

/** The benchmark is only meaningful if the decoded samples are the encoded ones. */
function verify(chunks: XORChunk[], ts: Float64Array[], vs: Float64Array[]): void {
  const f = new Float64Array(2);
  const u = new BigUint64Array(f.buffer);
  for (let c = 0; c < chunks.length; c += 97) {
    const it = chunks[c]!.iterator();
    for (let i = 0; it.next() !== ValueType.None; i++) {
      f[0] = it.atFloat();
      f[1] = vs[c]![i]!;
      if (it.atT() !== ts[c]![i] || u[0] !== u[1]) throw new Error(`chunk ${c} sample ${i} decoded wrong`);
    }
  }
}
