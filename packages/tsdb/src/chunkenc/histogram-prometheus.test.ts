/**
 * The proof of compatibility: Debian's Prometheus 2.42 ingests integer and float native histograms by
 * remote write, persists them in a block (admin snapshot of the head), and Strata reads every chunk back
 * to what was written, and re-encodes the same samples (cut into chunks as the head does) into
 * byte-identical chunks.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockReader } from '../block/reader.js';
import { Encoding, ValueType, type ChunkMeta } from './chunk.js';
import { floatHi, floatLo } from './floatbits.js';
import { cutFloatHistogramChunks, cutHistogramChunks } from './histogram-cutter.js';
import { normalized, seriesSpecs, toFloatHistogram, toHistogram, type Shape } from './histogram.testdata.js';
import type { FloatHistogram } from '../histogram/float.js';
import type { Histogram, Span } from '../histogram/types.js';

// --- A minimal protobuf writer for prompb.WriteRequest, and snappy's block format with literals only. ---

type Bytes = number[];
const uvarint = (x: bigint): Bytes => {
  const out: Bytes = [];
  let v = BigInt.asUintN(64, x);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
};
const zigzag = (x: number): bigint => BigInt.asUintN(64, (BigInt(x) << 1n) ^ (BigInt(x) >> 63n));
const tag = (field: number, wire: number): Bytes => uvarint(BigInt((field << 3) | wire));
const varintField = (field: number, x: bigint): Bytes => [...tag(field, 0), ...uvarint(x)];
const lenField = (field: number, b: Bytes): Bytes => [...tag(field, 2), ...uvarint(BigInt(b.length)), ...b];
const double = (v: number): Bytes => {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(floatLo(v), 0);
  b.writeUInt32LE(floatHi(v), 4);
  return [...b];
};
const doubleField = (field: number, v: number): Bytes => [...tag(field, 1), ...double(v)];
const spanField = (field: number, s: Span): Bytes => lenField(field, [...varintField(1, zigzag(s.offset)), ...varintField(2, BigInt(s.length))]);

function histogramProto(t: number, h: Histogram | FloatHistogram, float: boolean): Bytes {
  const out: Bytes = [];
  out.push(...(float ? doubleField(2, h.count) : varintField(1, BigInt(h.count))));
  out.push(...doubleField(3, h.sum), ...varintField(4, zigzag(h.schema)), ...doubleField(5, h.zeroThreshold));
  out.push(...(float ? doubleField(7, h.zeroCount) : varintField(6, BigInt(h.zeroCount))));
  for (const s of h.negativeSpans) out.push(...spanField(8, s));
  if (h.negativeBuckets.length > 0) {
    out.push(...lenField(float ? 10 : 9, h.negativeBuckets.flatMap((v) => (float ? double(v) : uvarint(zigzag(v))))));
  }
  for (const s of h.positiveSpans) out.push(...spanField(11, s));
  if (h.positiveBuckets.length > 0) {
    out.push(...lenField(float ? 13 : 12, h.positiveBuckets.flatMap((v) => (float ? double(v) : uvarint(zigzag(v))))));
  }
  out.push(...varintField(14, BigInt(h.counterResetHint)), ...varintField(15, BigInt(t)));
  return out;
}

function snappyLiteral(data: Uint8Array): Buffer {
  const out: Bytes = [...uvarint(BigInt(data.length))];
  for (let i = 0; i < data.length; i += 65536) {
    const n = Math.min(65536, data.length - i) - 1;
    if (n < 60) out.push(n << 2);
    else if (n < 256) out.push(60 << 2, n);
    else out.push(61 << 2, n & 0xff, n >> 8);
    for (let k = 0; k <= n; k++) out.push(data[i + k] as number);
  }
  return Buffer.from(out);
}

// --- The test. ---

const N = 300;
const STEP = 2_000;
/** The head's chunk range with the default 2h blocks. */
const CHUNK_RANGE = 2 * 3600 * 1000;

interface Written {
  name: string;
  float: boolean;
  samples: { t: number; h: Histogram | FloatHistogram }[];
}

let prom: PrometheusHandle;
let dir: string;
const written: Written[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-histogram-'));
  prom = await startPrometheus({
    dir,
    extraArgs: ['--enable-feature=native-histograms', '--web.enable-remote-write-receiver', '--web.enable-admin-api'],
  });
  const start = Math.floor(Date.now() / 1000) * 1000 - N * STEP - 60_000;
  const body: Bytes = [];
  for (const float of [false, true]) {
    for (const spec of seriesSpecs(N, float)) {
      const name = `${float ? 'fh' : 'h'}_${spec.name}`;
      const samples = spec.shapes.map((s: Shape, i) => ({ t: start + i * STEP + (i % 7) * 13, h: float ? toFloatHistogram(s) : toHistogram(s) }));
      written.push({ name, float, samples });
      body.push(...lenField(1, [...labelsField(name), ...samples.flatMap((s) => lenField(4, histogramProto(s.t, s.h, float)))]));
    }
  }
  await remoteWrite(body);
  // A float sample after each series' histograms makes the head cut an XOR chunk, so every histogram
  // chunk is complete: the snapshot copies complete chunks as they are, and re-encodes the open one.
  const floats: Bytes = [];
  for (const w of written) {
    const t = (w.samples[w.samples.length - 1] as { t: number }).t + STEP;
    floats.push(...lenField(1, [...labelsField(w.name), ...lenField(2, [...doubleField(1, 1), ...varintField(2, BigInt(t))])]));
  }
  await remoteWrite(floats);
});

function labelsField(name: string): Bytes {
  return lenField(1, [...lenField(1, [...Buffer.from('__name__')]), ...lenField(2, [...Buffer.from(name)])]);
}

async function remoteWrite(body: Bytes): Promise<void> {
  const res = await fetch(`${prom.url}/api/v1/write`, {
    method: 'POST',
    headers: { 'Content-Encoding': 'snappy', 'Content-Type': 'application/x-protobuf', 'X-Prometheus-Remote-Write-Version': '0.1.0' },
    body: snappyLiteral(Uint8Array.from(body)),
  });
  expect(res.status, await res.text()).toBe(204);
}

afterAll(async () => {
  await prom?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('native histogram chunks written by Prometheus 2.42', () => {
  it('decode to what was written, and re-encode byte for byte', async () => {
    const res = await fetch(`${prom.url}/api/v1/admin/tsdb/snapshot`, { method: 'POST' });
    const answer = (await res.json()) as { data?: { name: string }; error?: string };
    if (answer.data === undefined) throw new Error(`snapshot: ${answer.error}`);
    const data = answer.data;
    const snap = join(prom.dataDir, 'snapshots', data.name);
    const blocks = await readdir(snap);
    expect(blocks).toHaveLength(1);
    const block = await BlockReader.openDir(join(snap, blocks[0] as string));
    const got = new Map<string, ChunkMeta[]>();
    for await (const s of block.chunkSeries([])) got.set(s.labels.get('__name__'), s.chunks.slice(0, -1));
    await block.close();
    expect([...got.keys()].sort()).toEqual(written.map((w) => w.name).sort());

    let chunks = 0;
    let identical = 0;
    const headers = new Set<number>();
    for (const w of written) {
      const theirs = got.get(w.name) as ChunkMeta[];
      // Decoding: every sample as written.
      const decoded: unknown[] = [];
      const ts: number[] = [];
      for (const c of theirs) {
        expect(c.chunk.encoding).toBe(w.float ? Encoding.FloatHistogram : Encoding.Histogram);
        headers.add((c.chunk.bytes[2] as number) & 0xc0);
        const it = c.chunk.iterator();
        for (let vt = it.next(); vt !== ValueType.None; vt = it.next()) {
          expect(vt).toBe(w.float ? ValueType.FloatHistogram : ValueType.Histogram);
          ts.push(it.atT());
          decoded.push(normalized(w.float ? it.atFloatHistogram!() : it.atHistogram!(), w.float));
        }
        expect(it.err()).toBeNull();
      }
      expect(ts, w.name).toEqual(w.samples.map((s) => s.t));
      expect(decoded, w.name).toEqual(w.samples.map((s) => normalized(s.h, w.float)));

      // Encoding: the same chunks, byte for byte.
      const ours = w.float
        ? cutFloatHistogramChunks(w.samples as { t: number; h: FloatHistogram }[], CHUNK_RANGE)
        : cutHistogramChunks(w.samples as { t: number; h: Histogram }[], CHUNK_RANGE);
      expect(ours.map((c) => [c.minTime, c.maxTime]), w.name).toEqual(theirs.map((c) => [c.minTime, c.maxTime]));
      for (let i = 0; i < ours.length; i++) {
        const a = Buffer.from((ours[i] as ChunkMeta).chunk.bytes).toString('hex');
        const b = Buffer.from((theirs[i] as ChunkMeta).chunk.bytes).toString('hex');
        expect(a, `${w.name} chunk ${i}`).toBe(b);
        chunks++;
        if (a === b) identical++;
      }
    }
    expect(identical).toBe(chunks);
    // The headers Prometheus wrote cover every hint: unknown, reset, not a reset, gauge.
    expect([...headers].sort((a, b) => a - b)).toEqual([0x00, 0x40, 0x80, 0xc0]);
  });
});
