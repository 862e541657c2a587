/**
 * Strata's translation of RE2 regexes (what Prometheus accepts in `=~`, `!~` and label_replace) against
 * Go's regexp itself: promtool 2.42's rule tests evaluate the same matchers and label_replace calls over
 * series whose label values are the strings below, and every string must match (and capture) in Strata
 * exactly where it does in promtool. The cases are the constructs JavaScript has no direct equivalent for:
 * RE2's `\s`, negated Perl and POSIX classes inside classes, flags set and cleared midway (`i`, `m`, `s`,
 * `U`), case folding beyond ASCII, `.` and line breaks as Prometheus 2.42 anchors them (`^(?:re)$`),
 * and 400 random patterns built of them (seeded: the same ones every run).
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '@strata/testing/process';
import { compileAnchored, Matcher } from '@strata/tsdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MATCHES: [string, string[]][] = [
  ['[\\S]+', ['ab', 'a b', '\t', 'é', '\v']],
  ['[^\\S]', [' ', 'a', '\v', '\n']],
  ['[a\\S-]', ['a', ' ', '-', 'b']],
  ['[^a\\S]', ['a', ' ', '\n', 'b']],
  ['[[:^alpha:]]+', ['12', 'a1', 'é', '_']],
  ['[^[:^alpha:]]', ['a', '1', 'Z']],
  ['[[:^alpha:][:^digit:]]', ['a', '1', '-']],
  ['[\\d[:^alnum:]]+', ['1-', 'a', '1_']],
  ['(?i:[a-z]+)', ['ABC', 'aBc', '1']],
  ['x(?i)[k]', ['xK', 'x\u212A', 'Xk', 'xk']],
  ['(?i)[^k]', ['K', '\u212A', 'a', 'k']],
  ['(?i)[^\\S]', [' ', 'a', 'K']],
  ['a(?i:[^a-c])', ['aD', 'aA', 'ab', 'ad']],
  ['x(?i:[^[:^lower:]])', ['xa', 'xA', 'x1']],
  ['x(?i:[[:^upper:]])', ['xa', 'xA', 'x1', 'xſ', 'xs']],
  ['a(?i)s', ['aſ', 'aS', 'as']],
  ['a.b', ['a\nb', 'a\rb', 'a\u2028b', 'a\u0085b']],
  ['(?s:a.b)', ['a\nb', 'a\rb']],
  ['(?-s:a.b)', ['a\nb', 'a\rb']],
  ['(?m)a$\nb', ['a\nb']],
  ['a\n^b', ['a\nb']],
  ['(?m:a\n^b)', ['a\nb']],
  ['(?i)foo(?-i)bar', ['FOObar', 'FOOBAR', 'foobar']],
  ['(?i)foo(?-i:bar)baz', ['FOObarBAZ', 'FOOBARbaz']],
  ['(?is)a.B', ['A\nb', 'a\nB']],
  ['(?U)a+b', ['aab']],
  ['[a-c-e]', ['-', 'd', 'e']],
  ['[\\x41-\\x43]+', ['ABC', 'D']],
  ['x{,2}', ['x{,2}', 'xx']],
  ['\\pL(?i)\\pL', ['aB']],
  ['[\\s\\d]+', [' 1', 'a', '\v']],
  ['[^\\d\\s]+', ['ab', 'a1', 'é']],
  ['\\S+', ['ab', 'a b']],
  ['[[:word:]]+', ['a_1', 'a-1']],
  ['[^[:space:]]+', ['ab', 'a\vb', 'a b']],
  ['(a|b)+c', ['abac', 'c']],
  ['a{2,}', ['a', 'aaa']],
  ['a{2}?', ['aa', 'aaa']],
  ['[😀-😂]+', ['😀😁', '😃']],
  ['[\\-a]+', ['-a', 'b']],
  ['[a\\-z]+', ['a-z', 'b']],
  ['\\Qab\\E+', ['abbb', 'abab']],
  ['(?i)\\Qa.b\\E', ['A.B', 'AxB']],
  ['\\x{1F600}', ['😀']],
  ['\\101\\x41', ['AA']],
  ['\\pL+\\PL', ['ab1', 'abc']],
  ['\\p{Greek}+', ['αβ', 'ab']],
  ['(?i)\\p{Lu}', ['a', 'A', '1']],
  ['(?i)[[:upper:]]+', ['aB', '1']],
  ['(?i)ǆ', ['ǅ', 'Ǆ', 'ǆ']],
  ['x(?i)ǆ', ['xǅ', 'xǄ', 'xǆ']],
  ['x(?i)[ǆ]', ['xǅ', 'xǄ', 'xǆ']],
  ['(?i)σ', ['Σ', 'ς', 'σ']],
  ['x(?i)σ', ['xΣ', 'xς', 'xσ']],
  ['x(?i)[ά-ώ]+', ['xΆΏ', 'xάώ']],
  ['(?m)^a$', ['a']],
  ['(?m)a\\z', ['a']],
  ['a(?i)b|c', ['aB', 'C', 'c']],
  ['(a(?i)b)c', ['aBc', 'aBC']],
  ['(?i)a(?-i)b(?i)c', ['AbC', 'ABC']],
  ['[^a-c-e]', ['-', 'd', 'f']],
  ['[\\t]', ['\t']],
  ['\\a\\f\\v', ['\u0007\f\v']],
  ['(?s).+', ['a\nb']],
  ['.+', ['a\nb', 'a\rb']],
  // Shapes the matcher answers without the regex (sets of literals, prefixes, suffixes, substrings).
  ['foo|bar|', ['foo', 'bar', '', 'foobar']],
  ['(foo|bar)', ['foo', 'baz']],
  ['a\\.b|c', ['a.b', 'axb', 'c']],
  ['\\Qa|b\\E', ['a|b', 'a']],
  ['api.*', ['api', 'api/x', 'api\nx', 'xapi']],
  ['.*foo', ['foo', 'a\nfoo', 'foox']],
  ['.*foo.*', ['xfooy', 'x\nfoo', 'fo']],
  ['.+foo', ['foo', 'xfoo']],
  ['api.+', ['api', 'api1']],
  ['.*', ['', 'a\nb']],
  ['.+', ['', 'a']],
  ['(?i)foo|bar', ['FOO', 'BAR']],
  ['foo(?i)|bar', ['foo', 'BAR']],
  // Caseless word characters hold the Kelvin sign and the long s (a random pattern found it).
  ['x(?i)\\W', ['x\u212A', 'xſ', 'xK', 'x-']],
  ['x(?i)[\\W1]', ['x\u212A', 'x1', 'x-']],
  ['x(?i)\\w', ['x\u212A', 'xſ', 'x-']],
  // Assertions repeated (JavaScript takes them only in a group), and a repetition past a `(?flags)`.
  ['\\b+a\\z*', ['a', 'ba']],
  ['a\\B*b|a\\b{1,2}', ['ab', 'a']],
  ['(?m)^*a$?', ['a']],
  ['a(?i)*b', ['aab', 'AB', 'b']],
  ['x*(?i)*', ['xx', '']],
];
const CAPTURES: [string, string][] = [
  ['(?U)(a+)(a*)', 'aaa'],
  ['(?U)(a+?)(a*)', 'aaa'],
  ['(a+?)(a*)', 'aaa'],
  ['(?U:(a*))(a*)', 'aaa'],
  ['(?U)(a{1,2})(a*)', 'aaa'],
  ['(?U)(a{1,2}?)(a*)', 'aaa'],
];

/** A string as a PromQL string literal (JSON's escapes, which PromQL reads; U+2028 and the Kelvin sign spelled as escapes). */
function promString(s: string): string {
  return JSON.stringify(s).replace(/\u2028/g, '\\u2028').replace(/\u212a/gi, '\\u212A');
}

const matchExpr = (re: string) => `m{v=~${promString(re)}}`;
const captureExpr = (re: string) => `label_replace(m, "x", "$1|$2", "v", ${promString(re)})`;

/** Each expression's answer as promtool prints it (`got: …`), from a rules test that expects nothing of any. */
async function promtoolAnswers(dir: string, values: readonly string[]): Promise<Map<string, string>> {
  let y = 'rule_files: []\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n';
  values.forEach((v, k) => (y += `      - series: ${JSON.stringify(`m{v=${promString(v)}, k="${k}"}`)}\n        values: '1'\n`));
  y += '    promql_expr_test:\n';
  for (const expr of [...[...MATCHES, ...RANDOM].map(([re]) => matchExpr(re)), ...CAPTURES.map(([re]) => captureExpr(re))]) {
    y += `      - expr: ${JSON.stringify(expr)}\n        eval_time: 0\n        exp_samples: []\n`;
  }
  const file = join(dir, 'regexp.yml');
  await writeFile(file, y);
  // Every test fails (it expects no samples), so promtool exits 1 and prints what each expression got.
  const report = await new Promise<string>((resolve, reject) => {
    execFile('promtool', ['test', 'rules', file], { maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      const text = stdout + stderr;
      if (err !== null && !text.includes('FAILED')) reject(err);
      else resolve(text);
    });
  });
  const answers = new Map<string, string>();
  for (const block of report.split(/\n {4}expr: /).slice(1)) {
    const expr = /^(".*"), time:/.exec(block);
    if (expr !== null) answers.set(JSON.parse(expr[1] as string) as string, /got: ([\s\S]*)/.exec(block)?.[1] ?? '');
  }
  return answers;
}

/**
 * Random patterns over the same constructs (a fixed seed: the same ones every run), nested up to three
 * groups deep, each against six random strings of the letters that fold in unusual ways.
 */
function randomCases(count: number, seed: number): [string, string[]][] {
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const pick = <T>(a: readonly T[]): T => a[Math.floor(random() * a.length)] as T;
  const atoms = ['a', 'b', 'A', 'k', 's', '1', '-', '\\.', 'σ', 'é', '\\s', '\\S', '\\d', '\\w', '\\W', '.', '\\pL', '\\p{Lu}', '\\PL', '[a-c]', '[^a-c]', '[\\S]', '[^\\S]', '[[:alpha:]]', '[[:^alpha:]]', '[^[:^lower:]]', '[a\\s]', '[^k]', '[σ-ω]', '[\\d-]', '[[:upper:]1]', '\\x41', '\\Qa.\\E'];
  const letters = ['a', 'b', 'A', 'B', 'k', 'K', 's', 'S', '1', '-', ' ', '\n', '\r', '_', 'é', 'É', 'σ', 'ς', 'Σ', '\u212A', 'ſ', '.', '\t'];
  const atom = (depth: number): string => {
    const r = random();
    if (depth > 2 || r < 0.35) return pick(atoms);
    if (r < 0.5) return `(${pattern(depth + 1)})`;
    if (r < 0.6) return `(?:${pattern(depth + 1)})`;
    if (r < 0.75) return `(?${pick(['i', 's', 'm', 'U', '-i', 'i-s', 'is', '-s', 'im'])}:${pattern(depth + 1)})`;
    if (r < 0.85) return `(?${pick(['i', '-i', 's', '-s'])})${atom(depth + 1)}`;
    return random() < 0.5 ? `(?m:^)${atom(depth + 1)}` : `${atom(depth + 1)}(?m:$)`;
  };
  const piece = (depth: number): string => atom(depth) + (random() < 0.6 ? '' : pick(['*', '+', '?', '{1,2}', '*?', '+?']));
  const pattern = (depth: number): string => {
    let p = '';
    for (let k = 1 + Math.floor(random() * 3); k > 0; k--) p += piece(depth);
    return random() < 0.2 ? `${p}|${piece(depth)}` : p;
  };
  const text = () => Array.from({ length: Math.floor(random() * 5) }, () => pick(letters)).join('');
  return Array.from({ length: count }, () => [pattern(0), Array.from({ length: 6 }, text)]);
}
const RANDOM = randomCases(400, 28);

describe("RE2 regexes, against Go's regexp in promtool 2.42", () => {
  const values = [...new Set([...[...MATCHES, ...RANDOM].flatMap(([, vs]) => vs), ...CAPTURES.map(([, v]) => v)])];
  let tmp: { path: string; cleanup: () => Promise<void> };
  let answers: Map<string, string>;

  beforeAll(async () => {
    tmp = await tempDir('strata-regexp-');
    answers = await promtoolAnswers(tmp.path, values);
  });
  afterAll(async () => tmp.cleanup());

  const sameMatches = (cases: readonly [string, string[]][]) => {
    for (const [re, strings] of cases) {
      // An expression that matched nothing passed its test and is not printed.
      const matched = new Set([...(answers.get(matchExpr(re)) ?? '').matchAll(/k="(\d+)"/g)].map((m) => values[Number(m[1])]));
      const m = new Matcher('=~', 'v', re, { dotMatchesNewline: false });
      for (const s of strings) expect(m.matches(s), `${re} ~ ${JSON.stringify(s)}`).toBe(matched.has(s));
    }
  };

  it('match the same label values', () => sameMatches(MATCHES));

  it('match the same label values for 400 random patterns of those constructs', () => sameMatches(RANDOM));

  it("capture the same groups in label_replace", () => {
    for (const [re, s] of CAPTURES) {
      const series = new RegExp(`\\{[^}]*k="${values.indexOf(s)}"[^}]*\\}`).exec(answers.get(captureExpr(re)) ?? '');
      expect(series, re).not.toBeNull();
      const go = /x="([^"]*)"/.exec((series as RegExpExecArray)[0])?.[1] ?? '';
      const got = compileAnchored(re, { dotMatchesNewline: false }).exec(s);
      expect(got === null ? '' : `${got[1] ?? ''}|${got[2] ?? ''}`, re).toBe(go);
    }
  });
});
