import { Matcher, type MatchType } from '../labels/matcher.js';
import { prometheusRegexp, type RegexpOptions } from '../labels/regexp.js';

/**
 * Parses a series selector as promtool's `--match` takes it: `metric`, `{a="b", c=~"d"}` or
 * `metric{…}`. Values are Go-style double-quoted strings (or single/back-quoted); a metric name becomes
 * a `__name__` equality matcher. Regexes use Prometheus 2.x semantics unless `opts` says otherwise.
 */
export function parseSelector(s: string, opts: RegexpOptions = prometheusRegexp(2)): Matcher[] {
  const fail = (reason: string, at: number): never => {
    throw new Error(`invalid selector ${JSON.stringify(s)}: ${reason} at position ${at}`);
  };
  let i = 0;
  const ws = (): void => {
    while (i < s.length && /\s/.test(s[i] as string)) i++;
  };
  const out: Matcher[] = [];
  ws();
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(s.slice(i));
  if (name !== null) {
    out.push(new Matcher('=', '__name__', name[0]));
    i += name[0].length;
    ws();
  }
  if (s[i] === '{') {
    i++;
    for (;;) {
      ws();
      if (s[i] === '}') break;
      const lname = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(s.slice(i));
      if (lname === null) fail('expected a label name', i);
      i += (lname as RegExpExecArray)[0].length;
      ws();
      const op = /^(=~|!~|!=|=)/.exec(s.slice(i));
      if (op === null) fail('expected one of =, !=, =~, !~', i);
      i += (op as RegExpExecArray)[0].length;
      ws();
      const value = readString();
      out.push(new Matcher((op as RegExpExecArray)[0] as MatchType, (lname as RegExpExecArray)[0], value, opts));
      ws();
      if (s[i] === ',') i++;
      else if (s[i] !== '}') fail('expected , or }', i);
    }
    i++;
  }
  ws();
  if (i !== s.length) fail('unexpected characters', i);
  if (out.length === 0) fail('empty selector', 0);
  return out;

  function readString(): string {
    const q = s[i];
    if (q !== '"' && q !== "'" && q !== '`') return fail('expected a quoted string', i);
    const start = i++;
    let v = '';
    while (i < s.length && s[i] !== q) {
      let c = s[i++] as string;
      if (c === '\\' && q !== '`') {
        c = s[i++] ?? fail('unterminated escape', i);
        const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", a: '\x07', b: '\b', f: '\f', v: '\v' };
        if (c in simple) c = simple[c] as string;
        else if (c === 'x' || c === 'u' || c === 'U') {
          const n = c === 'x' ? 2 : c === 'u' ? 4 : 8;
          const hex = s.slice(i, i + n);
          if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) fail('invalid escape', i);
          c = String.fromCodePoint(parseInt(hex, 16));
          i += n;
        } else fail(`unknown escape \\${c}`, i - 1);
      }
      v += c;
    }
    if (i >= s.length) fail('unterminated string', start);
    i++;
    return v;
  }
}
