/**
 * Whether a histogram sample can go into the current histogram chunk, and how the chunk's bucket layout
 * grows for it: the rules both histogram appenders share (Prometheus 2.42's HistogramAppender.Appendable
 * and AppendableGauge, and expandSpansForward, expandSpansBothWays and insert of histogram_meta.go).
 *
 * A counter histogram cannot join the chunk when the chunk holds gauges, when its schema or zero
 * threshold differ (custom bounds too, for schema −53), when the last sample was stale and it is not,
 * or when it is a counter reset: a lower count or zero count, a bucket of the chunk that it lacks, or
 * a bucket with a lower count. Buckets it has and the chunk lacks are "inserts": the chunk is recoded
 * with the wider layout first. A gauge histogram can join a gauge chunk whenever schema and zero
 * threshold match; the chunk takes the buckets only it has (forward inserts) and the sample the buckets
 * only the chunk has (backward inserts), both ending up with the merged layout. A stale sample can
 * always join.
 */
import { CounterResetHeader, type HistogramLayout } from './histogram-meta.js';
import { customBoundsMatch } from '../histogram/custom.js';
import { CUSTOM_BUCKETS_SCHEMA, type Span } from '../histogram/types.js';
import { isStaleNaN } from './floatbits.js';

/** `num` new buckets go before the bucket at position `pos` of the old ones (pos = their count: at the end). */
export interface Insert {
  pos: number;
  num: number;
}

/** A sample as the checks see it: buckets as absolute counts (a FloatHistogram is one). */
export interface AbsoluteBuckets extends HistogramLayout {
  count: number;
  zeroCount: number;
  sum: number;
  positiveBuckets: readonly number[];
  negativeBuckets: readonly number[];
}

/** A layout with a sample's counts, as the checks take it. */
export function withCounts(layout: HistogramLayout, count: number, zeroCount: number, sum: number, positiveBuckets: readonly number[], negativeBuckets: readonly number[]): AbsoluteBuckets {
  return {
    schema: layout.schema,
    zeroThreshold: layout.zeroThreshold,
    positiveSpans: layout.positiveSpans,
    negativeSpans: layout.negativeSpans,
    customValues: layout.customValues,
    count,
    zeroCount,
    sum,
    positiveBuckets,
    negativeBuckets,
  };
}

/** The chunk an appender writes, as the checks see it. */
export interface ChunkState {
  numSamples: number;
  header: CounterResetHeader;
  /** The chunk's layout and its last sample. */
  last: AbsoluteBuckets;
}

export interface Appendability {
  /** The sample can go into this chunk, after the chunk is recoded for the inserts, if there are any. */
  okToAppend: boolean;
  /** It cannot, because it is a counter reset (never set with okToAppend). */
  counterReset: boolean;
  positiveInserts: Insert[];
  negativeInserts: Insert[];
}

export interface GaugeAppendability extends Appendability {
  /** Buckets the sample gets (as zeros) so that it has the merged layout. */
  backwardPositiveInserts: Insert[];
  backwardNegativeInserts: Insert[];
  /** The merged layout. */
  positiveSpans: Span[];
  negativeSpans: Span[];
}

const NO: Appendability = { okToAppend: false, counterReset: false, positiveInserts: [], negativeInserts: [] };
const RESET: Appendability = { ...NO, counterReset: true };
const STALE_OK: Appendability = { ...NO, okToAppend: true };

/** Whether counter histogram `h` can join the chunk (see the module comment). */
export function counterAppendability(c: ChunkState, h: AbsoluteBuckets): Appendability {
  const a = c.last;
  if (c.numSamples > 0 && c.header === CounterResetHeader.Gauge) return NO;
  if (isStaleNaN(h.sum)) return STALE_OK;
  if (isStaleNaN(a.sum)) return NO;
  if (h.count < a.count) return RESET;
  if (h.schema !== a.schema || h.zeroThreshold !== a.zeroThreshold) return NO;
  if (h.schema === CUSTOM_BUCKETS_SCHEMA && !customBoundsMatch(h.customValues, a.customValues)) return RESET;
  if (h.zeroCount < a.zeroCount) return RESET;
  const positiveInserts = expandSpansForward(a.positiveSpans, h.positiveSpans);
  const negativeInserts = expandSpansForward(a.negativeSpans, h.negativeSpans);
  if (positiveInserts === null || negativeInserts === null) return RESET;
  if (
    anyBucketDecreased(a.positiveSpans, a.positiveBuckets, h.positiveSpans, h.positiveBuckets) ||
    anyBucketDecreased(a.negativeSpans, a.negativeBuckets, h.negativeSpans, h.negativeBuckets)
  ) {
    return RESET;
  }
  return { okToAppend: true, counterReset: false, positiveInserts, negativeInserts };
}

/** Whether gauge histogram `h` can join the chunk (see the module comment). */
export function gaugeAppendability(c: ChunkState, h: AbsoluteBuckets): GaugeAppendability {
  const a = c.last;
  const no = { ...NO, backwardPositiveInserts: [], backwardNegativeInserts: [], positiveSpans: [], negativeSpans: [] };
  if (c.numSamples > 0 && c.header !== CounterResetHeader.Gauge) return no;
  if (isStaleNaN(h.sum)) return { ...no, okToAppend: true };
  if (isStaleNaN(a.sum)) return no;
  if (h.schema !== a.schema || h.zeroThreshold !== a.zeroThreshold) return no;
  if (h.schema === CUSTOM_BUCKETS_SCHEMA && !customBoundsMatch(h.customValues, a.customValues)) return no;
  const pos = expandSpansBothWays(a.positiveSpans, h.positiveSpans);
  const neg = expandSpansBothWays(a.negativeSpans, h.negativeSpans);
  return {
    okToAppend: true,
    counterReset: false,
    positiveInserts: pos.forward,
    negativeInserts: neg.forward,
    backwardPositiveInserts: pos.backward,
    backwardNegativeInserts: neg.backward,
    positiveSpans: pos.merged,
    negativeSpans: neg.merged,
  };
}

/** The bucket index of every bucket of a layout, in order. */
function bucketIndexes(spans: readonly Span[]): number[] {
  const out: number[] = [];
  let index = 0;
  for (const s of spans) {
    index += s.offset;
    for (let j = 0; j < s.length; j++) out.push(index++);
  }
  return out;
}

/** The inserts that widen layout `a` to `b`; null if `b` lacks a bucket of `a`. */
function expandSpansForward(a: readonly Span[], b: readonly Span[]): Insert[] | null {
  const ai = bucketIndexes(a);
  const bi = bucketIndexes(b);
  const inserts: Insert[] = [];
  let i = 0;
  let j = 0;
  let num = 0;
  while (i < ai.length || j < bi.length) {
    if (j === bi.length || (i < ai.length && (ai[i] as number) < (bi[j] as number))) return null;
    if (i < ai.length && ai[i] === bi[j]) {
      if (num > 0) inserts.push({ pos: i, num });
      num = 0;
      i++;
    } else {
      num++;
    }
    j++;
  }
  if (num > 0) inserts.push({ pos: i, num });
  return inserts;
}

/**
 * The inserts that widen `a` and `b` to the layout both together cover, and that layout (spans of
 * adjacent buckets merged; the first span's offset is its first index).
 */
function expandSpansBothWays(a: readonly Span[], b: readonly Span[]): { forward: Insert[]; backward: Insert[]; merged: Span[] } {
  const ai = bucketIndexes(a);
  const bi = bucketIndexes(b);
  const forward: Insert[] = [];
  const backward: Insert[] = [];
  const merged: Span[] = [];
  let last = 0;
  const add = (index: number): void => {
    const last_ = merged[merged.length - 1];
    if (last_ !== undefined && index === last + 1) last_.length++;
    else merged.push({ offset: last_ === undefined ? index : index - last - 1, length: 1 });
    last = index;
  };
  let i = 0;
  let j = 0;
  let fNum = 0;
  let bNum = 0;
  while (i < ai.length || j < bi.length) {
    const av = ai[i];
    const bv = bi[j];
    if (av !== undefined && av === bv) {
      if (fNum > 0) forward.push({ pos: i, num: fNum });
      if (bNum > 0) backward.push({ pos: j, num: bNum });
      fNum = bNum = 0;
      add(av);
      i++;
      j++;
    } else if (av !== undefined && (bv === undefined || av < bv)) {
      // Only in a: the sample gets it.
      if (fNum > 0) forward.push({ pos: i, num: fNum });
      fNum = 0;
      bNum++;
      add(av);
      i++;
    } else {
      // Only in b: the chunk gets it.
      if (bNum > 0) backward.push({ pos: j, num: bNum });
      bNum = 0;
      fNum++;
      add(bv as number);
      j++;
    }
  }
  if (fNum > 0) forward.push({ pos: i, num: fNum });
  if (bNum > 0) backward.push({ pos: j, num: bNum });
  return { forward, backward, merged };
}

/**
 * `buckets` with the inserts' new buckets added, which count 0: in absolute counts they are zeros; in
 * delta-encoded counts (`deltas`) the first new bucket of each insert is the negated count before it,
 * and the bucket after the insert is rebased onto 0.
 */
export function insertBuckets(buckets: readonly number[], inserts: readonly Insert[], deltas: boolean): number[] {
  const out: number[] = [];
  let k = 0;
  let v = 0;
  const emit = (num: number): void => {
    out.push(deltas ? -v : 0);
    for (let x = 1; x < num; x++) out.push(0);
  };
  for (let i = 0; i < buckets.length; i++) {
    const d = buckets[i] as number;
    const ins = inserts[k];
    if (ins !== undefined && ins.pos === i) {
      emit(ins.num);
      k++;
      out.push(deltas ? d + v : d);
    } else {
      out.push(d);
    }
    v += d;
  }
  const tail = inserts[k];
  if (tail !== undefined) emit(tail.num);
  return out;
}

/** Whether a bucket that both layouts have has a lower (absolute) count in the new one. */
function anyBucketDecreased(oldSpans: readonly Span[], oldCounts: readonly number[], newSpans: readonly Span[], newCounts: readonly number[]): boolean {
  const oi = bucketIndexes(oldSpans);
  const ni = bucketIndexes(newSpans);
  let j = 0;
  for (let i = 0; i < oi.length; i++) {
    while (j < ni.length && (ni[j] as number) < (oi[i] as number)) j++;
    if (ni[j] === oi[i] && (newCounts[j] as number) < (oldCounts[i] as number)) return true;
  }
  return false;
}
