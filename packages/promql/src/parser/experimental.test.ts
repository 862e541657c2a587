import { describe, expect, it } from 'vitest';
import type { BinaryExpr, Call, MatrixSelector, VectorSelector } from './ast.js';
import { ParseError } from './errors.js';
import { parseExpr, type ParseOptions } from './parse.js';
import { exprString } from './printer.js';

const ALL: ParseOptions = { extendedRangeSelectors: true, binopFillModifiers: true };

function reasonOf(q: string, opts: ParseOptions = {}): string {
  try {
    parseExpr(q, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(ParseError);
    return (e as ParseError).reason;
  }
  throw new Error(`${q} parsed`);
}

describe('experimental parser features, off by default as in Prometheus', () => {
  it('rejects anchored/smoothed and fill modifiers unless enabled, with Prometheus wording', () => {
    expect(reasonOf('rate(x[5m] anchored)')).toBe('anchored modifier is experimental and not enabled');
    expect(reasonOf('x smoothed')).toBe('smoothed modifier is experimental and not enabled');
    expect(reasonOf('a + fill(0) b')).toBe('binop fill modifiers are experimental and not enabled');
  });

  it('reads anchored and smoothed onto the selector they follow', () => {
    const call = parseExpr('rate(x[5m] anchored)', ALL) as Call;
    expect((call.args[0] as MatrixSelector).vs.extension).toBe('anchored');
    const b = parseExpr('a + b smoothed', ALL) as BinaryExpr;
    expect((b.rhs as VectorSelector).extension).toBe('smoothed');
    expect((b.lhs as VectorSelector).extension).toBeUndefined();
    expect(exprString(call, 3)).toBe('rate(x[5m] anchored)');
  });

  it('rejects the misplaced modifiers Prometheus rejects', () => {
    expect(reasonOf('x[5m:1m] anchored', ALL)).toBe('anchored modifier is not supported for subqueries');
    expect(reasonOf('x anchored smoothed', ALL)).toBe('anchored and smoothed modifiers cannot be used together');
    expect(reasonOf('sum(x) smoothed', ALL)).toBe('smoothed modifier not implemented');
    expect(reasonOf('a and fill(0) b', ALL)).toBe('filling in missing series not allowed for set operators');
    expect(reasonOf('a + fill(0) 1', ALL)).toBe('filling in missing series only allowed between instant vectors');
  });

  it('reads fill values per side', () => {
    const fill = (q: string): unknown => (parseExpr(q, ALL) as BinaryExpr).matching?.fill;
    expect(fill('a + fill(-Inf) b')).toEqual({ lhs: -Infinity, rhs: -Infinity });
    expect(fill('a + on(x) group_left fill_left(5) fill_right(7) b')).toEqual({ lhs: 5, rhs: 7 });
    expect(fill('a + fill_right(1) b')).toEqual({ lhs: null, rhs: 1 });
    expect(exprString(parseExpr('a + on(x) fill_left(5) fill_right(7) b', ALL), 3)).toBe('a + on (x) fill_left(5) fill_right(7) b');
  });
});

describe('info(), an experimental function', () => {
  it('is gated like the other experimental functions', () => {
    expect(reasonOf('info(m)', { experimentalFunctions: false })).toBe('function "info" is not enabled');
    expect(exprString(parseExpr('info(m, {__name__=~".+_info", data=~".*"})'), 3)).toBe('info(m, {__name__=~".+_info",data=~".*"})');
  });

  it('takes a label selector that may match the empty string, with or without offset and @', () => {
    for (const q of ['info(m, {})', 'info(m, {data=~".*"})', 'info(m, {} offset 5m)', 'info(m, {data=""} @ 10)']) {
      expect(() => parseExpr(q)).not.toThrow();
    }
    // Only there: elsewhere, and as info()'s first argument, a selector needs a non-empty matcher.
    expect(reasonOf('info({data=~".*"})')).toBe('vector selector must contain at least one non-empty matcher');
    expect(reasonOf('info(m, m + {data=~".*"})')).toBe('vector selector must contain at least one non-empty matcher');
  });

  it('rejects other second arguments with Prometheus wording and positions', () => {
    expect(reasonOf('info()')).toBe('expected at least 1 argument(s) in call to "info", got 0');
    expect(reasonOf('info(m, {a="b"}, {c="d"})')).toBe('expected at most 2 argument(s) in call to "info", got 3');
    expect(reasonOf('info(m, 1)')).toBe('expected type instant vector in call to function "info", got scalar');
    expect(reasonOf('info(m, x)')).toBe('expected label selectors only, got vector selector instead');
    expect(reasonOf('info(m, x{a="b"})')).toBe('expected label selectors only, got vector selector instead');
    expect(reasonOf('info(m, sum({a="b"}))')).toBe('expected label selectors only');
    expect(reasonOf('info(m, ({a="b"}))')).toBe('expected label selectors only');
    expect(reasonOf('info(1)')).toBe('expected type instant vector in call to function "info", got scalar');
    // The type error is at the call, the others at the argument.
    const at = (q: string): number => {
      try {
        parseExpr(q);
      } catch (e) {
        return (e as ParseError).position;
      }
      return -1;
    };
    expect(at('1 + info(m, 1)')).toBe(4);
    expect(at('1 + info(m, x)')).toBe(12);
  });
});
