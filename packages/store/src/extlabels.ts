import { delimitedFieldSize, ProtoWriter, putVarint32 } from '@strata/storeapi';
import { compareStrings, type Label, type SymbolTable } from '@strata/tsdb';

/**
 * How one query serves the series of one block: the block set's external labels added (winning on a
 * name clash) and the replica labels removed. A series is given by its labels' symbol refs in the
 * block's index (name and value alternating, sorted by name), so that the store gateway can keep a
 * query's series as numbers until it sends them, and make their labels only then.
 */
export class LabelMapping {
  readonly #symbols: readonly string[];
  /** The external labels that are not dropped. */
  readonly #ext: readonly Label[];
  readonly #drop: ReadonlySet<string>;
  /** Symbol refs of the dropped names the block has. */
  readonly #dropRefs: readonly number[];
  /** Order keys of the external labels' names and values (see `keys`). */
  readonly #extNameKeys: Float64Array;
  readonly #extValueKeys: Float64Array;
  /** Whether `keys` orders series (the symbol table is sorted); if not, only their labels do. */
  readonly ordered: boolean;
  /** The symbols as stored, when `encodes`, and a view of their bytes for copying them a word at a time. */
  readonly #table: SymbolTable | undefined;
  readonly #symbolView: DataView | undefined;
  /** External label `j` as its `Series.labels` field (tag, length, Label) is `#extFields[#extStart[j], #extStart[j + 1])`, when `encodes`. */
  readonly #extFields: Uint8Array;
  readonly #extView: DataView;
  readonly #extStart: Uint32Array;
  /** The buffer `encode` wrote into last, and a view of it (a frame's series are written into one buffer). */
  #out: Uint8Array | undefined;
  #outView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

  /**
   * `table`: the block's symbols as stored; with it (and a sorted symbol table) the mapping writes
   * series' labels as protobuf straight from the symbols' bytes (`encodedSize`, `encode`).
   */
  constructor(symbols: readonly string[], symbolsSorted: boolean, ext: readonly Label[], drop: ReadonlySet<string>, table?: SymbolTable) {
    this.#symbols = symbols;
    this.#drop = drop;
    this.#ext = drop.size === 0 ? ext : ext.filter((l) => !drop.has(l.name));
    this.ordered = symbolsSorted;
    this.#extNameKeys = new Float64Array(this.#ext.length);
    this.#extValueKeys = new Float64Array(this.#ext.length);
    const dropRefs: number[] = [];
    if (symbolsSorted) {
      this.#ext.forEach((l, j) => {
        this.#extNameKeys[j] = orderKey(symbols, l.name);
        this.#extValueKeys[j] = orderKey(symbols, l.value);
      });
      for (const name of drop) {
        const key = orderKey(symbols, name);
        if (key % 2 === 1) dropRefs.push((key - 1) / 2);
      }
    }
    this.#dropRefs = dropRefs;
    // Merging the external labels in by their order keys needs the sorted table.
    this.#table = symbolsSorted ? table : undefined;
    this.#symbolView = this.#table !== undefined ? new DataView(this.#table.bytes.buffer, this.#table.bytes.byteOffset, this.#table.bytes.length) : undefined;
    const w = new ProtoWriter(64);
    this.#extStart = new Uint32Array(this.#ext.length + 1);
    this.#ext.forEach((l, j) => {
      w.fork(1).string(1, l.name).string(2, l.value).ldelim();
      this.#extStart[j + 1] = w.pos;
    });
    this.#extFields = w.finish();
    this.#extView = new DataView(this.#extFields.buffer, this.#extFields.byteOffset, this.#extFields.length);
  }

  /** Whether `encodedSize` and `encode` can be used. */
  get encodes(): boolean {
    return this.#table !== undefined;
  }

  /** Most label pairs a mapped series has, for sizing `keys`' output: its own and every external one. */
  maxKeys(ownRefs: number): number {
    return ownRefs + 2 * this.#ext.length;
  }

  /**
   * The labels (sorted) of the series whose own labels are the symbol refs `refs[from, to)`. Both lists
   * are sorted by name, so one linear merge adds the external labels.
   */
  labels(refs: Uint32Array, from: number, to: number): Label[] {
    const symbols = this.#symbols;
    const ext = this.#ext;
    const drop = this.#drop;
    const out: Label[] = [];
    let i = from;
    let j = 0;
    while (i < to || j < ext.length) {
      if (i < to) {
        const name = symbols[refs[i] as number] as string;
        const c = j === ext.length ? -1 : compareStrings(name, (ext[j] as Label).name);
        if (c < 0) {
          if (drop.size === 0 || !drop.has(name)) out.push({ name, value: symbols[refs[i + 1] as number] as string });
          i += 2;
          continue;
        }
        // The external label wins a clash.
        if (c === 0) i += 2;
      }
      out.push(ext[j++] as Label);
    }
    return out;
  }

  /** Whether the series whose own labels are `refs[from, to)` has the mapped labels `want` (as `labels` gives them), without making them. */
  equals(refs: Uint32Array, from: number, to: number, want: readonly Label[]): boolean {
    const symbols = this.#symbols;
    const ext = this.#ext;
    const drop = this.#drop;
    let n = 0;
    let i = from;
    let j = 0;
    while (i < to || j < ext.length) {
      if (i < to) {
        const name = symbols[refs[i] as number] as string;
        const c = j === ext.length ? -1 : compareStrings(name, (ext[j] as Label).name);
        if (c < 0) {
          if (drop.size === 0 || !drop.has(name)) {
            const l = want[n++];
            if (l === undefined || l.name !== name || l.value !== symbols[refs[i + 1] as number]) return false;
          }
          i += 2;
          continue;
        }
        if (c === 0) i += 2;
      }
      const e = ext[j++] as Label;
      const l = want[n++];
      if (l === undefined || l.name !== e.name || l.value !== e.value) return false;
    }
    return n === want.length;
  }

  /**
   * Writes into `out` the order keys of the mapped labels of the series whose own labels are
   * `refs[from, to)` (name, value, name, value…); returns how many. Comparing two series' keys
   * (compareKeys) compares their mapped labels as Labels.compare does, with no string made or compared:
   * a string that is symbol `r` has key 2r + 1, one that is not (an external label's) 2i where i is the
   * number of symbols that sort before it. Only when the mapping is `ordered`.
   */
  keys(refs: Uint32Array, from: number, to: number, out: Float64Array): number {
    const ext = this.#extNameKeys;
    const dropRefs = this.#dropRefs;
    let n = 0;
    let i = from;
    let j = 0;
    while (i < to || j < ext.length) {
      if (i < to) {
        const ref = refs[i] as number;
        const key = 2 * ref + 1;
        const c = j === ext.length ? -1 : key - (ext[j] as number);
        if (c < 0) {
          if (dropRefs.length === 0 || !dropRefs.includes(ref)) {
            out[n++] = key;
            out[n++] = 2 * (refs[i + 1] as number) + 1;
          }
          i += 2;
          continue;
        }
        if (c === 0) i += 2;
      }
      out[n++] = ext[j] as number;
      out[n++] = this.#extValueKeys[j++] as number;
    }
    return n;
  }

  /**
   * Bytes of the `Series.labels` fields of the mapped labels of the series whose own labels are
   * `refs[from, to)` (only when `encodes`): the labels `labels` gives, as the codec writes them.
   */
  encodedSize(refs: Uint32Array, from: number, to: number): number {
    const offsets = (this.#table as SymbolTable).offsets;
    const extKeys = this.#extNameKeys;
    const extStart = this.#extStart;
    const dropRefs = this.#dropRefs;
    let n = 0;
    let i = from;
    let j = 0;
    while (i < to || j < extKeys.length) {
      if (i < to) {
        const ref = refs[i] as number;
        const c = j === extKeys.length ? -1 : 2 * ref + 1 - (extKeys[j] as number);
        if (c < 0) {
          if (dropRefs.length === 0 || !dropRefs.includes(ref)) {
            const size = stringField(offsets, ref) + stringField(offsets, refs[i + 1] as number);
            n += delimitedFieldSize(size);
          }
          i += 2;
          continue;
        }
        if (c === 0) i += 2;
      }
      n += (extStart[j + 1] as number) - (extStart[j] as number);
      j++;
    }
    return n;
  }

  /** Writes what `encodedSize` measures into `b` from `p`; returns the position after it. */
  encode(refs: Uint32Array, from: number, to: number, b: Buffer, p: number): number {
    const { bytes, offsets } = this.#table as SymbolTable;
    const symbolView = this.#symbolView as DataView;
    const extKeys = this.#extNameKeys;
    const dropRefs = this.#dropRefs;
    if (b !== this.#out) {
      this.#out = b;
      this.#outView = new DataView(b.buffer, b.byteOffset, b.length);
    }
    const out = this.#outView;
    let i = from;
    let j = 0;
    while (i < to || j < extKeys.length) {
      if (i < to) {
        const name = refs[i] as number;
        const c = j === extKeys.length ? -1 : 2 * name + 1 - (extKeys[j] as number);
        if (c < 0) {
          if (dropRefs.length === 0 || !dropRefs.includes(name)) {
            const value = refs[i + 1] as number;
            b[p++] = LABELS_TAG;
            p = putVarint32(b, p, stringField(offsets, name) + stringField(offsets, value));
            p = putSymbol(symbolView, bytes, offsets, name, LABEL_NAME_TAG, out, b, p);
            p = putSymbol(symbolView, bytes, offsets, value, LABEL_VALUE_TAG, out, b, p);
          }
          i += 2;
          continue;
        }
        if (c === 0) i += 2;
      }
      p = copyBytes(this.#extView, this.#extFields, this.#extStart[j] as number, this.#extStart[j + 1] as number, out, b, p);
      j++;
    }
    return p;
  }
}

/** Labels.compare for two series' order keys (`a[0, na)`, `b[0, nb)`). */
export function compareKeys(a: Float64Array, na: number, b: Float64Array, nb: number): number {
  const n = Math.min(na, nb);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return na - nb;
}

/** 2r + 1 if `s` is symbol r of the sorted `symbols`, else 2i where i symbols sort before it. */
function orderKey(symbols: readonly string[], s: string): number {
  let lo = 0;
  let hi = symbols.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareStrings(symbols[mid] as string, s) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo < symbols.length && symbols[lo] === s ? 2 * lo + 1 : 2 * lo;
}

/** Series.labels (1), Label.name (1) and Label.value (2): tags as written. */
const LABELS_TAG = (1 << 3) | 2;
const LABEL_NAME_TAG = (1 << 3) | 2;
const LABEL_VALUE_TAG = (2 << 3) | 2;

/** Bytes of symbol `r` as a string field (tag, then its stored length and bytes); an empty string is omitted, as the codec omits it. */
function stringField(offsets: Uint32Array, r: number): number {
  const n = (offsets[r + 1] as number) - (offsets[r] as number);
  return n === 1 ? 0 : 1 + n;
}

/** Writes symbol `r` as a string field with `tag` at `b[p]` (nothing if it is empty); returns the position after it. */
function putSymbol(symbolView: DataView, bytes: Uint8Array, offsets: Uint32Array, r: number, tag: number, out: DataView, b: Uint8Array, p: number): number {
  const start = offsets[r] as number;
  const end = offsets[r + 1] as number;
  if (end - start === 1) return p;
  b[p++] = tag;
  return copyBytes(symbolView, bytes, start, end, out, b, p);
}

/**
 * Copies `src[start, end)` to `dst[p]` (`srcView` and `dstView` view the same bytes); returns the position
 * after it. Four bytes per step: for strings of a few to a few tens of bytes about twice as fast as one
 * byte per step, and a native copy (`set` of a subarray) costs more than either.
 */
export function copyBytes(srcView: DataView, src: Uint8Array, start: number, end: number, dstView: DataView, dst: Uint8Array, p: number): number {
  let s = start;
  for (; s + 4 <= end; s += 4, p += 4) dstView.setUint32(p, srcView.getUint32(s));
  for (; s < end; s++) dst[p++] = src[s] as number;
  return p;
}
