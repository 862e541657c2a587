/**
 * The Go values a template handles, as TypeScript values:
 * - `string`, `boolean`; `number` is a float64 and `bigint` an int (template integer constants, len, range indexes);
 * - `null` is a nil interface{} and `undefined` an invalid reflect.Value (what prints as `<no value>`);
 * - GoMap a map with string keys, GoSlice a typed slice (plain arrays are `[]interface {}`), GoStruct a struct
 *   or a pointer to one, GoHTML an html/template.HTML, GoTime a *time.Time, GoFunc a function.
 */

export type Value = string | number | bigint | boolean | null | undefined | readonly Value[] | GoMap | GoSlice | GoStruct | GoHTML | GoTime | GoFunc;

/** A map[string]T; Go ranges over and prints it in key order. */
export class GoMap {
  /** `elem` is T as Go spells it: `string` or `interface {}`. */
  constructor(
    readonly elem: 'string' | 'interface {}',
    readonly entries: ReadonlyMap<string, Value>,
  ) {}

  static ofStrings(record: Readonly<Record<string, string>>): GoMap {
    return new GoMap('string', new Map(Object.entries(record)));
  }

  get typeName(): string {
    return `map[string]${this.elem}`;
  }

  /** The element type's zero value: what missingkey=zero yields for an absent key. */
  zero(): Value {
    return this.elem === 'string' ? '' : null;
  }

  sortedKeys(): string[] {
    return [...this.entries.keys()].sort(compareBytes);
  }
}

/** A named slice type, e.g. Prometheus' `template.queryResult`. */
export class GoSlice {
  constructor(
    readonly typeName: string,
    readonly items: Value[],
  ) {}
}

/** A struct, or a pointer to one (`pointer`): fields in declaration order, as fmt prints them. */
export class GoStruct {
  constructor(
    readonly typeName: string,
    readonly fields: ReadonlyMap<string, Value>,
    readonly pointer = false,
  ) {}
}

/** html/template.HTML: a string kind that a text template prints as is. */
export class GoHTML {
  constructor(readonly value: string) {}
}

/** A *time.Time in UTC with millisecond resolution (Prometheus' model.Time), with the methods templates call. */
export class GoTime {
  constructor(readonly ms: number) {}
}

/** A Go parameter type: what a value must be to be passed (reflect's AssignableTo). */
export interface ParamType {
  readonly name: string;
  accepts(v: Value): boolean;
  /** The zero value for types that can be nil (what `nil` and a missing value become), else undefined. */
  readonly nil?: () => Value;
  /** reflect.Value parameters of builtins: any value passes as is, invalid ones and untyped constants too. */
  readonly reflect?: boolean;
}

/**
 * A function in a template's function map, or a method: its parameter types (the last one repeated if
 * `variadic`) and its body. A body throws an Error for Go's non-nil error result.
 */
export interface GoFunc {
  readonly params: readonly ParamType[];
  readonly variadic?: boolean;
  call(...args: Value[]): Value | Promise<Value>;
}

export function isGoFunc(v: Value): v is GoFunc {
  return typeof v === 'object' && v !== null && 'call' in v && 'params' in v;
}

const param = (name: string, accepts: (v: Value) => boolean, nil?: () => Value): ParamType => ({ name, accepts, ...(nil ? { nil } : {}) });

export const T = {
  string: param('string', (v) => typeof v === 'string'),
  float64: param('float64', (v) => typeof v === 'number'),
  int: param('int', (v) => typeof v === 'bigint'),
  bool: param('bool', (v) => typeof v === 'boolean'),
  any: param('interface {}', (v) => v !== undefined, () => null),
  reflect: { name: 'reflect.Value', accepts: () => true, reflect: true } as ParamType,
  queryResult: param('template.queryResult', (v) => v instanceof GoSlice && v.typeName === 'template.queryResult', () => new GoSlice('template.queryResult', [])),
  sample: param('*template.sample', (v) => v === null || (v instanceof GoStruct && v.typeName === '*template.sample'), () => null),
} as const;

/** The Go type of a value, as reflect and %T spell it. */
export function goTypeName(v: Value): string {
  if (v === null || v === undefined) return '<nil>';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'number':
      return 'float64';
    case 'bigint':
      return 'int';
    case 'boolean':
      return 'bool';
  }
  if (Array.isArray(v)) return '[]interface {}';
  if (v instanceof GoMap || v instanceof GoSlice || v instanceof GoStruct) return v.typeName;
  if (v instanceof GoHTML) return 'template.HTML';
  if (v instanceof GoTime) return '*time.Time';
  return 'func';
}

/** Go's comparison kinds (text/template's basicKind); everything else is not a basic kind. */
export type BasicKind = 'bool' | 'int' | 'float' | 'string';

export function basicKind(v: Value): BasicKind | undefined {
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'bigint':
      return 'int';
    case 'number':
      return 'float';
    case 'string':
      return 'string';
  }
  return v instanceof GoHTML ? 'string' : undefined;
}

/** The string of a string-kind value. */
export function stringOf(v: Value): string | undefined {
  if (typeof v === 'string') return v;
  return v instanceof GoHTML ? v.value : undefined;
}

/** The elements of a slice value, undefined for other kinds. */
export function sliceItems(v: Value): readonly Value[] | undefined {
  if (Array.isArray(v)) return v as readonly Value[];
  return v instanceof GoSlice ? v.items : undefined;
}

/** Go compares strings bytewise (UTF-8), which for JavaScript strings is code point order. */
export function compareBytes(a: string, b: string): number {
  if (a === b) return 0;
  const ai = a[Symbol.iterator]();
  const bi = b[Symbol.iterator]();
  for (;;) {
    const x = ai.next();
    const y = bi.next();
    if (x.done || y.done) return x.done ? (y.done ? 0 : -1) : 1;
    const d = (x.value.codePointAt(0) as number) - (y.value.codePointAt(0) as number);
    if (d !== 0) return d;
  }
}

/** Converts plain data (objects, arrays, numbers…) handed to a template into Go values: objects become map[string]interface {}. */
export function toGoValue(x: unknown): Value {
  if (x === null || x === undefined) return x;
  if (typeof x === 'string' || typeof x === 'number' || typeof x === 'bigint' || typeof x === 'boolean') return x;
  if (Array.isArray(x)) return x.map(toGoValue);
  if (x instanceof GoMap || x instanceof GoSlice || x instanceof GoStruct || x instanceof GoHTML || x instanceof GoTime) return x;
  if (x instanceof Map) return new GoMap('interface {}', new Map([...x].map(([k, v]) => [String(k), toGoValue(v)])));
  if (typeof x === 'object') {
    if (isGoFunc(x as Value)) return x as GoFunc;
    return new GoMap('interface {}', new Map(Object.entries(x).map(([k, v]) => [k, toGoValue(v)])));
  }
  throw new TypeError(`cannot use a ${typeof x} as a template value`);
}
