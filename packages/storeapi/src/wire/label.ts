/**
 * Label messages recently decoded, keyed by their bytes. Every series of a Series or remote-read
 * stream repeats most of its labels (metric name, job, external labels, ...) byte for byte: one check
 * of a label's bytes against a copy kept of them returns the Label decoded from them before, instead of
 * two strings and an object made again per label.
 *
 * Correct for any bytes (any UTF-8 or none, fields in any order, unknown fields): decoding is a function
 * of the bytes, and a hit needs every byte equal at the same length. Bounded: a fixed table of slots,
 * the last label to land on a slot keeps it.
 */
import type { Label } from '@strata/tsdb';
import type { ProtoReader } from './reader.js';

/** Longest label message (tags, lengths, name and value) kept; longer ones are rarely repeated. */
const MAX_BYTES = 64;
const BITS = 12;
const SLOTS = 1 << BITS;
/** Each slot's label bytes, at `slot * MAX_BYTES`. */
const slotBytes = new Uint8Array(SLOTS * MAX_BYTES);
const slotView = new DataView(slotBytes.buffer);
/** Each slot's label length in bytes; 0 for an empty slot (an empty label message is never kept). */
const slotLength = new Int32Array(SLOTS);
const EMPTY: Label = { name: '', value: '' };
const slotLabel: Label[] = new Array<Label>(SLOTS).fill(EMPTY);

/** Reads a Label { name 1, value 2 } (the same message in Thanos' and Prometheus' protos) from `r.pos` to `end`. */
export function readLabelTo(r: ProtoReader, end: number): Label {
  const b = r.source;
  const s = r.pos;
  const n = end - s;
  if (n < 2 || n > MAX_BYTES) return decodeLabel(r, end);
  // The slot from the length and a few sampled bytes: hashing every byte would cost as much as the
  // check. b[s] is the name's tag (the same in nearly every label), b[s + 2] the name's first byte,
  // the last bytes the value's, which differ most between values of one name (instance="host12:9100").
  const h = Math.imul(n ^ (b[s + (n >>> 1)]! << 8) ^ (b[end - 1]! << 16) ^ (b[end - 2 - (n >>> 3)]! << 24), 0x9e3779b1) ^ Math.imul(b[s + 2 < end ? s + 2 : s]! ^ (b[end - 1 - (n >>> 2)]! << 8), 0x85ebca6b);
  const slot = (h ^ (h >>> 15)) & (SLOTS - 1);
  const at = slot * MAX_BYTES;
  if (slotLength[slot] === n) {
    // From the end (labels of one name differ in their value, after the bytes they share), four bytes
    // at a time: a DataView read is one load, where a loop over bytes costs one per byte.
    const frame = r.view;
    let i = n;
    while (i >= 4 && slotView.getInt32(at + i - 4) === frame.getInt32(s + i - 4)) i -= 4;
    while (i > 0 && i < 4 && slotBytes[at + i - 1] === b[s + i - 1]) i--;
    if (i === 0) {
      r.pos = end;
      return slotLabel[slot]!;
    }
  }
  const label = decodeLabel(r, end);
  const frame = r.view;
  let i = 0;
  for (; i + 4 <= n; i += 4) slotView.setInt32(at + i, frame.getInt32(s + i));
  for (; i < n; i++) slotBytes[at + i] = b[s + i]!;
  slotLength[slot] = n;
  slotLabel[slot] = label;
  return label;
}

function decodeLabel(r: ProtoReader, end: number): Label {
  let name = '';
  let value = '';
  while (r.pos < end) {
    const t = r.tag();
    if (t === 10) name = r.string();
    else if (t === 18) value = r.string();
    else r.skip(t & 7);
  }
  return { name, value };
}
