import { Relabeler } from '@strata/block';
import { MatcherType } from '@strata/storeapi';
import { Labels } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { matchersFor, TsdbSelector } from './selector.js';

const sets = [Labels.from({ cluster: 'a.1', replica: '0' }), Labels.from({ cluster: 'b' }), Labels.from({ cluster: 'c', replica: '1' })];

describe('TsdbSelector', () => {
  it('keeps the label sets the rules keep, with matchers admitting those alone', () => {
    const selector = new TsdbSelector({ relabel: Relabeler.fromYaml('- action: drop\n  source_labels: [cluster]\n  regex: c\n') });
    expect(selector.select(sets)).toEqual({
      labelSets: sets.slice(0, 2),
      matchers: [
        { type: MatcherType.RE, name: 'cluster', value: 'a\\.1|b' },
        { type: MatcherType.RE, name: 'replica', value: '|0' },
      ],
    });
    // Where every set is kept the endpoint is asked as it is; where none is, not at all.
    expect(selector.select(sets.slice(0, 2))?.matchers).toEqual([]);
    expect(selector.select([sets[2] as Labels])).toBeUndefined();
    // An endpoint that announces no label set is read whole.
    expect(selector.select([])).toEqual({ labelSets: [], matchers: [] });
  });

  it('strips matchers on selector labels that match, and answers nothing for one that does not', () => {
    const selector = new TsdbSelector({ labels: Labels.from({ region: 'eu' }) });
    const eq = (name: string, value: string) => ({ name, value });
    const matches = (m: { value: string }, v: string) => m.value === v;
    const own = [eq('job', 'api')];
    expect(selector.strip(own, matches)).toBe(own);
    expect(selector.strip([eq('region', 'eu'), ...own], matches)).toEqual(own);
    expect(selector.strip([eq('region', 'us'), ...own], matches)).toBeUndefined();
  });

  it('announces each label set under the selector labels, or those alone', () => {
    const selector = new TsdbSelector({ labels: Labels.from({ region: 'eu', cluster: 'x' }) });
    expect(selector.announced([sets[1] as Labels, Labels.from({ cluster: 'b' })]).map(String)).toEqual(['{cluster="x", region="eu"}']);
    expect(selector.announced([Labels.from({ zone: 'z' })]).map(String)).toEqual(['{cluster="x", region="eu", zone="z"}']);
    expect(selector.announced([]).map(String)).toEqual(['{cluster="x", region="eu"}']);
    expect(new TsdbSelector().announced([]).map(String)).toEqual([]);
  });
});

describe('matchersFor', () => {
  it('quotes values, and admits the empty value of a label some sets lack', () => {
    expect(matchersFor([Labels.from({ a: 'x|y' }), Labels.from({ b: '(z)' })])).toEqual([
      { type: MatcherType.RE, name: 'a', value: '|x\\|y' },
      { type: MatcherType.RE, name: 'b', value: '|\\(z\\)' },
    ]);
  });
});
