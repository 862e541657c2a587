/**
 * Prometheus' labels.Labels.Hash(): xxhash64 (seed 0) of every label as name, 0xff, value, 0xff, in
 * label order. limit_ratio samples series by it, so the same series are chosen as Prometheus chooses;
 * with `keep`, only the labels it keeps are hashed, as Thanos' shard matcher hashes a series.
 */
import xxhash from 'xxhash-wasm';
import type { Label } from './labels.js';

const { h64Raw } = await xxhash();
const SEP = 0xff;
/** Grown as labels need: hashing a series costs no allocation once it fits. */
let scratch = Buffer.allocUnsafe(1024);

export function labelsHash(labels: Iterable<Label>, keep?: (name: string) => boolean): bigint {
  let at = 0;
  for (const l of labels) {
    if (keep !== undefined && !keep(l.name)) continue;
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const most = at + 3 * (l.name.length + l.value.length) + 2;
    if (most > scratch.length) {
      const grown = Buffer.allocUnsafe(Math.max(most, 2 * scratch.length));
      scratch.copy(grown, 0, 0, at);
      scratch = grown;
    }
    at += scratch.write(l.name, at, 'utf8');
    scratch[at++] = SEP;
    at += scratch.write(l.value, at, 'utf8');
    scratch[at++] = SEP;
  }
  return h64Raw(scratch.subarray(0, at), 0n);
}
