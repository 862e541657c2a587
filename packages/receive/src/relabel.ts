/**
 * `--receive.relabel-config`: the series of a remote write relabelled before they are written or sent on
 * to the receivers that own them, as Thanos' handler relabels them (only where a write comes in, not
 * again where it is forwarded to). A series a rule drops is left out; one whose labels change is
 * encoded again, so that the receivers it is forwarded to store it as relabelled.
 */
import type { Relabeler } from '@strata/block';
import { Labels } from '@strata/tsdb';
import { type ReceivedSeries, withOtherLabels } from './writerequest.js';

export function relabelSeries(series: readonly ReceivedSeries[], relabeler: Relabeler): ReceivedSeries[] {
  const out: ReceivedSeries[] = [];
  for (const s of series) {
    const record = relabeler.process(s.labels.toRecord());
    if (record === undefined) continue;
    const labels = Labels.from(record);
    if (labels.equals(s.labels)) out.push(s);
    else out.push(withOtherLabels(s, labels));
  }
  return out;
}
