/**
 * text/template's predefined functions (Go 1.19 funcs.go): and, or, not, len, index, slice, print,
 * printf, println, eq, ne, lt, le, gt, ge, html, js, urlquery, call. Their errors reach the template
 * as `error calling <name>: <error>`.
 */
import { printable, sprint, sprintf, sprintln } from './fmt.js';
import { isPrint } from './strconv.js';
import { GoMap, GoSlice, GoStruct, basicKind, compareBytes, goTypeName, isGoFunc, sliceItems, stringOf, T, type GoFunc, type ParamType, type Value } from './values.js';

/** Go's isTrue: the zero value of its type is false; structs are always true. */
export function isTrue(v: Value): boolean {
  if (v === undefined || v === null) return false;
  switch (typeof v) {
    case 'string':
      return v.length > 0;
    case 'number':
      return v !== 0;
    case 'bigint':
      return v !== 0n;
    case 'boolean':
      return v;
  }
  const s = stringOf(v);
  if (s !== undefined) return s.length > 0;
  const items = sliceItems(v);
  if (items !== undefined) return items.length > 0;
  if (v instanceof GoMap) return v.entries.size > 0;
  return true;
}

const fn = (params: ParamType[], call: GoFunc['call'], variadic = false): GoFunc => ({ params, call, variadic });

const V = T.reflect;

function bytesOf(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

/** Go's indexArg: an int index within [0, cap]. */
function indexArg(index: Value, cap: number): number {
  if (index === undefined || index === null) throw new Error('cannot index slice/array with nil');
  if (typeof index !== 'bigint') throw new Error(`cannot index slice/array with type ${goTypeName(index)}`);
  if (index < 0n || index > BigInt(cap)) throw new Error(`index out of range: ${index}`);
  return Number(index);
}

function index(item: Value, ...indexes: Value[]): Value {
  if (item === undefined || item === null) throw new Error('index of untyped nil');
  for (const ix of indexes) {
    const s: string | undefined = stringOf(item);
    const items: readonly Value[] | undefined = s === undefined ? sliceItems(item) : undefined;
    if (s !== undefined || items !== undefined) {
      const bytes = s !== undefined ? bytesOf(s) : undefined;
      const len: number = bytes ? bytes.length : (items as readonly Value[]).length;
      const x = indexArg(ix, len);
      if (x === len) throw new Error(`index out of range: ${x}`);
      // A string's element is a byte (uint8), printed as a number.
      item = bytes ? BigInt(bytes[x] as number) : (items as readonly Value[])[x];
    } else if (item instanceof GoMap) {
      if (ix === undefined || ix === null) throw new Error('value is nil; should be of type string');
      if (typeof ix !== 'string') throw new Error(`value has type ${goTypeName(ix)}; should be string`);
      item = item.entries.has(ix) ? item.entries.get(ix) : item.zero();
    } else throw new Error(`can't index item of type ${goTypeName(item)}`);
  }
  return item;
}

function slice(item: Value, ...indexes: Value[]): Value {
  if (item === undefined || item === null) throw new Error('slice of untyped nil');
  if (indexes.length > 3) throw new Error(`too many slice indexes: ${indexes.length}`);
  const s = stringOf(item);
  const items = sliceItems(item);
  let len: number;
  if (s !== undefined) {
    if (indexes.length === 3) throw new Error('cannot 3-index slice a string');
    len = bytesOf(s).length;
  } else if (items !== undefined) len = items.length;
  else throw new Error(`can't slice item of type ${goTypeName(item)}`);
  const idx = [0, len, len];
  indexes.forEach((ix, i) => (idx[i] = indexArg(ix, len)));
  const [i, j, k] = idx as [number, number, number];
  if (i > j) throw new Error(`invalid slice index: ${i} > ${j}`);
  if (indexes.length === 3 && j > k) throw new Error(`invalid slice index: ${j} > ${k}`);
  if (s !== undefined) return bytesOf(s).subarray(i, j).toString('utf8');
  const part = (items as readonly Value[]).slice(i, j);
  return item instanceof GoSlice ? new GoSlice(item.typeName, part) : part;
}

function length(item: Value): Value {
  if (item === undefined || item === null) throw new Error('reflect: call of reflect.Value.Type on zero Value');
  const s = stringOf(item);
  if (s !== undefined) return BigInt(bytesOf(s).length);
  const items = sliceItems(item);
  if (items !== undefined) return BigInt(items.length);
  if (item instanceof GoMap) return BigInt(item.entries.size);
  throw new Error(`len of type ${goTypeName(item)}`);
}

// Comparisons: basic kinds compare by value, ints and floats do not mix.

const errBadComparisonType = 'invalid type for comparison';
const errBadComparison = 'incompatible types for comparison';

function eq(arg1: Value, ...arg2: Value[]): boolean {
  if (arg1 === null) arg1 = undefined;
  if (arg2.length === 0) throw new Error('missing argument for comparison');
  const k1 = basicKind(arg1);
  for (let arg of arg2) {
    if (arg === null) arg = undefined;
    const k2 = basicKind(arg);
    let truth: boolean;
    if (k1 !== k2) {
      if (arg1 !== undefined && arg !== undefined) throw new Error(errBadComparison);
      truth = false;
    } else if (k1 === 'string') truth = stringOf(arg1) === stringOf(arg);
    else if (k1 !== undefined) truth = arg1 === arg;
    else if (arg1 === undefined || arg === undefined) truth = arg1 === arg;
    else {
      if (goTypeName(arg1) !== goTypeName(arg)) throw new Error(`non-comparable types ${sprint([arg1])}: ${goTypeName(arg1)}, ${goTypeName(arg)}: ${sprint([arg])}`);
      if (!comparable(arg)) throw new Error(`non-comparable type ${sprint([arg])}: ${goTypeName(arg)}`);
      truth = arg1 === arg;
    }
    if (truth) return true;
  }
  return false;
}

/** Go's comparable types among template values: pointers are; maps, slices and funcs are not. */
function comparable(v: Value): boolean {
  if (v instanceof GoStruct) return v.pointer || [...v.fields.values()].every((f) => basicKind(f) !== undefined || comparable(f));
  return !(v instanceof GoMap || sliceItems(v) !== undefined || isGoFunc(v));
}

function lt(arg1: Value, arg2: Value): boolean {
  const k1 = basicKind(arg1);
  const k2 = basicKind(arg2);
  if (k1 === undefined || k2 === undefined) throw new Error(errBadComparisonType);
  if (k1 !== k2) throw new Error(errBadComparison);
  if (k1 === 'bool') throw new Error(errBadComparisonType);
  if (k1 === 'string') return compareBytes(stringOf(arg1) as string, stringOf(arg2) as string) < 0;
  return (arg1 as number | bigint) < (arg2 as number | bigint);
}

const le = (a: Value, b: Value): boolean => lt(a, b) || eq(a, b);

// Escapers.

/** The string the escapers work on: a lone string as is, otherwise Sprint of the values as actions print them. */
function evalArgs(args: readonly Value[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return sprint(args.map(printable));
}

const HTML_ESCAPES: Record<string, string> = { '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;', '\0': '\ufffd' };

function htmlEscape(s: string): string {
  return s.replace(/["'&<>\0]/g, (c) => HTML_ESCAPES[c] as string);
}

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (ch === '\\' || ch === "'" || ch === '"') out += `\\${ch}`;
    else if (ch === '<' || ch === '>' || ch === '&' || ch === '=' || cp < 0x20 || (cp >= 0x80 && !isPrint(ch))) out += `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}`;
    else out += ch;
  }
  return out;
}

/** url.QueryEscape: unreserved characters stay, spaces become +, the rest %XX of the UTF-8 bytes. */
export function queryEscape(s: string): string {
  let out = '';
  for (const b of bytesOf(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function call(f: Value, ...args: Value[]): Value | Promise<Value> {
  if (f === undefined || f === null) throw new Error('call of nil');
  if (!isGoFunc(f)) throw new Error(`non-function of type ${goTypeName(f)}`);
  const numIn = f.params.length;
  if (f.variadic ? args.length < numIn - 1 : args.length !== numIn) {
    throw new Error(`wrong number of args: got ${args.length} want ${f.variadic ? 'at least ' : ''}${f.variadic ? numIn - 1 : numIn}`);
  }
  args.forEach((a, i) => {
    const t = f.params[Math.min(i, numIn - 1)] as ParamType;
    if (t.reflect) return;
    if (a === undefined || a === null) {
      if (!t.nil) throw new Error(`arg ${i}: value is nil; should be of type ${t.name}`);
    } else if (!t.accepts(a)) throw new Error(`arg ${i}: value has type ${goTypeName(a)}; should be ${t.name}`);
  });
  return f.call(...args);
}

export const BUILTINS: ReadonlyMap<string, GoFunc> = new Map<string, GoFunc>([
  // and/or short-circuit in the executor; as plain functions they take the first decisive value.
  ['and', fn([V, V], (...a) => a.find((x) => !isTrue(x)) ?? a[a.length - 1], true)],
  ['or', fn([V, V], (...a) => a.find((x) => isTrue(x)) ?? a[a.length - 1], true)],
  ['not', fn([V], (a) => !isTrue(a))],
  ['len', fn([V], length)],
  ['index', fn([V, V], index, true)],
  ['slice', fn([V, V], slice, true)],
  ['print', fn([T.any], (...a) => sprint(a), true)],
  ['printf', fn([T.string, T.any], (format, ...a) => sprintf(format as string, a), true)],
  ['println', fn([T.any], (...a) => sprintln(a), true)],
  ['eq', fn([V, V], eq, true)],
  ['ne', fn([V, V], (a, b) => !eq(a, b))],
  ['lt', fn([V, V], lt)],
  ['le', fn([V, V], le)],
  ['gt', fn([V, V], (a, b) => !le(a, b))],
  ['ge', fn([V, V], (a, b) => !lt(a, b))],
  ['html', fn([T.any], (...a) => htmlEscape(evalArgs(a)), true)],
  ['js', fn([T.any], (...a) => jsEscape(evalArgs(a)), true)],
  ['urlquery', fn([T.any], (...a) => queryEscape(evalArgs(a)), true)],
  ['call', fn([V, V], call, true)],
]);
