/**
 * Label sets, ordered and compared exactly as Prometheus orders them: by name, then value, byte-wise on
 * the UTF-8 encoding.
 *
 * JavaScript compares strings by UTF-16 code unit, which disagrees with UTF-8 byte order once characters
 * above U+FFFF (surrogate pairs) meet characters in U+E000..U+FFFF. `compareStrings` corrects for that so
 * sorting here matches the index, remote read and the StoreAPI sort order.
 */

export interface Label {
  readonly name: string;
  readonly value: string;
}

export const METRIC_NAME = '__name__';

/** Prometheus 2.x's rule for label names (and for relabel targets in every version): [a-zA-Z_][a-zA-Z0-9_]*. */
export function isLegacyLabelName(name: string): boolean {
  return LEGACY_LABEL_NAME.test(name);
}
const LEGACY_LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Byte-wise UTF-8 comparison of two JavaScript strings. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca === cb) continue;
    // Surrogates (U+D800..U+DFFF) encode code points above U+FFFF, which sort after U+E000..U+FFFF in UTF-8.
    if (ca >= 0xd800 && cb >= 0xd800) {
      ca = ca >= 0xe000 ? ca - 0x800 : ca + 0x2000;
      cb = cb >= 0xe000 ? cb - 0x800 : cb + 0x2000;
    }
    return ca - cb;
  }
  return a.length - b.length;
}

/** An immutable label set sorted by name, with no duplicate names and no empty values. */
export class Labels implements Iterable<Label> {
  static readonly EMPTY = new Labels([]);

  readonly #items: readonly Label[];
  #key: string | undefined;

  private constructor(sorted: readonly Label[]) {
    this.#items = sorted;
  }

  /** Builds a label set from pairs in any order; empty values are dropped, a later duplicate name wins. */
  static from(pairs: Iterable<Label> | Readonly<Record<string, string>>): Labels {
    const list: Label[] = [];
    if (Symbol.iterator in pairs) {
      for (const l of pairs as Iterable<Label>) list.push({ name: l.name, value: l.value });
    } else {
      for (const [name, value] of Object.entries(pairs)) list.push({ name, value });
    }
    return Labels.fromUnsorted(list);
  }

  /** Takes ownership of `list`, which must already be sorted by name with unique names and no empty values. */
  static fromSorted(list: Label[]): Labels {
    return list.length === 0 ? Labels.EMPTY : new Labels(list);
  }

  private static fromUnsorted(list: Label[]): Labels {
    list.sort((x, y) => compareStrings(x.name, y.name));
    const out: Label[] = [];
    for (const l of list) {
      const last = out[out.length - 1];
      if (last !== undefined && last.name === l.name) out[out.length - 1] = l;
      else out.push(l);
    }
    return Labels.fromSorted(out.filter((l) => l.value !== ''));
  }

  get size(): number {
    return this.#items.length;
  }

  get(name: string): string {
    for (const l of this.#items) if (l.name === name) return l.value;
    return '';
  }

  has(name: string): boolean {
    return this.#items.some((l) => l.name === name);
  }

  at(i: number): Label {
    const l = this.#items[i];
    if (l === undefined) throw new RangeError(`label index ${i} out of range (size ${this.#items.length})`);
    return l;
  }

  [Symbol.iterator](): Iterator<Label> {
    return this.#items[Symbol.iterator]();
  }

  toArray(): readonly Label[] {
    return this.#items;
  }

  toRecord(): Record<string, string> {
    const r: Record<string, string> = {};
    for (const l of this.#items) r[l.name] = l.value;
    return r;
  }

  /** The labels without the metric name. */
  withoutMetricName(): Labels {
    return this.has(METRIC_NAME) ? this.without([METRIC_NAME]) : this;
  }

  /** Only the named labels. */
  keep(names: Iterable<string>): Labels {
    const set = names instanceof Set ? (names as Set<string>) : new Set(names);
    return Labels.fromSorted(this.#items.filter((l) => set.has(l.name)));
  }

  /** All but the named labels. */
  without(names: Iterable<string>): Labels {
    const set = names instanceof Set ? (names as Set<string>) : new Set(names);
    if (set.size === 0) return this;
    const kept = this.#items.filter((l) => !set.has(l.name));
    // Labels are immutable: when nothing goes, this set (and its cached key) serves.
    return kept.length === this.#items.length ? this : Labels.fromSorted(kept);
  }

  /** A copy with `name` set to `value` (an empty value removes the label). */
  with(name: string, value: string): Labels {
    const out: Label[] = [];
    let placed = value === '';
    for (const l of this.#items) {
      if (l.name === name) continue;
      if (!placed && compareStrings(l.name, name) > 0) {
        out.push({ name, value });
        placed = true;
      }
      out.push(l);
    }
    if (!placed) out.push({ name, value });
    return Labels.fromSorted(out);
  }

  /** A copy with every label of `other` added, `other` winning on a name clash. */
  merge(other: Labels): Labels {
    if (other.size === 0) return this;
    if (this.size === 0) return other;
    return Labels.fromUnsorted([...this.#items, ...other.#items]);
  }

  equals(other: Labels): boolean {
    if (this === other) return true;
    const a = this.#items;
    const b = other.#items;
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) {
      const x = a[i] as Label;
      const y = b[i] as Label;
      if (x.name !== y.name || x.value !== y.value) return false;
    }
    return true;
  }

  /** Prometheus' label-set order: pair by pair, name then value; a prefix sorts first. */
  static compare(a: Labels, b: Labels): number {
    const x = a.#items;
    const y = b.#items;
    const n = Math.min(x.length, y.length);
    for (let i = 0; i < n; i++) {
      const p = x[i] as Label;
      const q = y[i] as Label;
      if (p.name !== q.name) return compareStrings(p.name, q.name);
      if (p.value !== q.value) return compareStrings(p.value, q.value);
    }
    return x.length - y.length;
  }

  /**
   * A string that identifies the label set, for use as a map key. Cached. Each name and value is
   * preceded by its length, so that no value (which may hold any character) can make two label sets
   * one key.
   */
  key(): string {
    if (this.#key === undefined) {
      let k = '';
      for (const l of this.#items) k += `${l.name.length}\xff${l.name}${l.value.length}\xfe${l.value}`;
      this.#key = k;
    }
    return this.#key;
  }

  /** Prometheus' text form: `{a="1", b="2"}`, values quoted as Go's strconv.Quote does. */
  toString(): string {
    return `{${this.#items.map((l) => `${l.name}=${quoteGo(l.value)}`).join(', ')}}`;
  }
}

/** Go's strconv.Quote for valid UTF-8: escapes quotes, backslashes and non-printable characters. */
export function quoteGo(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case '\\':
        out += '\\\\';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\t':
        out += '\\t';
        continue;
      case '\x07':
        out += '\\a';
        continue;
      case '\b':
        out += '\\b';
        continue;
      case '\f':
        out += '\\f';
        continue;
      case '\v':
        out += '\\v';
        continue;
    }
    // A byte that was not valid UTF-8 where the string came from (PromQL's parser keeps it as the lone
    // surrogate U+DC80 + byte) is quoted as Go quotes an invalid byte.
    if (c >= 0xdc80 && c <= 0xdd7f) out += `\\x${hex(c - 0xdc80, 2)}`;
    else if (isGoPrintable(c)) out += ch;
    else if (c < 0x10000) out += c < 0x100 ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`;
    else out += `\\U${hex(c, 8)}`;
  }
  return `${out}"`;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
function isGoPrintable(c: number): boolean {
  if (c >= 0x20 && c < 0x7f) return true;
  if (c < 0xa0) return false;
  return !NON_PRINTABLE.test(String.fromCodePoint(c));
}
