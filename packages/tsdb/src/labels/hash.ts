/**
 * Prometheus' labels.Labels.Hash(): xxhash64 (seed 0) of every label as name, 0xff, value, 0xff, in
 * label order. limit_ratio samples series by it, so the same series are chosen as Prometheus chooses;
 * with `keep`, only the labels it keeps are hashed, as Thanos' shard matcher hashes a series. With a
 * prefix (and 0xff) before the labels, it is Thanos' labelpb.HashWithPrefix, which Receive's hashrings
 * place a tenant's series by.
 */
import xxhash from 'xxhash-wasm';
import type { Label } from './labels.js';

const { h64Raw } = await xxhash();
const SEP = 0xff;
/** Grown as labels need: hashing a series costs no allocation once it fits. */
let scratch = Buffer.allocUnsafe(1024);

export function labelsHash(labels: Iterable<Label>, keep?: (name: string) => boolean): bigint {
  // Written first: writing may replace the scratch buffer.
  const end = writeLabels(0, labels, keep);
  return h64Raw(scratch.subarray(0, end), 0n);
}

/** xxhash64 of `prefix`, 0xff, then the labels as labelsHash hashes them. */
export function labelsHashWithPrefix(prefix: string, labels: Iterable<Label>): bigint {
  const end = writeLabels(writeSeparated(0, prefix), labels, undefined);
  return h64Raw(scratch.subarray(0, end), 0n);
}

/** Writes the (kept) labels into the scratch buffer from `at`; returns where they end. */
function writeLabels(at: number, labels: Iterable<Label>, keep: ((name: string) => boolean) | undefined): number {
  for (const l of labels) {
    if (keep !== undefined && !keep(l.name)) continue;
    at = writeSeparated(writeSeparated(at, l.name), l.value);
  }
  return at;
}

/** Writes `s` in UTF-8 and 0xff at `at`, growing the scratch buffer if it may not fit; returns the end. */
function writeSeparated(at: number, s: string): number {
  // UTF-8 takes at most 3 bytes per UTF-16 unit.
  const most = at + 3 * s.length + 1;
  if (most > scratch.length) {
    const grown = Buffer.allocUnsafe(Math.max(most, 2 * scratch.length));
    scratch.copy(grown, 0, 0, at);
    scratch = grown;
  }
  // Buffer.write costs about 100ns a call: short ASCII strings, most names and values, copy faster here.
  const n = s.length;
  let i = 0;
  if (n < 24) {
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      scratch[at + i] = c;
    }
  }
  at += i === n ? n : scratch.write(s, at, 'utf8');
  scratch[at++] = SEP;
  return at;
}
