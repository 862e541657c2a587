import { compareStrings, Labels, type Label } from '@strata/tsdb';

/**
 * A block series' labels as the store gateway serves them: the block set's external labels added
 * (winning on a name clash, as Labels.merge does) and the replica labels in `drop` removed. Both
 * lists are sorted, so one linear merge does it, without the sort an arbitrary merge needs.
 */
export function withExternalLabels(series: Labels, ext: readonly Label[], drop: ReadonlySet<string>): Labels {
  if (ext.length === 0 && drop.size === 0) return series;
  const own = series.toArray();
  const out: Label[] = [];
  let i = 0;
  let j = 0;
  while (i < own.length || j < ext.length) {
    let l: Label;
    if (j === ext.length) l = own[i++] as Label;
    else if (i === own.length) l = ext[j++] as Label;
    else {
      const c = compareStrings((own[i] as Label).name, (ext[j] as Label).name);
      if (c < 0) l = own[i++] as Label;
      else {
        l = ext[j++] as Label;
        if (c === 0) i++;
      }
    }
    if (drop.size === 0 || !drop.has(l.name)) out.push(l);
  }
  return Labels.fromSorted(out);
}
