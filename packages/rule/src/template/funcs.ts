/**
 * Prometheus 2.42's template functions (template/template.go, NewTemplateExpander): queries, number and
 * time formatting, strings, regexps, links. Numbers may come as strings (convertToFloat).
 */
import { isIP } from 'node:net';
import { Labels } from '@strata/tsdb';
import { queryEscape } from './builtins.js';
import { sprint, sprintf } from './fmt.js';
import { compile, mustCompile, replaceAll } from './regexp.js';
import { formatFloat, parseFloat64 } from './strconv.js';
import { timeString } from './time.js';
import { GoHTML, GoMap, GoSlice, GoStruct, GoTime, compareBytes, goTypeName, T, type GoFunc, type ParamType, type Value } from './values.js';

/** A sample of an instant query's result. */
export interface QuerySample {
  readonly labels: Labels | Readonly<Record<string, string>>;
  readonly value: number;
}

/** Runs an instant PromQL query at a time (ms); rejects with the query's error. */
export type QueryFunc = (query: string, timestampMs: number) => Promise<readonly QuerySample[]>;

export interface PrometheusFuncsContext {
  readonly query: QueryFunc;
  /** The evaluation time queries run at. */
  readonly timestampMs: number;
  /** Prometheus' external URL (--web.external-url, normalized: no trailing slash). */
  readonly externalURL: string;
}

/** A sample as templates see it: a *template.sample with Labels and Value. */
export function sampleValue(s: QuerySample): GoStruct {
  const labels = s.labels instanceof Labels ? s.labels.toRecord() : s.labels;
  return new GoStruct('*template.sample', new Map<string, Value>([['Labels', GoMap.ofStrings(labels)], ['Value', s.value]]), true);
}

const fn = (params: ParamType[], call: GoFunc['call'], variadic = false): GoFunc => ({ params, call, variadic });

/** Prometheus' convertToFloat: float64, strings parsed by strconv.ParseFloat, ints. */
function convertToFloat(v: Value): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return parseFloat64(v);
  if (typeof v === 'bigint') return Number(v);
  throw new Error(`can't convert ${goTypeName(v)} to float`);
}

const g4 = (v: number): string => formatFloat(v, 'g', 4);

/** Divides (or multiplies) by `base` while the value is out of [1, base), collecting the last prefix. */
function scale(v: number, base: number, prefixes: readonly string[], up: boolean): [number, string] {
  let prefix = '';
  for (const p of prefixes) {
    if (up ? Math.abs(v) < base : Math.abs(v) >= 1) break;
    prefix = p;
    v = up ? v / base : v * base;
  }
  return [v, prefix];
}

const SMALL = ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y'];

function humanize(i: Value): string {
  const v = convertToFloat(i);
  if (v === 0 || !Number.isFinite(v)) return g4(v);
  const [x, prefix] = Math.abs(v) >= 1 ? scale(v, 1000, ['k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'], true) : scale(v, 1000, SMALL, false);
  return g4(x) + prefix;
}

function humanize1024(i: Value): string {
  const v = convertToFloat(i);
  if (Math.abs(v) <= 1 || !Number.isFinite(v)) return g4(v);
  const [x, prefix] = scale(v, 1024, ['ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei', 'Zi', 'Yi'], true);
  return g4(x) + prefix;
}

function humanizeDuration(i: Value): string {
  let v = convertToFloat(i);
  if (!Number.isFinite(v)) return g4(v);
  if (v === 0) return `${g4(v)}s`;
  if (Math.abs(v) >= 1) {
    const sign = v < 0 ? '-' : '';
    v = Math.abs(v);
    // Whole seconds, as Go's int64(v).
    const d = BigInt(Math.trunc(v));
    const [days, hours, minutes, seconds] = [d / 86400n, (d / 3600n) % 24n, (d / 60n) % 60n, d % 60n];
    if (days !== 0n) return `${sign}${days}d ${hours}h ${minutes}m ${seconds}s`;
    if (hours !== 0n) return `${sign}${hours}h ${minutes}m ${seconds}s`;
    if (minutes !== 0n) return `${sign}${minutes}m ${seconds}s`;
    return `${sign}${g4(v)}s`;
  }
  const [x, prefix] = scale(v, 1000, SMALL, false);
  return `${g4(x)}${prefix}s`;
}

const errNaNOrInf = 'value is NaN or Inf';

/** Prometheus' floatToTime: seconds to a UTC time at Prometheus' millisecond resolution. */
function floatToTime(v: number): GoTime {
  if (!Number.isFinite(v)) throw new Error(errNaNOrInf);
  const ns = v * 1e9;
  if (ns > 2 ** 63 || ns < -(2 ** 63)) throw new Error(`${sprint([v])} cannot be represented as a nanoseconds timestamp since it overflows int64`);
  // model.TimeFromUnixNano: nanoseconds divided (toward zero) into milliseconds.
  return new GoTime(Number(BigInt(Math.trunc(ns)) / 1_000_000n));
}

/** net.SplitHostPort, undefined where Go returns an error. */
function splitHostPort(hostport: string): [string, string] | undefined {
  const i = hostport.lastIndexOf(':');
  if (i < 0) return undefined;
  let host: string;
  let j = 0;
  let k = 0;
  if (hostport[0] === '[') {
    const end = hostport.indexOf(']');
    if (end < 0 || end + 1 !== i) return undefined;
    host = hostport.slice(1, end);
    [j, k] = [1, end + 1];
  } else {
    host = hostport.slice(0, i);
    if (host.includes(':')) return undefined;
  }
  if (hostport.slice(j).includes('[') || hostport.slice(k).includes(']')) return undefined;
  return [host, hostport.slice(i + 1)];
}

/** net.ParseIP accepts it (IPv4 or IPv6, without a zone). */
function isIPAddress(s: string): boolean {
  return isIP(s) !== 0 && !s.includes('%');
}

/** strings.Title: the first letter of each word to title case, words separated by what is not a letter, digit or `_`. */
function title(s: string): string {
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    out += isSeparator(prev) ? upperRune(ch) : ch;
    prev = ch;
  }
  return out;
}

function isSeparator(r: string): boolean {
  if ((r.codePointAt(0) as number) <= 0x7f) return !/[0-9a-zA-Z_]/.test(r);
  if (/[\p{L}\p{Nd}]/u.test(r)) return false;
  return /\s/u.test(r);
}

/** unicode.ToUpper of one rune: Go maps rune to rune, so ß stays ß where JavaScript writes SS. */
function upperRune(ch: string): string {
  const u = ch.toUpperCase();
  return [...u].length === 1 ? u : ch;
}

function lowerRune(ch: string): string {
  const l = ch.toLowerCase();
  return [...l].length === 1 ? l : ch;
}

/** model.ParseDuration of Prometheus 2.42: units y w d h m s ms, each at most once and in that order; "0" alone. */
function parseDuration(d: string): number {
  const m = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(d);
  if (d === '0') return 0;
  if (d === '' || m === null) throw new Error(`not a valid duration string: ${JSON.stringify(d)}`);
  const unitsMs = [365 * 86400e3, 7 * 86400e3, 86400e3, 3600e3, 60e3, 1e3, 1];
  let ms = 0n;
  unitsMs.forEach((u, i) => {
    if (m[i + 1] !== undefined) ms += BigInt(m[i + 1] as string) * BigInt(u);
  });
  if (ms * 1_000_000n > (1n << 63n) - 1n) throw new Error(`not a valid duration string: ${JSON.stringify(d)}`);
  return Number(ms) / 1000;
}

/** A URL's path as Go's url.URL.Path (decoded; empty without one). */
function urlPath(u: string): string {
  const path = /^(?:[A-Za-z][A-Za-z0-9+.-]*:)?(?:\/\/[^/?#]*)?([^?#]*)/.exec(u)?.[1] ?? '';
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** Prometheus' template functions for one expansion: queries run at ctx.timestampMs. */
export function prometheusFuncs(ctx: PrometheusFuncsContext): ReadonlyMap<string, GoFunc> {
  const str = T.string;
  return new Map<string, GoFunc>([
    ['query', fn([str], async (q) => new GoSlice('template.queryResult', (await ctx.query(q as string, ctx.timestampMs)).map(sampleValue)))],
    [
      'first',
      fn([T.queryResult], (v) => {
        const items = (v as GoSlice).items;
        if (items.length === 0) throw new Error('first() called on vector with no elements');
        return items[0];
      }),
    ],
    ['label', fn([str, T.sample], (label, s) => sampleLabel(s, label as string))],
    ['value', fn([T.sample], (s) => sampleField(s, 'Value'))],
    ['strvalue', fn([T.sample], (s) => sampleLabel(s, '__value__'))],
    ['args', fn([T.any], (...args) => new GoMap('interface {}', new Map(args.map((a, i) => [`arg${i}`, a]))), true)],
    ['reReplaceAll', fn([str, str, str], (pattern, repl, text) => replaceAll(mustCompile(pattern as string), text as string, repl as string))],
    ['safeHtml', fn([str], (text) => new GoHTML(text as string))],
    [
      'match',
      fn([str, str], (pattern, s) => {
        const re = compile(pattern as string);
        return re.test(s as string);
      }),
    ],
    ['title', fn([str], (s) => title(s as string))],
    ['toUpper', fn([str], (s) => [...(s as string)].map(upperRune).join(''))],
    ['toLower', fn([str], (s) => [...(s as string)].map(lowerRune).join(''))],
    ['graphLink', fn([str], (expr) => `/graph?g0.expr=${queryEscape(expr as string)}&g0.tab=0`)],
    ['tableLink', fn([str], (expr) => `/graph?g0.expr=${queryEscape(expr as string)}&g0.tab=1`)],
    [
      'sortByLabel',
      fn([str, T.queryResult], (label, v) => {
        // sort.Stable in place, by the label's value (missing: ""), bytewise.
        const items = (v as GoSlice).items;
        const key = (s: Value): string => sampleLabel(s, label as string);
        items.sort((a, b) => compareBytes(key(a), key(b)));
        return v;
      }),
    ],
    [
      'stripPort',
      fn([str], (hostPort) => {
        const split = splitHostPort(hostPort as string);
        return split === undefined ? hostPort : split[0];
      }),
    ],
    [
      'stripDomain',
      fn([str], (hostPort) => {
        const hp = hostPort as string;
        const [host, port] = splitHostPort(hp) ?? [hp, ''];
        if (isIPAddress(host)) return hp;
        const short = host.split('.')[0] as string;
        if (port === '') return short;
        return short.includes(':') ? `[${short}]:${port}` : `${short}:${port}`;
      }),
    ],
    ['humanize', fn([T.any], humanize)],
    ['humanize1024', fn([T.any], humanize1024)],
    ['humanizeDuration', fn([T.any], humanizeDuration)],
    ['humanizePercentage', fn([T.any], (i) => sprintf('%.4g%%', [convertToFloat(i) * 100]))],
    [
      'humanizeTimestamp',
      fn([T.any], (i) => {
        const v = convertToFloat(i);
        if (!Number.isFinite(v)) return g4(v);
        return timeString(floatToTime(v).ms);
      }),
    ],
    ['toTime', fn([T.any], (i) => floatToTime(convertToFloat(i)))],
    ['pathPrefix', fn([], () => urlPath(ctx.externalURL))],
    ['externalURL', fn([], () => ctx.externalURL)],
    ['parseDuration', fn([str], (d) => parseDuration(d as string))],
  ]);
}

/** A field of a *sample; Go dereferences a nil one with a runtime panic. */
function sampleField(s: Value, field: 'Labels' | 'Value'): Value {
  if (!(s instanceof GoStruct)) throw new Error('runtime error: invalid memory address or nil pointer dereference');
  return s.fields.get(field);
}

function sampleLabel(s: Value, label: string): string {
  const labels = sampleField(s, 'Labels') as GoMap;
  return (labels.entries.get(label) as string | undefined) ?? '';
}

/** The names of Prometheus' functions, which templates may use (parsing checks them). */
export const PROMETHEUS_FUNC_NAMES: ReadonlySet<string> = new Set(prometheusFuncs({ query: async () => [], timestampMs: 0, externalURL: '' }).keys());
