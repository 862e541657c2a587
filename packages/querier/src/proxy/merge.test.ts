import { chunkHash, type AggrChunk } from '@strata/storeapi';
import { Labels } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { dedupChunks, SeriesStreamMerge, type LabeledSeries } from './merge.js';

const chunk = (minTime: number, maxTime: number, bytes: number[], hashed: boolean): AggrChunk => {
  const data = Uint8Array.from(bytes);
  return { minTime, maxTime, raw: { type: 0, data, hash: hashed ? chunkHash(data) : 0n } };
};

describe('dedupChunks', () => {
  it('drops byte-identical chunks whether or not their stores sent hashes, keeps differing ones', () => {
    for (const [a, b] of [
      [true, true],
      [false, false],
      [true, false],
      [false, true],
    ] as const) {
      const chunks = [chunk(10, 20, [1, 2, 3], a), chunk(0, 9, [9], a), chunk(10, 20, [1, 2, 4], b), chunk(10, 20, [1, 2, 3], b), chunk(0, 9, [9], b)];
      dedupChunks(chunks);
      expect(chunks.map((c) => [c.minTime, c.maxTime, [...c.raw!.data]])).toEqual([
        [0, 9, [9]],
        [10, 20, [1, 2, 3]],
        [10, 20, [1, 2, 4]],
      ]);
    }
  });

  it('keeps chunks with equal bytes but different time ranges', () => {
    const chunks = [chunk(0, 10, [7], false), chunk(0, 11, [7], false)];
    dedupChunks(chunks);
    expect(chunks).toHaveLength(2);
  });
});

describe('SeriesStreamMerge', () => {
  const series = (name: string, ...mins: number[]): LabeledSeries => ({ labels: Labels.from({ __name__: name }), chunks: mins.map((m) => chunk(m, m + 9, [m & 0xff], false)) });
  const view = (s: LabeledSeries) => [s.labels.get('__name__'), s.chunks.map((c) => c.minTime)];

  it('emits a series once every endpoint still sending has sent a later one', () => {
    const out: LabeledSeries[] = [];
    const m = new SeriesStreamMerge([undefined, undefined, undefined], (s) => out.push(s));
    m.add(0, series('a', 0));
    m.add(0, series('c', 0));
    m.drain();
    expect(out).toEqual([]); // endpoints 1 and 2 have sent nothing yet
    m.add(1, series('a', 10));
    m.add(1, series('b', 0));
    m.end(2);
    m.drain();
    expect(out.map(view)).toEqual([['a', [0, 10]]]);
    m.add(1, series('b', 20)); // b continues in endpoint 1's next frame
    m.add(1, series('d', 0));
    m.drain();
    expect(out.map(view)).toEqual([['a', [0, 10]], ['b', [0, 20]]]);
    m.end(0);
    m.end(1);
    m.drain();
    expect(out.map(view)).toEqual([['a', [0, 10]], ['b', [0, 20]], ['c', [0]], ['d', [0]]]);
  });

  it('merges an endpoint’s whole answer given at its end, equal labels in it included, and drops copies of chunks', () => {
    const out: LabeledSeries[] = [];
    const m = new SeriesStreamMerge([undefined, undefined], (s) => out.push(s));
    m.add(0, series('a', 0, 10));
    m.add(0, series('b', 0));
    m.end(0);
    m.end(1, [series('a', 10, 20), series('a', 30), series('c', 0)]);
    m.drain();
    expect(out.map(view)).toEqual([['a', [0, 10, 20, 30]], ['b', [0]], ['c', [0]]]);
  });

  it('names each chunk’s replica where endpoints of different replicas sent the series, their chunks in order or not', () => {
    for (const first of [[0, 30], [30, 0]]) {
      const out: LabeledSeries[] = [];
      const m = new SeriesStreamMerge(['r0', 'r1', undefined, 'r0'], (s) => out.push(s));
      m.add(0, series('a', ...first));
      m.add(1, series('a', 5));
      m.add(2, series('a', 10));
      m.add(3, series('a', 0, 20)); // the first a copy of endpoint 0's
      m.add(0, series('b', 0));
      m.add(3, series('b', 10)); // one replica's: none named
      for (let i = 0; i < 4; i++) m.end(i);
      m.drain();
      expect(out.map((s) => [...view(s), s.replicaOf])).toEqual([
        ['a', [0, 5, 10, 20, 30], ['r0', 'r1', undefined, 'r0', 'r0']],
        ['b', [0, 10], undefined],
      ]);
    }
  });

  it('emits what a full merge of the endpoints’ answers gives, in order, however their frames interleave', () => {
    let seed = 3;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const names = Array.from({ length: 30 }, (_, i) => `s${String(i).padStart(2, '0')}`);
    for (let k = 0; k < 200; k++) {
      const n = 1 + Math.floor(rnd() * 4);
      // Each endpoint: some of the names, each in one or two pieces (a series continued in the next frame).
      const answers = Array.from({ length: n }, (_, e) => names.filter(() => rnd() < 0.5).flatMap((name) => (rnd() < 0.3 ? [series(name, e * 100), series(name, e * 100 + 50)] : [series(name, e * 100)])));
      const want = names
        .map((name) => [name, answers.flatMap((a) => a.filter((s) => s.labels.get('__name__') === name).flatMap((s) => s.chunks.map((c) => c.minTime)))] as const)
        .filter(([, mins]) => mins.length > 0)
        .map(([name, mins]) => [name, [...mins].sort((a, b) => a - b)]);
      const out: LabeledSeries[] = [];
      const m = new SeriesStreamMerge(new Array<undefined>(n).fill(undefined), (s) => out.push(s));
      const pos = answers.map(() => 0);
      const open = answers.map((_, e) => e);
      while (open.length > 0) {
        const j = Math.floor(rnd() * open.length);
        const e = open[j]!;
        const frame = 1 + Math.floor(rnd() * 3);
        for (let f = 0; f < frame && pos[e]! < answers[e]!.length; f++) m.add(e, answers[e]![pos[e]!++]!);
        if (pos[e] === answers[e]!.length) {
          m.end(e);
          open.splice(j, 1);
        }
        const before = out.length;
        m.drain();
        // Nothing emitted may still grow: every endpoint still open has sent a later series.
        for (const s of out.slice(before)) for (const o of open) expect(Labels.compare(answers[o]![pos[o]! - 1]!.labels, s.labels)).toBeGreaterThan(0);
      }
      expect(out.map(view)).toEqual(want);
    }
  });
});
