/**
 * Reader of Prometheus' PromQL test scripts (promql/promqltest): `load`, `load_with_nhcb`, `clear`,
 * `eval instant|range` with the `eval_fail/_ordered/_warn/_info` forms and `expect` lines.
 */
import { expandHistogramSeries, type FloatHistogram, HISTOGRAM_SERIES_ITEM } from '@strata/tsdb';
import { UnsupportedError } from '../parser/errors.js';
import { parseDuration, unquoteString } from '../parser/literals.js';

export interface SeriesLine {
  /** The series descriptor, e.g. `foo{a="b"}` or `{}`. */
  readonly selector: string;
  /** Values per slot: a float, a native histogram, or null for no sample (`_`). */
  readonly values: ReadonlyArray<number | null | FloatHistogram>;
  readonly stale: ReadonlySet<number>;
}

export interface LoadCommand {
  readonly kind: 'load';
  readonly line: number;
  readonly interval: number;
  readonly nhcb: boolean;
  readonly series: SeriesLine[];
  /** Why the data lines could not be read (the load then leaves the data incomplete). */
  readonly error: Error | null;
}

export interface Expectation {
  readonly kind: 'fail' | 'warn' | 'info' | 'no_warn' | 'no_info' | 'ordered' | 'string' | 'range';
  /** `msg:`/`regex:` text for fail/warn/info; the string for `expect string`. */
  readonly message?: string;
  readonly regex?: boolean;
  /** The steps of an `expect range vector from <s> to <e> step <d>` (ms). */
  readonly range?: { start: number; end: number; step: number };
}

export interface EvalCommand {
  readonly kind: 'eval';
  readonly line: number;
  readonly expr: string;
  readonly range: { start: number; end: number; step: number } | null;
  /** Evaluation time for instant queries (ms). */
  readonly at: number;
  readonly expects: Expectation[];
  /** Expected result lines; a scalar result is one line with an empty selector. */
  readonly results: SeriesLine[];
}

export type Command = LoadCommand | { readonly kind: 'clear'; readonly line: number } | EvalCommand;

const NUMBER = String.raw`[+-]?(?:(?:\d+(?:ms|[smhdwy]))+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|0x[0-9a-fA-F]+|[Ii]nf|NaN)`;
const EXPANSION = new RegExp(`^(${NUMBER}|_)(?:([+-])(${NUMBER}))?x(\\d+)$`);

function parseTime(text: string): number {
  const neg = text.startsWith('-');
  const d = parseDuration(neg ? text.slice(1) : text);
  if (d === null) throw new Error(`bad duration ${JSON.stringify(text)}`);
  return neg ? -d : d;
}

function parseNumberToken(t: string): number {
  const l = t.toLowerCase().replace(/^\+/, '');
  if (l === 'inf') return Infinity;
  if (l === '-inf') return -Infinity;
  if (l === 'nan' || l === '-nan') return NaN;
  if (/^-?0x/.test(l)) return l.startsWith('-') ? -parseInt(l.slice(3), 16) : parseInt(l.slice(2), 16);
  const d = parseDuration(l.replace(/^-/, ''));
  if (d !== null) return (l.startsWith('-') ? -d : d) / 1000;
  const n = Number(l);
  if (Number.isNaN(n)) throw new Error(`bad number ${JSON.stringify(t)}`);
  return n;
}

/** Splits `foo{a="b c"} 1 2` into the descriptor and the value text. */
function splitSeriesLine(line: string): [string, string] {
  let i = 0;
  let inBraces = false;
  let quote: string | null = null;
  for (; i < line.length; i++) {
    const c = line[i] as string;
    if (quote !== null) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '{') inBraces = true;
    else if (c === '}') inBraces = false;
    else if (!inBraces && /\s/.test(c)) break;
  }
  return [line.slice(0, i), line.slice(i).trim()];
}

/** Parses the value list of a series line, expanding `a+bxN`, `axN`, `_xN`. */
export function parseValues(text: string): { values: (number | null | FloatHistogram)[]; stale: Set<number> } {
  const values: (number | null | FloatHistogram)[] = [];
  const stale = new Set<number>();
  // Native-histogram items (`{{…}}`, with their expansions) hold spaces: each becomes one token first.
  const items: string[] = [];
  const tokens = text.replace(HISTOGRAM_SERIES_ITEM, (item) => ` HIST${items.push(item) - 1} `).split(/\s+/).filter((t) => t !== '');
  for (const t of tokens) {
    if (t.startsWith('HIST')) {
      values.push(...expandHistogramSeries(items[Number(t.slice(4))] as string));
      continue;
    }
    if (t === '_') {
      values.push(null);
      continue;
    }
    if (t === 'stale') {
      stale.add(values.length);
      values.push(NaN);
      continue;
    }
    const m = EXPANSION.exec(t);
    if (m === null) {
      values.push(parseNumberToken(t));
      continue;
    }
    const n = Number(m[4]);
    if (m[1] === '_') {
      for (let k = 0; k < n; k++) values.push(null);
      continue;
    }
    let v = parseNumberToken(m[1] as string);
    const delta = m[3] === undefined ? 0 : parseNumberToken(m[3]) * (m[2] === '-' ? -1 : 1);
    for (let k = 0; k <= n; k++) {
      values.push(v);
      v += delta;
    }
  }
  return { values, stale };
}

function parseSeriesLine(line: string): SeriesLine {
  const [selector, rest] = splitSeriesLine(line);
  if (selector.endsWith('@st')) throw new UnsupportedError('start timestamps (@st series)');
  const { values, stale } = parseValues(rest);
  return { selector, values, stale };
}

const EVAL_INSTANT = /^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(\S+)\s+)?(.+)$/;
const EVAL_RANGE = /^eval(?:_(fail|warn|info))?\s+range\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)\s+(.+)$/;
/** A line that starts a new command even without a blank line before it. */
const COMMAND = /^(clear|load|load_with_nhcb|eval\w*)(\s|$)/i;
const EXPECT = /^expect\s+(fail|warn|info|no_warn|no_info|ordered|string|range)\b\s*(.*)$/;

/** Parses a whole test script into commands. */
export function parseScript(text: string): Command[] {
  const lines = text.split('\n');
  const out: Command[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '' || line.startsWith('#')) continue;
    const lineNo = i + 1;
    // The block of a command runs to the next blank line.
    const block: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1] as string).trim() !== '' && !COMMAND.test((lines[i + 1] as string).trim())) {
      const l = (lines[++i] as string).trim();
      if (!l.startsWith('#')) block.push(l);
    }
    const word = (line.split(/\s+/)[0] as string).toLowerCase();
    if (word === 'clear') {
      out.push({ kind: 'clear', line: lineNo });
    } else if (word === 'load' || word === 'load_with_nhcb') {
      const interval = parseTime(line.split(/\s+/)[1] as string);
      const load = { kind: 'load', line: lineNo, interval, nhcb: word === 'load_with_nhcb' } as const;
      try {
        out.push({ ...load, series: block.map(parseSeriesLine), error: null });
      } catch (e) {
        out.push({ ...load, series: [], error: e as Error });
      }
    } else if (word.startsWith('eval')) {
      out.push(parseEval(line, lineNo, block));
    } else {
      throw new Error(`line ${lineNo}: unknown command ${JSON.stringify(line)}`);
    }
  }
  return out;
}

function parseEval(line: string, lineNo: number, block: string[]): EvalCommand {
  const expects: Expectation[] = [];
  const resultLines: string[] = [];
  let range: EvalCommand['range'] = null;
  let at = 0;
  let expr: string;
  let legacy: string | undefined;
  const r = EVAL_RANGE.exec(line);
  if (r !== null) {
    legacy = r[1];
    range = { start: parseTime(r[2] as string), end: parseTime(r[3] as string), step: parseTime(r[4] as string) };
    expr = r[5] as string;
  } else {
    const m = EVAL_INSTANT.exec(line);
    if (m === null) throw new Error(`line ${lineNo}: invalid eval command ${JSON.stringify(line)}`);
    legacy = m[1];
    at = m[2] === undefined ? 0 : parseTime(m[2]);
    expr = m[3] as string;
  }
  if (legacy !== undefined) expects.push({ kind: legacy as Expectation['kind'] });
  for (const l of block) {
    const e = EXPECT.exec(l);
    if (e === null) {
      resultLines.push(l);
      continue;
    }
    const kind = e[1] as Expectation['kind'];
    const rest = (e[2] as string).trim();
    const msg = /^(msg|regex):\s*(.*)$/.exec(rest);
    if (kind === 'string') expects.push({ kind, message: unquoteString(rest) });
    else if (msg !== null) expects.push({ kind, message: msg[2] as string, regex: msg[1] === 'regex' });
    else if (kind === 'range') {
      const m = /^vector\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)$/.exec(rest);
      if (m === null) throw new Error(`line ${lineNo}: invalid expect range: ${JSON.stringify(l)}`);
      expects.push({ kind, range: { start: parseTime(m[1] as string), end: parseTime(m[2] as string), step: parseTime(m[3] as string) } });
    } else expects.push({ kind });
  }
  const results = resultLines.map((l) => {
    // A bare number is a scalar result.
    if (/^[+-]?(\d|\.\d|Inf|NaN|inf|nan)/.test(l) && !l.includes('{')) return { selector: '', ...parseValues(l) };
    return parseSeriesLine(l);
  });
  return { kind: 'eval', line: lineNo, expr, range, at, expects, results };
}
