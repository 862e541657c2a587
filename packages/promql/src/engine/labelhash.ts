/**
 * Prometheus' labels.Labels.Hash(): xxhash64 (seed 0) of every label as name, 0xff, value, 0xff, in
 * label order. limit_ratio samples series by it, so the same series are chosen as Prometheus chooses.
 */
import type { Labels } from '@strata/tsdb';
import xxhash from 'xxhash-wasm';

const { h64Raw } = await xxhash();
const encoder = new TextEncoder();
const SEP = 0xff;

export function labelsHash(labels: Labels): bigint {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const l of labels) {
    const name = encoder.encode(l.name);
    const value = encoder.encode(l.value);
    parts.push(name, value);
    size += name.length + value.length + 2;
  }
  const buf = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    buf.set(p, at);
    at += p.length;
    buf[at++] = SEP;
  }
  return h64Raw(buf, 0n);
}
