/**
 * The local TSDB's write-ahead log: what the head holds is rebuilt from it after a restart. It is Strata's
 * own format, not Prometheus' (wlog), and simpler.
 *
 *   <dir>/wal/<8-digit sequence>.rwal   segments, replayed in sequence order
 *   <dir>/wal-ooo/<8-digit sequence>.rwal   the out-of-order samples' log (Prometheus' WBL), in the same format
 *
 * Segment names are not plain numbers so that Prometheus' tools (promtool tsdb dump of the data
 * directory), which take only numeric names for their own WAL's segments, pass over them.
 *
 *   segment := record*
 *   record  := BE32 len(payload) | BE32 CRC32C(payload) | payload
 *   payload := 0x01 series  uvarint n | (uvarint ref | uvarint k | (uvarintStr name | uvarintStr value) × k) × n
 *            | 0x02 samples varint base | uvarint n | (uvarint ref | varint (t - base) | BE32 hi | BE32 lo) × n
 *            | 0x03 mixed   varint base | uvarint n | (uvarint ref | varint (t - base) | byte kind | value) × n
 *            | 0x04 exemplars uvarint n | (uvarint ref | varint t | f64 value | uvarint k | (uvarintStr name | uvarintStr value) × k) × n
 *   value    := BE32 hi | BE32 lo                      (kind 0: a float)
 *            | histogram                               (kind 1: integer counts; 2: float counts)
 *   histogram := byte counter-reset hint | varint schema | f64 zero threshold | count | zero count | f64 sum
 *                | spans positive | spans negative | buckets positive | buckets negative
 *                | uvarint n | f64 custom bound × n
 *   count, zero count := uvarint (kind 1) | f64 (kind 2)
 *   spans    := uvarint n | (varint offset | uvarint length) × n
 *   buckets  := uvarint n | (varint delta (kind 1) | f64 count (kind 2)) × n
 *   f64      := BE32 hi | BE32 lo
 *
 * A samples record holds one append call's accepted samples, each with its own time t (ms), written as
 * its difference to the record's base time (its first sample's): a ruler's evaluation, all at one time,
 * costs a byte per sample for it, a remote-write request's a few. A value is its float64 bits (hi:lo), so
 * NaN payloads such as the stale marker survive. A call that accepted native histograms writes a mixed
 * record instead, its samples in the order they were accepted, each with its kind. Refs name series within a segment: each segment starts
 * with a series record of every series in the head when it was started, and a series created later is
 * recorded before its first sample, so a segment is replayed alone and any earlier one can be deleted.
 *
 * Each `log` call is one write(2) of its records: once it returns, a crash of the process loses none of
 * it; when it throws (a full disk), none of it is in the segment. Segments are fsync'ed when they are finished and on close (a power loss may lose what the
 * current segment got since it started, as with Prometheus' WAL pages).
 *
 * A torn or corrupt record in the last segment is what a crash mid-write leaves: replay stops there
 * and the segment is truncated to the records before it (its remaining records are lost). In an
 * earlier segment, it is damage: opening fails, naming the file and offset.
 */
import { closeSync, fsyncSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptionError, crc32c, Decbuf, Encbuf, FloatHistogram, floatFromBits, floatHi, floatLo, type Histogram, type Label, Labels, type Span, type TimedHistogram } from '@strata/tsdb';
import type { Exemplar } from './exemplars.js';

export const WAL_DIR = 'wal';
/** Not Prometheus' `wbl`: its tools read a directory of that name as its own WBL, and fail on these segments. */
export const WBL_DIR = 'wal-ooo';
const SEGMENT_RE = /^(\d{8})\.rwal$/;
const EMPTY = new Float64Array(0);
const HEADER_BYTES = 8;
const SERIES_RECORD = 1;
const SAMPLES_RECORD = 2;
const MIXED_RECORD = 3;
const EXEMPLARS_RECORD = 4;
const KIND_FLOAT = 0;
const KIND_HISTOGRAM = 1;
const KIND_FLOAT_HISTOGRAM = 2;
/** A record longer than this is taken for a corrupt length (a samples record of a million samples is ~20 MB). */
const MAX_RECORD_BYTES = 256 * 1024 ** 2;

export interface WALSeries {
  readonly ref: number;
  readonly labels: Labels;
}

export interface ReplayHandler {
  /**
   * A samples record: sample i of series `labels[i]` (its ref resolved by the segment's series records) at
   * `times[i]`: `histograms[i]` where there is one, else `values[i]`.
   */
  samples(labels: readonly Labels[], times: Float64Array, values: Float64Array, histograms?: readonly (TimedHistogram | undefined)[]): void;
  /** An exemplars record: exemplar i of series `labels[i]`. */
  exemplars(labels: readonly Labels[], exemplars: readonly Exemplar[]): void;
  /** A torn or corrupt tail of the last segment was cut off. */
  tornTail(file: string, offset: number, reason: string): void;
}

interface Segment {
  readonly seq: number;
  /** Latest sample time in the segment (-Infinity without samples): whether truncate may delete it. */
  maxTime: number;
  /** Bytes written (the current segment's; where its next record goes). */
  size: number;
}

const segmentName = (seq: number) => `${String(seq).padStart(8, '0')}.rwal`;

export class WAL {
  readonly dir: string;
  /** Finished segments, oldest first. */
  readonly #done: Segment[];
  #current: Segment | undefined;
  #fd: number | undefined;
  /** Series the current segment must name before its first sample: the head's when it started, until a write records them. */
  #unrecorded: readonly WALSeries[] = [];
  readonly #enc = new Encbuf(1 << 16);

  private constructor(dir: string, done: Segment[]) {
    this.dir = dir;
    this.#done = done;
  }

  /** Replays `<dataDir>/<name>` into `handler`; writing starts in a new segment (`startSegment`). */
  static async open(dataDir: string, handler: ReplayHandler, name = WAL_DIR): Promise<WAL> {
    const dir = join(dataDir, name);
    await mkdir(dir, { recursive: true });
    const seqs = (await readdir(dir))
      .map((n) => SEGMENT_RE.exec(n)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const done: Segment[] = [];
    for (const [i, seq] of seqs.entries()) done.push({ seq, maxTime: await replaySegment(join(dir, segmentName(seq)), i === seqs.length - 1, handler), size: 0 });
    return new WAL(dir, done);
  }

  /** The sequence number of the segment being written (0 before the first). */
  get segment(): number {
    return this.#current?.seq ?? 0;
  }

  /** The segments' file names, oldest first (the current one last). */
  segments(): string[] {
    return [...this.#done, ...(this.#current !== undefined ? [this.#current] : [])].map((s) => join(this.dir, segmentName(s.seq)));
  }

  /**
   * Finishes the current segment (fsync'ed) and starts the next with a series record of `series` (the
   * head's). If that write fails, the record goes with the segment's next write.
   */
  startSegment(series: readonly WALSeries[]): void {
    this.#finish();
    const seq = (this.#done[this.#done.length - 1]?.seq ?? 0) + 1;
    this.#fd = openSync(join(this.dir, segmentName(seq)), 'wx');
    this.#current = { seq, maxTime: -Infinity, size: 0 };
    this.#unrecorded = series;
    if (series.length > 0) this.log([], 0, [], EMPTY, EMPTY);
  }

  /**
   * Writes the series an append call created, then its first `n` samples (of series `refs[i]` at
   * `times[i]`: `histograms[i]` where given, else `values[i]`; typed, as a plain array would quiet the
   * stale marker's NaN), then the exemplars it accepted, in one write.
   */
  log(
    created: readonly WALSeries[],
    n: number,
    refs: ArrayLike<number>,
    times: Float64Array,
    values: Float64Array,
    histograms?: readonly (TimedHistogram | undefined)[],
    exemplars: readonly { readonly series: WALSeries; readonly exemplar: Exemplar }[] = [],
  ): void {
    const fd = this.#fd;
    if (fd === undefined) throw new Error('WAL: no segment started');
    const e = this.#enc;
    e.reset();
    if (this.#unrecorded.length > 0) putSeries(e, this.#unrecorded);
    if (created.length > 0) putSeries(e, created);
    let maxTime = -Infinity;
    if (n > 0) {
      const base = times[0] as number;
      record(e, histograms !== undefined ? MIXED_RECORD : SAMPLES_RECORD, () => {
        e.putVarint(base);
        e.putUvarint(n);
        for (let i = 0; i < n; i++) {
          const t = times[i] as number;
          if (t > maxTime) maxTime = t;
          e.putUvarint(refs[i] as number);
          e.putVarint(t - base);
          if (histograms === undefined) putFloat(e, values[i] as number);
          else putSample(e, values[i] as number, histograms[i]);
        }
      });
    }
    if (exemplars.length > 0) {
      record(e, EXEMPLARS_RECORD, () => {
        e.putUvarint(exemplars.length);
        for (const { series, exemplar: x } of exemplars) {
          e.putUvarint(series.ref);
          e.putVarint(x.ts);
          putFloat(e, x.value);
          e.putUvarint(x.labels.length);
          for (const l of x.labels) {
            e.putUvarintStr(l.name);
            e.putUvarintStr(l.value);
          }
        }
      });
    }
    const cur = this.#current as Segment;
    write(fd, e.get(), cur);
    this.#unrecorded = [];
    if (maxTime > cur.maxTime) cur.maxTime = maxTime;
  }

  /** Deletes the finished segments whose samples all lie before `mint` (they are in blocks now). */
  async truncate(mint: number): Promise<void> {
    for (let i = 0; i < this.#done.length; ) {
      const s = this.#done[i] as Segment;
      if (s.maxTime >= mint) {
        i++;
        continue;
      }
      await rm(join(this.dir, segmentName(s.seq)), { force: true });
      this.#done.splice(i, 1);
    }
  }

  close(): void {
    this.#finish();
  }

  #finish(): void {
    if (this.#fd === undefined) return;
    fsyncSync(this.#fd);
    closeSync(this.#fd);
    this.#fd = undefined;
    this.#done.push(this.#current as Segment);
    this.#current = undefined;
  }
}

/**
 * Writes `bytes` at the end of the segment, or throws having written none of them: what part got written
 * (a full disk) is cut off, so that no torn record is left before the next one.
 */
function write(fd: number, bytes: Uint8Array, segment: Segment): void {
  try {
    const n = writeSync(fd, bytes, 0, bytes.length, segment.size);
    if (n !== bytes.length) throw new Error(`WAL: wrote ${n} of ${bytes.length} bytes`);
  } catch (err) {
    try {
      ftruncateSync(fd, segment.size);
    } catch {
      // The next write goes at the same place, over what this one left.
    }
    throw err;
  }
  segment.size += bytes.length;
}

/** Appends a record of `type` whose body `body` writes, with its length and CRC. */
function record(e: Encbuf, type: number, body: () => void): void {
  const start = e.length;
  e.putBE32(0);
  e.putBE32(0);
  e.putByte(type);
  body();
  const payload = e.get().subarray(start + HEADER_BYTES);
  e.setBE32(start, payload.length);
  e.setBE32(start + 4, crc32c(payload));
}

function putSeries(e: Encbuf, series: readonly WALSeries[]): void {
  record(e, SERIES_RECORD, () => {
    e.putUvarint(series.length);
    for (const s of series) {
      e.putUvarint(s.ref);
      e.putUvarint(s.labels.size);
      for (const l of s.labels) {
        e.putUvarintStr(l.name);
        e.putUvarintStr(l.value);
      }
    }
  });
}

/** Replays one segment; returns its latest sample time. */
async function replaySegment(file: string, last: boolean, handler: ReplayHandler): Promise<number> {
  const bytes = new Uint8Array(await readFile(file));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const refs = new Map<number, Labels>();
  let maxTime = -Infinity;
  let pos = 0;
  while (pos < bytes.length) {
    let reason: string | undefined;
    const len = pos + HEADER_BYTES <= bytes.length ? view.getUint32(pos) : -1;
    const end = pos + HEADER_BYTES + len;
    if (len < 0) reason = 'torn record header';
    else if (len > MAX_RECORD_BYTES || end > bytes.length) reason = `record of ${len} bytes runs past the end of the segment`;
    else if (crc32c(bytes, 0, pos + HEADER_BYTES, end) !== view.getUint32(pos + 4)) reason = 'CRC mismatch';
    else {
      try {
        const t = decodeRecord(new Decbuf(bytes.subarray(pos + HEADER_BYTES, end), 'WAL record', pos + HEADER_BYTES), refs, handler);
        if (t !== undefined) maxTime = Math.max(maxTime, t);
      } catch (e) {
        reason = (e as Error).message;
      }
    }
    if (reason === undefined) {
      pos = end;
      continue;
    }
    if (!last) throw new CorruptionError(`WAL segment ${file}`, pos, `corrupt record: ${reason}`);
    handler.tornTail(file, pos, reason);
    // Nothing after a torn record can be trusted to start at a record boundary.
    await truncate(file, pos);
    break;
  }
  return maxTime;
}

/** Decodes a record's payload; a samples record goes to the handler and its latest time is returned. */
function decodeRecord(d: Decbuf, refs: Map<number, Labels>, handler: ReplayHandler): number | undefined {
  const type = d.byte();
  if (type === SERIES_RECORD) {
    for (let n = d.uvarint(); n > 0; n--) {
      const ref = d.uvarint();
      const list: Label[] = [];
      for (let k = d.uvarint(); k > 0; k--) list.push({ name: d.uvarintStr(), value: d.uvarintStr() });
      refs.set(ref, Labels.fromSorted(list));
    }
    return undefined;
  }
  if (type === EXEMPLARS_RECORD) {
    const n = listLength(d);
    const labels: Labels[] = new Array(n);
    const exemplars: Exemplar[] = new Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = seriesOf(d, refs);
      const ts = d.varint();
      const value = getFloat(d);
      const list: Label[] = [];
      for (let k = listLength(d); k > 0; k--) list.push({ name: d.uvarintStr(), value: d.uvarintStr() });
      exemplars[i] = { labels: list, value, ts };
    }
    handler.exemplars(labels, exemplars);
    return undefined;
  }
  if (type !== SAMPLES_RECORD && type !== MIXED_RECORD) d.fail(`unknown record type ${type}`, 0);
  const base = d.varint();
  const n = d.uvarint();
  const labels: Labels[] = new Array(n);
  const times = new Float64Array(n);
  const values = new Float64Array(n);
  const histograms: (TimedHistogram | undefined)[] | undefined = type === MIXED_RECORD ? new Array(n) : undefined;
  let maxTime: number | undefined;
  for (let i = 0; i < n; i++) {
    labels[i] = seriesOf(d, refs);
    const t = base + d.varint();
    times[i] = t;
    if (maxTime === undefined || t > maxTime) maxTime = t;
    const kind = histograms !== undefined ? d.byte() : KIND_FLOAT;
    if (kind === KIND_FLOAT) values[i] = getFloat(d);
    else if (kind === KIND_HISTOGRAM) (histograms as (TimedHistogram | undefined)[])[i] = { timestamp: t, histogram: getHistogram(d) };
    else if (kind === KIND_FLOAT_HISTOGRAM) (histograms as (TimedHistogram | undefined)[])[i] = { timestamp: t, floatHistogram: getFloatHistogram(d) };
    else d.fail(`unknown sample kind ${kind}`);
  }
  handler.samples(labels, times, values, histograms);
  return maxTime;
}

/** A series ref, resolved by the segment's series records. */
function seriesOf(d: Decbuf, refs: Map<number, Labels>): Labels {
  const ref = d.uvarint();
  const l = refs.get(ref);
  if (l === undefined) d.fail(`sample of series ref ${ref}, which no series record of the segment names`);
  return l;
}

function putFloat(e: Encbuf, v: number): void {
  e.putBE32(floatHi(v));
  e.putBE32(floatLo(v));
}

function getFloat(d: Decbuf): number {
  return floatFromBits(d.be32(), d.be32());
}

/** A mixed record's sample: its kind, then its value. */
function putSample(e: Encbuf, v: number, h: TimedHistogram | undefined): void {
  if (h === undefined) {
    e.putByte(KIND_FLOAT);
    putFloat(e, v);
    return;
  }
  const integer = 'histogram' in h;
  const x = integer ? h.histogram : h.floatHistogram;
  e.putByte(integer ? KIND_HISTOGRAM : KIND_FLOAT_HISTOGRAM);
  e.putByte(x.counterResetHint);
  e.putVarint(x.schema);
  putFloat(e, x.zeroThreshold);
  if (integer) {
    e.putUvarint(x.count);
    e.putUvarint(x.zeroCount);
  } else {
    putFloat(e, x.count);
    putFloat(e, x.zeroCount);
  }
  putFloat(e, x.sum);
  putSpans(e, x.positiveSpans);
  putSpans(e, x.negativeSpans);
  putBuckets(e, x.positiveBuckets, integer);
  putBuckets(e, x.negativeBuckets, integer);
  e.putUvarint(x.customValues.length);
  for (let i = 0; i < x.customValues.length; i++) putFloat(e, x.customValues[i] as number);
}

function putSpans(e: Encbuf, spans: readonly Span[]): void {
  e.putUvarint(spans.length);
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i] as Span;
    e.putVarint(s.offset);
    e.putUvarint(s.length);
  }
}

/** Integer histograms' bucket deltas as varints, float histograms' counts as f64. */
function putBuckets(e: Encbuf, buckets: readonly number[], integer: boolean): void {
  e.putUvarint(buckets.length);
  for (let i = 0; i < buckets.length; i++) {
    if (integer) e.putVarint(buckets[i] as number);
    else putFloat(e, buckets[i] as number);
  }
}

/** The fields of a histogram of either kind, its counts read by `count` and its buckets by `bucket`. */
function getHistogramFields(d: Decbuf, count: () => number, bucket: () => number): Histogram {
  const counterResetHint = d.byte() as Histogram['counterResetHint'];
  const schema = d.varint();
  const zeroThreshold = getFloat(d);
  const c = count();
  const zeroCount = count();
  const sum = getFloat(d);
  const spans = (): Span[] => Array.from({ length: listLength(d) }, () => ({ offset: d.varint(), length: d.uvarint() }));
  const positiveSpans = spans();
  const negativeSpans = spans();
  const buckets = (): number[] => Array.from({ length: listLength(d) }, bucket);
  const positiveBuckets = buckets();
  const negativeBuckets = buckets();
  const customValues = Array.from({ length: listLength(d) }, () => getFloat(d));
  return { counterResetHint, schema, zeroThreshold, zeroCount, count: c, sum, positiveSpans, negativeSpans, positiveBuckets, negativeBuckets, customValues };
}

/** A list's length, each of its entries at least a byte: a longer one is corrupt (and no huge array is made for it). */
function listLength(d: Decbuf): number {
  const at = d.pos;
  const n = d.uvarint();
  if (n > d.remaining) d.fail(`list of ${n} entries in ${d.remaining} bytes`, at);
  return n;
}

function getHistogram(d: Decbuf): Histogram {
  return getHistogramFields(d, () => d.uvarint(), () => d.varint());
}

function getFloatHistogram(d: Decbuf): FloatHistogram {
  return new FloatHistogram(getHistogramFields(d, () => getFloat(d), () => getFloat(d)));
}
