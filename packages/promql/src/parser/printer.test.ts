import { describe, expect, it } from 'vitest';
import { parseExpr } from './parse.js';
import { prettify } from './prettier.js';
import { exprString } from './printer.js';
import { formatDuration } from './literals.js';

const print2 = (q: string) => exprString(parseExpr(q, { compat: 2 }), 2);
const print3 = (q: string) => exprString(parseExpr(q, { compat: 3 }), 3);

// Expected texts are Prometheus 2.42's (checked against its /api/v1/format_query, see
// test/querier/format.test.ts) and, for 3.x, its current printer's rules.
describe('printer', () => {
  it('normalizes selectors, groupings and modifiers', () => {
    expect(print2('sum(rate(foo{b="2", a=~"x"}[5m] offset 1h)) by (job)')).toBe('sum by (job) (rate(foo{a=~"x",b="2"}[5m] offset 1h))');
    expect(print2('{__name__="up", job="x"} @ 100 offset -5m')).toBe('{__name__="up",job="x"} @ 100.000 offset -5m');
    expect(print2('rate(x[1h30m])[5d:1m] @ end()')).toBe('rate(x[1h30m])[5d:1m] @ end()');
    expect(print2('count_values("v", x) and on() vector(1)')).toBe('count_values("v", x) and on () vector(1)');
    expect(print2('a{b="\\n\\"é"} != 0x10')).toBe('a{b="\\n\\"é"} != 16');
    expect(print2('sum by () (x)')).toBe('sum(x)');
    expect(print2('-(foo) ^ 2 > bool 1.5e-7')).toBe('-(foo) ^ 2 > bool 1.5e-07');
  });

  it('writes numbers as 2.x (Go’s %v) or 3.x (plain) does', () => {
    expect(print2('1000000 + 123456 + 0.0001 + 0.00001 - Inf')).toBe('1e+06 + 123456 + 0.0001 + 1e-05 - +Inf');
    expect(print3('1000000 + 0.00001')).toBe('1000000 + 0.00001');
  });

  it('writes 3.x’s UTF-8 names quoted, `ignoring ()` before a bare group_left, and duration expressions as written', () => {
    expect(print3('sum by ("my.label") ({"my.metric", "a.b"="c"})')).toBe('sum by ("my.label") ({"a.b"="c",__name__="my.metric"})');
    expect(print3('a * ignoring() group_left b')).toBe('a * ignoring () group_left () b');
    expect(print2('a * ignoring() group_left b')).toBe('a * b');
    expect(print3('rate(x[step()*2])')).toBe('rate(x[step()*2])');
  });

  it('formats durations as Prometheus’ model.Duration', () => {
    expect([0, 1500, 90 * 86400000, 365 * 86400000, 15 * 86400000, 5400000].map(formatDuration)).toEqual(['0s', '1s500ms', '90d', '1y', '15d', '1h30m']);
  });
});

describe('prettify', () => {
  const long = 'some_really_long_metric_name_for_testing_the_prettifier{handler=~"/api/v1/.*",job="api-server"}';
  it('keeps what fits in 100 characters on one line and splits the rest one level per node', () => {
    expect(prettify(parseExpr('sum(rate(x[5m])) by (job)'), 2)).toBe('sum by (job) (rate(x[5m]))');
    expect(prettify(parseExpr(`topk(5, sum without (instance) (rate(${long}[5m]))) / on (job) group_left (team) max by (job) (y)`), 2)).toBe(
      [
        '  topk(',
        '    5,',
        '    sum without (instance) (',
        '      rate(',
        `        ${long}[5m]`,
        '      )',
        '    )',
        '  )',
        '/ on (job) group_left (team)',
        '  max by (job) (y)',
      ].join('\n'),
    );
    // A subquery short enough to stay whole is not indented, as Prometheus writes it.
    const sub = 'rate(http_requests_total_with_a_long_name{instance="host-1:9090",job="api-server"}[5m])[1h:1m]';
    expect(prettify(parseExpr(`quantile_over_time(0.99, ${sub})`), 2)).toBe(`quantile_over_time(\n  0.99,\n${sub}\n)`);
  });
});
