/** Thanos' LabelSet message { repeated Label labels = 1 }, as the Rules and Exemplars APIs carry labels. */
import type { Label } from '@strata/tsdb';
import { readLabelTo } from './label.js';
import type { ProtoReader } from './reader.js';
import type { ProtoWriter } from './writer.js';

/** Writes a LabelSet field, present even when empty (Thanos' non-nullable gogoproto fields are). */
export function writeLabelSet(w: ProtoWriter, field: number, labels: readonly Label[]): void {
  w.fork(field);
  for (const l of labels) w.fork(1).string(1, l.name).string(2, l.value).ldelim();
  w.ldelim();
}

export function readLabelSet(r: ProtoReader): Label[] {
  const out: Label[] = [];
  while (!r.done) {
    const t = r.tag();
    if (t === 10) {
      const sub = r.sub();
      out.push(readLabelTo(sub, sub.end));
    } else r.skip(t & 7);
  }
  return out;
}
