import { isValidLabelName } from '../engine/names.js';
import { describe, expect, it } from 'vitest';
import { exprType, type BinaryExpr, type Expr } from './ast.js';
import { ParseError } from './errors.js';
import { parseExpr, type ParseOptions } from './parse.js';

function errorOf(q: string, opts: ParseOptions = {}): string {
  try {
    parseExpr(q, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(ParseError);
    return (e as Error).message;
  }
  throw new Error(`${q} parsed`);
}

describe('parseExpr', () => {
  it('reads number literals as Prometheus does', () => {
    const value = (q: string): number => (parseExpr(q) as { value: number }).value;
    expect(value('0x1F')).toBe(31);
    expect(value('1e3')).toBe(1000);
    expect(value('.5')).toBe(0.5);
    expect(value('2.')).toBe(2);
    expect(value('-Inf')).toBe(-Infinity);
    expect(Number.isNaN(value('nAn'))).toBe(true);
    expect(value('- - - 1')).toBe(-1);
    // Go's ParseInt with base 0 first: a leading 0 is octal, unless a digit is not (then ParseFloat).
    expect(value('010')).toBe(8);
    expect(value('09')).toBe(9);
    expect(value('0X1f')).toBe(31);
    expect(value('9223372036854775807')).toBe(2 ** 63);
    expect(value('99999999999999999999')).toBe(1e20);
    expect(value('1e-400')).toBe(0);
    expect(errorOf('1e400 + 1')).toBe('1:1: parse error: error parsing number: strconv.ParseFloat: parsing "1e400": value out of range');
    expect(errorOf('-1e400')).toBe('1:2: parse error: error parsing number: strconv.ParseFloat: parsing "1e400": value out of range');
  });

  it('places an @ time out of int64 at the expression it modifies, in Go\'s %f, and wraps milliseconds past it as Go does', () => {
    expect(errorOf('rate(x[5m] @ Inf)')).toBe('1:6: parse error: timestamp out of bounds for @ modifier: +Inf');
    expect(errorOf('1 + x @ -Inf')).toBe('1:5: parse error: timestamp out of bounds for @ modifier: -Inf');
    expect(errorOf('x[5m:] @ NaN')).toBe('1:1: parse error: timestamp out of bounds for @ modifier: NaN');
    expect(errorOf('x @ 1e19')).toBe('1:1: parse error: timestamp out of bounds for @ modifier: 10000000000000000000.000000');
    expect(parseExpr('x @ 9223372036854')).toMatchObject({ timestamp: 9223372036854000 });
    expect(parseExpr('x @ 9223372036854776')).toMatchObject({ timestamp: -(2 ** 63) });
    expect(parseExpr('x @ -0.0005')).toMatchObject({ timestamp: -1 });
  });

  it('in 2.x mode reads numbers and durations as 2.x\'s lexer does, with Prometheus 2.42\'s errors', () => {
    // Prometheus 2.42's instant query API, compared by a script over ~1,000 such queries.
    const cases: [string, string][] = [
      ['1e', '1:1: parse error: error parsing number: strconv.ParseFloat: parsing "1e": invalid syntax'],
      ['x > 0x', '1:5: parse error: error parsing number: strconv.ParseFloat: parsing "0x": invalid syntax'],
      ['0x1g', '1:1: parse error: bad number or duration syntax: "0x1"'],
      ['1_000', '1:1: parse error: bad number or duration syntax: "1"'],
      ['x offset 5mm', '1:10: parse error: bad number or duration syntax: "5mm"'],
      ['1..2', '1:3: parse error: unexpected number ".2"'],
      ['x[', '1:3: parse error: missing unit character in duration'],
      ['x[-5m]', '1:3: parse error: missing unit character in duration'],
      ['x[5x]', '1:3: parse error: bad duration syntax: "5"'],
      ['x[1m1h]', '1:3: parse error: not a valid duration string: "1m1h"'],
      ['x[1.5m]', '1:3: parse error: not a valid duration string: "1.5m"'],
      ['x[99999999999999999999y]', '1:3: parse error: duration out of range'],
      ['x[5m 1m]', '1:6: parse error: unexpected duration "1m" in subquery or range, expected ":" or "]"'],
      ['x[5m:-1m]', '1:6: parse error: unexpected <op:-> in subquery selector, expected duration or "]"'],
      ['x[5m:99999999999999999999]', '1:6: parse error: unexpected number "9999999999"... in subquery selector, expected duration or "]"'],
      ['x offset 5', '1:10: parse error: unexpected number "5" in offset, expected duration'],
      ['x offset -Inf', '1:11: parse error: unexpected number "Inf" in offset, expected duration'],
      ['x offset 0s', '1:10: parse error: duration must be greater than 0'],
      ['x @ -5m', '1:6: parse error: unexpected duration "5m" in @, expected timestamp'],
      ['x @ end', '1:8: parse error: unexpected end of input in @, expected timestamp'],
      ['5m + 1', '1:1: parse error: unexpected duration "5m"'],
      ['topk(5m, x)', '1:6: parse error: unexpected duration "5m" in aggregation'],
      ['round(x, 5m)', '1:8: parse error: trailing commas not allowed in function call args'],
      ['x}', "1:2: parse error: unexpected character: '}'"],
      // The number's error comes before the @ modifier's own check, made once the modifier is read.
      ['last_over_time(x[5m:]) @ 1e400', '1:26: parse error: error parsing number: strconv.ParseFloat: parsing "1e400": value out of range'],
    ];
    for (const [input, error] of cases) expect(errorOf(input, { compat: 2 }), input).toBe(error);
    // 3.x reads a duration where a number goes as seconds.
    expect(parseExpr('5m + 1')).toMatchObject({ kind: 'binary' });
  });

  it('unquotes strings with Go escapes', () => {
    expect((parseExpr('"a\\tb\\u00e9\\x41"') as { value: string }).value).toBe('a\tbéA');
    expect((parseExpr('`raw\\n`') as { value: string }).value).toBe('raw\\n');
  });

  it('reads \\x and octal escapes as bytes of UTF-8, as Go does; invalid bytes stay recognisable', () => {
    const str = (q: string): string => (parseExpr(q) as { value: string }).value;
    expect(str('"\\xc3\\xa9"')).toBe('é');
    expect(str('"\\303\\251x"')).toBe('éx');
    // Each invalid byte is a lone surrogate U+DC80 + byte, which 3.x label name checks reject.
    expect(str('"\\xff"')).toBe('\udd7f');
    expect(str('"a\\xe2\\x82b"')).toBe('a\udd62\udd02b');
    expect(isValidLabelName(str('"\\xff"'), 3)).toBe(false);
    expect(isValidLabelName(str('"\\xc3\\xa9"'), 3)).toBe(true);
    expect(() => parseExpr('"\\400"')).toThrow(/invalid escape sequence/);
  });

  it('binds operators with Prometheus precedence and associativity', () => {
    const b = parseExpr('2 ^ 3 ^ 2') as BinaryExpr;
    expect(b.lhs.kind).toBe('number');
    expect(b.rhs.kind).toBe('binary');
    const u = parseExpr('-x ^ 2');
    expect(u.kind).toBe('unary');
    // A sign the lexer reads into the number still applies after `^`: -(1 ^ 2), not (-1) ^ 2.
    expect(parseExpr('-1 ^ 2')).toMatchObject({ kind: 'unary', op: '-', expr: { kind: 'binary', op: '^', lhs: { value: 1 } } });
    expect(parseExpr('2 * -1 ^ 2')).toMatchObject({ kind: 'binary', op: '*', rhs: { kind: 'unary', op: '-' } });
    expect(parseExpr('(-1) ^ 2')).toMatchObject({ kind: 'binary', lhs: { kind: 'paren' } });
    const m = parseExpr('a + b * c') as BinaryExpr;
    expect(m.op).toBe('+');
  });

  it('reads the trim operators </ and >/, with vector matching but without bool', () => {
    expect(parseExpr('h </ 2 * 3')).toMatchObject({ kind: 'binary', op: '</', rhs: { kind: 'binary', op: '*' } });
    expect(parseExpr('h >/ on(l) f')).toMatchObject({ op: '>/', matching: { card: 'one-to-one', matchingLabels: ['l'], on: true } });
    expect(errorOf('h </ bool 2')).toBe('1:3: parse error: bool modifier can only be used on comparison operators');
  });

  it('attaches offset and @ to the last operand of an unparenthesized operation', () => {
    const b = parseExpr('a offset 1m + b offset 2m @ 100') as BinaryExpr;
    expect(b.lhs).toMatchObject({ kind: 'vectorSelector', offset: 60_000 });
    expect(b.rhs).toMatchObject({ kind: 'vectorSelector', offset: 120_000, timestamp: 100_000 });
    expect(parseExpr('rate(x[5m] offset -1m @ start())')).toMatchObject({
      args: [{ kind: 'matrixSelector', range: 300_000, vs: { offset: -60_000, atAnchor: 'start' } }],
    });
  });

  it('binds a modifier tighter than any operator after it, as Prometheus 2.42 answers', () => {
    // lezer's tree is ((a + b) offset 1d) * 2; Prometheus' grammar reads a + ((b offset 1d) * 2).
    expect(parseExpr('a + b offset 1d * 2')).toMatchObject({ op: '+', rhs: { op: '*', lhs: { name: 'b', offset: 86_400_000 } } });
    expect(parseExpr('a and b @ start() < bool 0.9')).toMatchObject({ op: 'and', rhs: { op: '<', returnBool: true, lhs: { atAnchor: 'start' } } });
    expect(parseExpr('a or on(path) b offset 30s != bool 1')).toMatchObject({ op: 'or', matching: { on: true, matchingLabels: ['path'] }, rhs: { op: '!=' } });
    expect(parseExpr('a or b + c offset 1m * d')).toMatchObject({ op: 'or', rhs: { op: '+', rhs: { op: '*', lhs: { name: 'c', offset: 60_000 } } } });
    expect(parseExpr('a ^ b offset 1m ^ c')).toMatchObject({ op: '^', lhs: { name: 'a' }, rhs: { op: '^', lhs: { name: 'b' } } });
    // A sign binds looser than ^: -((a offset 1m) ^ b).
    expect(parseExpr('-a offset 1m ^ b')).toMatchObject({ kind: 'unary', expr: { op: '^', lhs: { name: 'a', offset: 60_000 } } });
    expect(parseExpr('a + -b offset 1m * c')).toMatchObject({ op: '+', rhs: { op: '*', lhs: { kind: 'unary', expr: { name: 'b' } } } });
    // Each error where Prometheus 2.42 reports it.
    expect(errorOf('a + (b) offset 1m')).toBe('1:5: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery');
    expect(errorOf('a + b offset 1m offset 2m * c')).toBe('1:5: parse error: offset may not be set multiple times');
    expect(errorOf('aaa + b[5m] @ 5')).toBe('1:7: parse error: binary expression must contain only scalar and instant vector types');
    expect(errorOf('a + b offset 1m * c[5m]')).toBe('1:19: parse error: binary expression must contain only scalar and instant vector types');
    expect(errorOf('-a offset 1m[5m]')).toBe('1:13: parse error: no offset modifiers allowed before range');
    expect(errorOf('x @ 5 [5m]')).toBe('1:7: parse error: no @ modifiers allowed before range');
    expect(parseExpr('x @ start() [5m]')).toMatchObject({ kind: 'matrixSelector', vs: { atAnchor: 'start' } });
  });

  it('skips comments anywhere, and reads `offset` where an expression starts as a metric name, as Prometheus', () => {
    expect(parseExpr('#c\nx #d\n')).toMatchObject({ kind: 'vectorSelector', name: 'x' });
    expect(parseExpr('x{a#c\n!="b"}')).toMatchObject({ matchers: [{ type: '!=', name: 'a', value: 'b' }, { name: '__name__' }] });
    expect(parseExpr('offset')).toMatchObject({ kind: 'vectorSelector', name: 'offset' });
    expect(parseExpr('x + on(a) offset offset 5m')).toMatchObject({ op: '+', rhs: { name: 'offset', offset: 300_000 } });
    expect(parseExpr('rate(offset[5m])')).toMatchObject({ args: [{ vs: { name: 'offset' } }] });
    expect(parseExpr('x #c\n offset 5m')).toMatchObject({ name: 'x', offset: 300_000 });
    expect(errorOf('x + offset 100')).toBe('1:12: parse error: unexpected number "100"');
  });

  it("knows with compat 2 only the functions of Prometheus 2.42", () => {
    const twoX = { compat: 2 } as const;
    for (const q of ['sort_by_label(x, "a")', 'mad_over_time(x[5m])', 'histogram_avg(x)', 'double_exponential_smoothing(x[5m], 0.5, 0.5)', 'limitk(1, x)', 'range()']) {
      expect(errorOf(q, twoX), q).toMatch(/^1:1: parse error: unknown function with name "\w+"$/);
      expect(() => parseExpr(q)).not.toThrow();
    }
    // Asked for (--enable-feature=promql-experimental-functions), 3.x's functions come with 2.x's language.
    expect(parseExpr('sort_by_label(x, "a")', { compat: 2, experimentalFunctions: true })).toMatchObject({ kind: 'call' });
    // `start` and `end` are metric names to 2.x where no `@` precedes them.
    expect(errorOf('start()', twoX)).toBe('1:6: parse error: unexpected "("');
    expect(errorOf('holt_winters(x[5m], 0.5, 0.5)')).toBe('1:1: parse error: unknown function with name "holt_winters"');
    expect(parseExpr('holt_winters(x[5m], 0.5, 0.5)', twoX)).toMatchObject({ kind: 'call' });
  });

  it('checks vector matching as Prometheus: an empty on() between scalars is dropped, ON and GROUP labels first', () => {
    expect(parseExpr('1 + on() 2')).toMatchObject({ kind: 'binary', matching: null });
    expect(parseExpr('x + on() 1')).toMatchObject({ kind: 'binary', matching: null });
    expect(errorOf('x + on(a) 1')).toBe('1:1: parse error: vector matching only allowed between instant vectors');
    expect(errorOf('1 + on(a) group_left(a) 2')).toBe('1:3: parse error: label "a" must not occur in ON and GROUP clause at once');
  });

  it('builds selectors with the metric name as a matcher and vector matching', () => {
    const b = parseExpr('foo{a="b"} * on(a) group_left(c) bar') as BinaryExpr;
    expect(b.matching).toEqual({ card: 'many-to-one', matchingLabels: ['a'], on: true, include: ['c'] });
    const vs = b.lhs as Extract<Expr, { kind: 'vectorSelector' }>;
    expect(vs.matchers.map((m) => m.toString())).toEqual(['a="b"', '__name__="foo"']);
    expect(exprType(parseExpr('x[5m:1m]'))).toBe('range vector');
  });

  it('reports type errors with Prometheus wording and positions', () => {
    expect(errorOf('sum(x[5m])')).toBe('1:5: parse error: expected type instant vector in aggregation expression, got range vector');
    expect(errorOf('absent()')).toBe('1:1: parse error: expected 1 argument(s) in call to "absent", got 0');
    expect(errorOf('x{a="\\q"}')).toBe("1:5: parse error: unknown escape sequence U+0071 'q'");
    expect(errorOf('x[0s]')).toBe('1:3: parse error: duration must be greater than 0');
    expect(errorOf('rate(x)')).toBe('1:6: parse error: expected type range vector in call to function "rate", got instant vector');
    expect(errorOf('1 > 2')).toBe('1:3: parse error: comparisons between scalars must use BOOL modifier');
    expect(errorOf('a + bool b')).toBe('1:3: parse error: bool modifier can only be used on comparison operators');
    expect(errorOf('{a=""}')).toBe('1:1: parse error: vector selector must contain at least one non-empty matcher');
    expect(errorOf('foo{__name__="bar"}')).toBe('1:1: parse error: metric name must not be set twice: "foo" or "bar"');
    expect(errorOf('foo{__name__=~"ba.*"}')).toBe('1:1: parse error: metric name must not be set twice: "foo" or "ba.*"');
    // A subquery's range and step as any duration in brackets (Prometheus 2.42's wording).
    expect(errorOf('x[0s:1m]')).toBe('1:3: parse error: duration must be greater than 0');
    expect(errorOf('x[0s:]')).toBe('1:3: parse error: duration must be greater than 0');
    expect(errorOf('x[5m:0s]')).toBe('1:6: parse error: duration must be greater than 0');
    for (const blank of ['', '   ', '# only a comment', ' \n# two\n# comments\n']) expect(errorOf(blank)).toBe('1:1: parse error: no expression found in input');
    expect(errorOf('1 and 2')).toBe('1:1: parse error: set operator "and" not allowed in binary scalar expression');
    expect(errorOf('(a + b) offset 5m')).toMatch(/^1:1: parse error: offset modifier must be preceded by an instant vector selector/);
    expect(errorOf('round(x, 1, 2)')).toBe('1:1: parse error: expected at most 2 argument(s) in call to "round", got 3');
    expect(errorOf('topk(x)')).toBe('1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1');
    expect(errorOf('holt_winters(x[1m], 0.1, 0.1)')).toBe('1:1: parse error: unknown function with name "holt_winters"');
  });

  it('reports syntax errors at their position', () => {
    expect(errorOf('{a="b"')).toBe('1:7: parse error: unexpected end of input inside braces');
    expect(errorOf('sum(a) by')).toMatch(/^1:10: parse error: unexpected end of input/);
    // Past the parenthesis, where Prometheus' lexer stands when it finds none open.
    expect(errorOf('a +\n  )')).toBe("2:4: parse error: unexpected right parenthesis ')'");
    expect(errorOf('sum(')).toBe('1:5: parse error: unclosed left parenthesis');
    expect(errorOf('x[5m:1m')).toBe('1:8: parse error: unclosed left bracket');
    expect(errorOf('a b')).toBe('1:3: parse error: unexpected identifier "b"');
    expect(errorOf('1 +* 2')).toBe('1:4: parse error: unexpected <op:*>');
    expect(errorOf('foo(bar)')).toBe('1:1: parse error: unknown function with name "foo"');
    expect(errorOf('foo @ bar')).toBe('1:7: parse error: unexpected identifier "bar" in @, expected timestamp');
    expect(errorOf('x offset')).toBe('1:9: parse error: unexpected end of input in offset, expected duration');
    // Prometheus 2.42's own wording for each (its instant query API, compared by hand).
    const cases: [string, string][] = [
      ['sum by', '1:7: parse error: unexpected end of input in grouping opts, expected "("'],
      ['sum(x) by', '1:10: parse error: unexpected end of input in grouping opts, expected "("'],
      ['x{a="', '1:5: parse error: unterminated quoted string'],
      ['x{a="b\nc"}', '1:5: parse error: unterminated quoted string'],
      ['x !', "1:3: parse error: unexpected character after '!': '\ufffd'"],
      ['x{a!', "1:4: parse error: unexpected character after '!' inside braces: '\ufffd'"],
      ['x{a="b"{', "1:8: parse error: unexpected left brace '{'"],
      ['x{instance:=~"a"}', "1:11: parse error: unexpected character inside braces: ':'"],
      ['x{a="b" == "c"}', '1:9: parse error: unexpected "=" in label matching, expected "," or "}"'],
      ['x{offset y}', '1:10: parse error: unexpected identifier "y" in label matching, expected label matching operator'],
      ['rate(x offset', '1:14: parse error: unclosed left parenthesis'],
      ['rate(x[5m] @', '1:13: parse error: unclosed left parenthesis'],
      ['last_over_time((x)[5m', '1:22: parse error: unclosed left parenthesis'],
      ['x @ start(}', "1:11: parse error: unexpected character: '}'"],
      ['x @ start({)', '1:11: parse error: unexpected "{" in @, expected timestamp'],
      ['f(x@)', '1:5: parse error: unexpected ")" in @, expected timestamp'],
      ['min by (a)', '1:11: parse error: unexpected end of input in aggregation'],
      ['avg by () by (x)', '1:11: parse error: unexpected <by> in aggregation'],
      ['x[5m:1m)', "1:9: parse error: unexpected right parenthesis ')'"],
      ['rate(x[5m:1m)', '1:13: parse error: unexpected ")" in subquery selector, expected "]"'],
      ['x[5m:1m x]', "1:9: parse error: unexpected colon 'x'"],
      ['x[5m[5m]]', "1:5: parse error: unexpected left bracket '['"],
      ['a:b(x)', '1:4: parse error: unexpected "("'],
      ['v ector:(1)', '1:3: parse error: unexpected metric identifier "ector:"'],
      ['sum(x start() y)', '1:7: parse error: unexpected "start" in aggregation'],
      ['foo(x{a=b})', '1:9: parse error: unexpected identifier "b" in label matching, expected string'],
      ['foo(x[5m)', '1:9: parse error: unexpected ")" in subquery or range, expected ":" or "]"'],
      ['foo(bar(x))', '1:5: parse error: unknown function with name "bar"'],
      ['foo(x) +* 2', '1:1: parse error: unknown function with name "foo"'],
      ["x{a='b", '1:5: parse error: unterminated quoted string'],
      ['x{a=`', '1:5: parse error: unterminated raw string'],
      ['sum by (a b) (x)', '1:11: parse error: unexpected identifier "b" in grouping opts, expected "," or ")"'],
      ['x * on(a) group_left (x{a="b"})', '1:24: parse error: unexpected "{" in grouping opts, expected "," or ")"'],
      ['sum without (a +) (x)', '1:16: parse error: unexpected <op:+> in grouping opts, expected "," or ")"'],
      ['sum by (1) (x)', '1:9: parse error: unexpected number "1" in grouping opts, expected label'],
      ['sum by (a,, b) (x)', '1:11: parse error: unexpected "," in grouping opts, expected label'],
      ['by(a) sum(x)', '1:3: parse error: unexpected "("'],
      ['sum without() (x) by (a)', '1:19: parse error: unexpected <by>'],
      ['group_left', '1:1: parse error: unexpected <group_left>'],
      ['foo(', '1:5: parse error: unclosed left parenthesis'],
      ['topk()', '1:1: parse error: no arguments for aggregate expression provided'],
      ['x[5m] offset 1m [1m]', '1:17: parse error: ranges only allowed for vector selectors'],
      ['x offset -', '1:11: parse error: unexpected end of input in offset, expected duration'],
      ['x = y', '1:3: parse error: unexpected "="'],
      ['x =~ y', "1:3: parse error: unexpected character after '=': '~'"],
      ['x ! y', "1:3: parse error: unexpected character after '!': ' '"],
      ['`abc', '1:1: parse error: unterminated raw string'],
      ['.', "1:1: parse error: unexpected character: '.'"],
      [')', "1:2: parse error: unexpected right parenthesis ')'"],
      ['(foo))', "1:7: parse error: unexpected right parenthesis ')'"],
      ['sum(rate(foo[5m)', '1:16: parse error: unexpected ")" in subquery or range, expected ":" or "]"'],
      ['foo{a="b")', "1:10: parse error: unexpected character inside braces: ')'"],
      ['x{a=}', '1:5: parse error: unexpected "}" in label matching, expected string'],
      ['x{a}', '1:4: parse error: unexpected "}" in label matching, expected label matching operator'],
      ['x{a="b" c="d"}', '1:9: parse error: unexpected identifier "c" in label matching, expected "," or "}"'],
      ['x{,}', '1:3: parse error: unexpected "," in label matching, expected identifier or "}"'],
      ['x{a="b"=}', '1:8: parse error: unexpected "=" in label matching, expected "," or "}"'],
      ['x{1}', "1:3: parse error: unexpected character inside braces: '1'"],
      ['x{a!}', "1:4: parse error: unexpected character after '!' inside braces: '}'"],
      ['x[5m:1m:1m]', "1:8: parse error: unexpected colon ':'"],
      // Inside an aggregation, at any depth, and after a call's comma, as the parser recovers there.
      ['sum(rate(x y))', '1:12: parse error: unexpected identifier "y" in aggregation'],
      ['sum by (a) (x +)', '1:16: parse error: unexpected ")" in aggregation'],
      ['sum(x,)', '1:6: parse error: trailing commas not allowed in function call args'],
      ['round(x,, 1)', '1:8: parse error: trailing commas not allowed in function call args'],
      // An escaped quote does not end a string: the braces are still open after it.
      ['x{a="\\"}"', '1:10: parse error: unexpected end of input inside braces'],
    ];
    for (const [input, error] of cases) expect(errorOf(input), input).toBe(error);
    expect(() => parseExpr('x[5]', { compat: 2 })).toThrow('1:3: parse error: missing unit character in duration');
    expect((parseExpr('x[5]') as { range: number }).range).toBe(5000);
  });

  it('reads quoted (UTF-8) names only in 3.x mode', () => {
    expect(() => parseExpr('x{"a.b"="c"}', { compat: 2 })).toThrow('1:3: parse error: unexpected string "\\"a.b\\"" in label matching, expected identifier or "}"');
    expect(() => parseExpr('{"foo"}', { compat: 2 })).toThrow('1:2: parse error: unexpected string "\\"foo\\"" in label matching, expected identifier or "}"');
    // 2.x finds the string before the grammar's own error after it; quoted names in groupings came with 3.x too.
    expect(() => parseExpr('{"a"="b" c}', { compat: 2 })).toThrow('1:2: parse error: unexpected string "\\"a\\"" in label matching, expected identifier or "}"');
    expect(() => parseExpr('sum by ("a" b) (x)', { compat: 2 })).toThrow('1:9: parse error: unexpected string "\\"a\\"" in grouping opts, expected label');
    expect(() => parseExpr('x * on("a") y', { compat: 2 })).toThrow('1:8: parse error: unexpected string "\\"a\\"" in grouping opts, expected label');
    expect(parseExpr('sum by ("a") (x)')).toMatchObject({ grouping: ['a'] });
    expect(parseExpr('{"foo.bar", a="b"}')).toMatchObject({ kind: 'vectorSelector', name: 'foo.bar' });
  });

  it('accepts holt_winters only in 2.x mode', () => {
    expect(parseExpr('holt_winters(x[1m], 0.1, 0.1)', { compat: 2 })).toMatchObject({ kind: 'call', func: { name: 'holt_winters' } });
  });
});
