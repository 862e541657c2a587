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
