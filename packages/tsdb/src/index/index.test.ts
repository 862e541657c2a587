import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promtool } from '@strata/testing/prometheus';
import { tempDir } from '@strata/testing/process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileByteRange, MemoryByteRange, type ByteRange } from '../encoding/byterange.js';
import { Decbuf } from '../encoding/decbuf.js';
import { compareStrings, Labels } from '../labels/labels.js';
import { matchLabels, Matcher } from '../labels/matcher.js';
import { IndexReader, type SeriesEntry } from './reader.js';
import { IndexWriter, type ChunkRef } from './writer.js';

// A promtool block whose index the reader must read and the writer must reproduce byte for byte.
let dir: { path: string; cleanup: () => Promise<void> };
let indexPath: string;
let all: SeriesEntry[];

beforeAll(async () => {
  dir = await tempDir();
  const lines: string[] = ['# TYPE m gauge'];
  // 3 jobs × 70 instances (more than 32 values per name, so lookups go between samples), some without `zone`.
  for (let j = 0; j < 3; j++) {
    for (let i = 0; i < 70; i++) {
      const zone = i % 3 === 0 ? '' : `,zone="z${i % 5}"`;
      for (let t = 0; t < 3; t++) lines.push(`m{job="job${j}",instance="host${String(i).padStart(3, '0')}"${zone}} ${i * t} ${1700000000 + t * 15}`);
    }
  }
  lines.push('# TYPE other counter', 'other_total{job="job1",path="/a\\"b\\\\c",u="ünï€𝄞"} 1 1700000000', '# EOF', '');
  await writeFile(join(dir.path, 'in.om'), lines.join('\n'));
  await promtool(['tsdb', 'create-blocks-from', 'openmetrics', '-q', join(dir.path, 'in.om'), join(dir.path, 'out')]);
  const [ulid] = await readdir(join(dir.path, 'out'));
  indexPath = join(dir.path, 'out', ulid as string, 'index');
  const r = await IndexReader.open(await FileByteRange.open(indexPath));
  all = [];
  for await (const s of r.series(await r.allPostings())) all.push(s);
  await r.close();
});
afterAll(() => dir.cleanup());

describe('index', () => {
  it('reads every series of a promtool index', () => {
    expect(all).toHaveLength(3 * 70 + 1);
    expect(all[0]?.labels.toString()).toBe('{__name__="m", instance="host000", job="job0"}');
    expect(all.at(-1)?.labels.get('path')).toBe('/a"b\\c');
    expect(all.at(-1)?.labels.get('u')).toBe('ünï€𝄞');
    for (const s of all) expect(s.chunks.length).toBe(1);
  });

  it('writes the same bytes as promtool for the same series and chunk refs', async () => {
    const r = await IndexReader.open(await FileByteRange.open(indexPath));
    const out = join(dir.path, 'rewritten');
    const w = await IndexWriter.create(out, r.symbols());
    for (const s of all) await w.addSeries(s.labels, s.chunks);
    await w.close();
    await r.close();
    expect(Buffer.compare(await readFile(out), await readFile(indexPath))).toBe(0);
  });

  it('reads only the postings of the values an alternation of literals names', async () => {
    const bytes = await readFile(indexPath);
    const counted = async (ms: Matcher[]): Promise<{ ids: number[]; read: number }> => {
      let read = 0;
      const range = new MemoryByteRange('index', bytes);
      const r = await IndexReader.open({
        name: range.name,
        size: () => range.size(),
        read: (off, len) => {
          read += len;
          return range.read(off, len);
        },
        close: () => range.close(),
      });
      read = 0;
      return { ids: [...(await r.postingsForMatchers(ms))], read };
    };
    const set = await counted([new Matcher('=~', 'instance', 'host069|host003')]);
    const scan = await counted([new Matcher('=~', 'instance', 'host0(69|03)')]);
    expect(set.ids).toEqual(scan.ids);
    expect(set.ids.length).toBeGreaterThan(0);
    // The regex reads all 70 instances' postings offset entries; the set only the two between their samples.
    expect(set.read).toBeLessThan(scan.read);
    // A prefix reads the entries between the samples around the values that start with it.
    for (const prefix of ['host04', 'host0', 'host06', 'host069', 'h', 'host1', 'a', 'z']) {
      const narrowed = await counted([new Matcher('=~', 'instance', `${prefix}.*`)]);
      // The same regex in a shape the index does not narrow.
      const regex = await counted([new Matcher('=~', 'instance', `${prefix}(?:.*)`)]);
      expect(narrowed.ids, prefix).toEqual(regex.ids);
      if (prefix === 'host04') expect(narrowed.read).toBeLessThan(regex.read);
    }
  });

  it('answers matchers like a scan of all series', async () => {
    const r = await IndexReader.open(await FileByteRange.open(indexPath));
    const sets: Matcher[][] = [
      [Matcher.equal('job', 'job1')],
      [Matcher.equal('instance', 'host040')],
      [Matcher.equal('instance', 'host069'), new Matcher('!=', 'job', 'job2')],
      [new Matcher('=~', 'instance', 'host0[3-4].')],
      [new Matcher('!~', 'zone', 'z[12]')],
      [new Matcher('=', 'zone', '')],
      [new Matcher('=~', 'zone', 'z1|')],
      [new Matcher('=~', 'instance', 'host069|host003|host999')],
      [new Matcher('=~', 'instance', 'host06.*')],
      [new Matcher('=~', 'instance', 'host0.*'), new Matcher('=~', 'zone', 'z.*')],
      [new Matcher('=~', 'instance', 'host1.*')],
      [new Matcher('=~', 'u', 'ün.*')],
      [new Matcher('=~', 'job', '(?:job2|job0)'), new Matcher('!~', 'zone', 'z1|z2')],
      [new Matcher('!=', 'zone', '')],
      [new Matcher('=', '__name__', 'm'), new Matcher('=~', 'job', '.*1'), new Matcher('!~', 'zone', '')],
      [new Matcher('=', 'nope', 'x')],
      [new Matcher('=', 'job', 'job9')],
      [new Matcher('=~', '', '.*')],
    ];
    for (const ms of sets) {
      const want = all.filter((s) => matchLabels(ms, s.labels)).map((s) => s.id);
      expect([...(await r.postingsForMatchers(ms))], ms.join(',')).toEqual(want);
    }
    expect(await r.labelNames()).toEqual(['__name__', 'instance', 'job', 'path', 'u', 'zone']);
    expect(await r.labelValues('job')).toEqual(['job0', 'job1', 'job2']);
    expect(await r.labelValues('job', [Matcher.equal('__name__', 'other_total')])).toEqual(['job1']);
    expect(await r.labelNames([Matcher.equal('__name__', 'other_total')])).toEqual(['__name__', 'job', 'path', 'u']);
    expect(await r.labelValues('instance', [Matcher.equal('zone', 'z4')])).toEqual(
      [...new Set(all.filter((s) => s.labels.get('zone') === 'z4').map((s) => s.labels.get('instance')))].sort(),
    );
    await r.close();
  });

  it('lists only the chunks overlapping a time range when given one', async () => {
    const path = join(dir.path, 'ranged');
    // Five chunks per series, 100 ms apart, the second series' 10 ms later; refs grow and shrink (signed deltas).
    const chunks = (k: number): ChunkRef[] => [0, 1, 2, 3, 4].map((i) => ({ minTime: i * 100 + k - 200, maxTime: i * 100 + k - 150, ref: 8 + 1000 * ((i * 3) % 5) + k }));
    const w = await IndexWriter.create(path, ['1', '2', 'a']);
    await w.addSeries(Labels.from({ a: '1' }), chunks(0));
    await w.addSeries(Labels.from({ a: '2' }), chunks(10));
    await w.close();
    const r = await IndexReader.open(await FileByteRange.open(path));
    for (const [mint, maxt] of [[-Infinity, Infinity], [-80, -70], [-50, 10], [-145, -140], [-150, -150], [1000, 2000], [-500, -201]] as const) {
      const got: SeriesEntry[] = [];
      for await (const batch of r.seriesBatches(await r.allPostings(), mint, maxt)) got.push(...batch);
      expect(got.map((s) => s.chunks), `[${mint}, ${maxt}]`).toEqual([0, 10].map((k) => chunks(k).filter((c) => c.maxTime >= mint && c.minTime <= maxt)));
    }
    await r.close();
  });

  it('decodes many entries with many labels and chunks into columns, as seriesBatches lists them', async () => {
    const path = join(dir.path, 'columns');
    // More entries, label refs and chunk metas than the columns start with (256, 1024, 512), in one read window.
    const names = Array.from({ length: 12 }, (_, i) => `l${String(i).padStart(2, '0')}`);
    const values = Array.from({ length: 600 }, (_, i) => `v${String(i).padStart(3, '0')}`);
    const symbols = [...names, ...values].sort(compareStrings);
    const w = await IndexWriter.create(path, symbols);
    const want: { labels: Labels; chunks: ChunkRef[] }[] = [];
    for (let s = 0; s < 600; s++) {
      const labels = Labels.from(Object.fromEntries(names.map((n, i) => [n, values[(s + i) % 600] as string])));
      const chunks = Array.from({ length: 1 + (s % 7) }, (_, i) => ({ minTime: s * 1000 + i * 100 - 5_000, maxTime: s * 1000 + i * 100 + 50 - 5_000, ref: 8 + s * 10_000 + i * 300 }));
      want.push({ labels, chunks });
    }
    want.sort((a, b) => Labels.compare(a.labels, b.labels));
    for (const x of want) await w.addSeries(x.labels, x.chunks);
    await w.close();
    const r = await IndexReader.open(await FileByteRange.open(path));
    const ids = await r.allPostings();
    const got: { labels: Labels; chunks: ChunkRef[] }[] = [];
    for await (const c of r.seriesColumns(ids)) {
      for (let e = 0; e < c.length; e++) {
        const refs = [...c.labelRefs.subarray(c.labelStart[e], c.labelStart[e + 1])];
        const labels = Labels.fromSorted(Array.from({ length: refs.length / 2 }, (_, j) => ({ name: r.symbols()[refs[2 * j] as number] as string, value: r.symbols()[refs[2 * j + 1] as number] as string })));
        const chunks: ChunkRef[] = [];
        for (let k = c.chunkStart[e] as number; k < (c.chunkStart[e + 1] as number); k++) chunks.push({ minTime: c.minTime[k] as number, maxTime: c.maxTime[k] as number, ref: c.ref[k] as number });
        got.push({ labels, chunks });
      }
    }
    expect(got.map((x) => [x.labels.toString(), x.chunks])).toEqual(want.map((x) => [x.labels.toString(), x.chunks]));
    const entries: SeriesEntry[] = [];
    for await (const batch of r.seriesBatches(ids)) entries.push(...batch);
    expect(entries.map((x) => [x.labels.toString(), x.chunks])).toEqual(want.map((x) => [x.labels.toString(), x.chunks]));
    expect(r.symbolsSorted).toBe(true);
    await r.close();
  });

  it('checks each series entry of a buffer it reads once: a cached read is not checked again, its other entries are', async () => {
    const bytes = Uint8Array.from(await readFile(indexPath));
    // The same buffer for the same read, as the store gateway's index cache hands out.
    const cache = new Map<string, Uint8Array>();
    const cached: ByteRange = {
      name: 'blk/index',
      size: async () => bytes.length,
      read: async (offset, length) => {
        const key = `${offset}:${length}`;
        let b = cache.get(key);
        if (b === undefined) cache.set(key, (b = bytes.slice(offset, offset + length)));
        return b;
      },
      close: async () => {},
    };
    const r = await IndexReader.open(cached);
    const ids = await r.allPostings();
    const victim = ids[Math.floor(ids.length / 2)] as number;
    const others = ids.filter((id) => id !== victim);
    const readAll = async (sel: Uint32Array) => {
      for await (const c of r.seriesColumns(sel)) void c;
    };
    // Flips a byte of entry `id`'s CRC (its content decodes as before), in the file and in every buffer read.
    const breakCrc = (id: number) => {
      const entry = new Decbuf(bytes.subarray(id * 16), `series ${id}`);
      const crcAt = id * 16 + entry.uvarint() + entry.pos;
      bytes[crcAt] = (bytes[crcAt] as number) ^ 0xff;
      for (const [key, b] of cache) {
        const offset = Number(key.split(':')[0]);
        if (crcAt >= offset && crcAt < offset + b.length) b[crcAt - offset] = (b[crcAt - offset] as number) ^ 0xff;
      }
    };
    await readAll(others);
    breakCrc(others[0] as number);
    breakCrc(victim);
    // The entries read before were checked in these very buffers.
    await readAll(others);
    // The victim was not: its CRC is checked, and fails.
    await expect(readAll(ids)).rejects.toThrow(new RegExp(`^blk/index: series ${victim}: checksum mismatch: .* at offset \\d+$`));
  });

  it('reports corruption with the file name and offset', async () => {
    const good = await readFile(indexPath);
    const r = await IndexReader.open(new MemoryByteRange('blk/index', good));
    const toc = r.toc;
    // A flipped byte inside a series entry, inside the postings offset table, in the TOC; and truncation.
    const seriesOff = toc.series + ((16 - (toc.series % 16)) % 16) + 3;
    const flip = (at: number): Uint8Array => {
      const b = Uint8Array.from(good);
      b[at] = (b[at] as number) ^ 0xff;
      return b;
    };
    const bad = await IndexReader.open(new MemoryByteRange('blk/index', flip(seriesOff)));
    await expect(async () => {
      for await (const s of bad.series(await bad.allPostings())) void s;
    }).rejects.toThrow(/^blk\/index: series \d+: checksum mismatch: stored 0x[0-9a-f]+, computed 0x[0-9a-f]+ at offset \d+$/);
    // Entries are checked a window at a time: a corrupt one amid good ones is still the one named.
    const ids = await r.allPostings();
    const victim = ids[Math.floor(ids.length / 2)] as number;
    const badMid = await IndexReader.open(new MemoryByteRange('blk/index', flip(victim * 16 + 3)));
    await expect(async () => {
      for await (const c of badMid.seriesColumns(await badMid.allPostings())) void c;
    }).rejects.toThrow(new RegExp(`^blk/index: series ${victim}: checksum mismatch: .* at offset \\d+$`));
    await expect(IndexReader.open(new MemoryByteRange('blk/index', flip(toc.postingsTable + 12)))).rejects.toThrow(/^blk\/index: postings offset table: .* at offset \d+$/);
    await expect(IndexReader.open(new MemoryByteRange('blk/index', flip(good.length - 3)))).rejects.toThrow(
      new RegExp(`^blk/index: TOC: TOC checksum mismatch: .* at offset ${good.length - 4}$`),
    );
    await expect(IndexReader.open(new MemoryByteRange('blk/index', good.subarray(0, good.length - 100)))).rejects.toThrow(/^blk\/index: .* at offset \d+$/);
    await expect(IndexReader.open(new MemoryByteRange('blk/index', good.subarray(0, 20)))).rejects.toThrow(/blk\/index: index too short: 20 bytes, want at least 57 at offset 0/);
  });
});
