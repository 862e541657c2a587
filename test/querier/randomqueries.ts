/**
 * Random PromQL over the demo service's metrics, typed as the grammar wants (instant vectors, range
 * vectors, scalars) and seeded, so that a run asks the same queries every time: selectors with every
 * matcher type, offsets and `@`, range and vector functions, aggregations, binary operators with vector
 * matching and `bool`, set operators, subqueries, label functions, `absent`. It leaves out what
 * Prometheus 2.42 itself answers differently from run to run or wrongly, so that any difference is
 * Strata's: `topk`/`bottomk` (ties broken by Go's map order), trigonometry and `exp` (a last-bit
 * difference of an aggregation's sum grows into any value), `@` inside `predict_linear` and `timestamp`
 * (2.42 does not pin their ranges), `@` inside a subquery with `@` (2.42 answers nothing there), and
 * subqueries without a step (the default is a setting).
 */

/** What random queries are made of: metrics with their own label names, label values, labels to group and match by. */
export interface QueryVocabulary {
  /** Counters (what rate-like functions get) and gauges, each with the label names of its own. */
  readonly counters: readonly (readonly [string, readonly string[]])[];
  readonly gauges: readonly (readonly [string, readonly string[]])[];
  /** Labels every metric has, for selectors' matchers besides their own. */
  readonly common: readonly string[];
  readonly values: Readonly<Record<string, readonly string[]>>;
  /** Labels to group and match by (some of them on no series). */
  readonly labels: readonly string[];
  /** A classic histogram's bucket metric and a label to group it by besides `le`, if there is one. */
  readonly histogram?: { readonly bucket: string; readonly by: string };
}

/** The demo service's metrics. */
export const DEMO_VOCABULARY: QueryVocabulary = {
  counters: [
    ['demo_cpu_usage_seconds_total', ['mode']],
    ['demo_items_shipped_total', []],
    ['demo_api_request_duration_seconds_count', ['method', 'path', 'status']],
    ['demo_api_request_duration_seconds_sum', ['method', 'path', 'status']],
  ],
  gauges: [
    ['demo_memory_usage_bytes', ['type']],
    ['demo_disk_usage_bytes', []],
    ['demo_disk_total_bytes', []],
    ['demo_num_cpus', []],
    ['demo_batch_last_success_timestamp_seconds', []],
    ['demo_batch_last_run_duration_seconds', []],
    ['demo_intermittent_metric', []],
    ['demo_is_holiday', []],
    ['demo_api_http_requests_in_progress', []],
  ],
  common: ['instance', 'job'],
  values: {
    mode: ['user', 'system', 'idle'],
    type: ['used', 'cached', 'buffers', 'free'],
    method: ['GET', 'POST'],
    path: ['/api/foo', '/api/bar', '/api/nope'],
    status: ['200', '500'],
    instance: ['demo.promlabs.com:10000', 'demo.promlabs.com:10001', 'demo.promlabs.com:10002'],
    job: ['demo'],
  },
  labels: ['instance', 'job', 'mode', 'type', 'method', 'path', 'status', 'le', 'nope'],
  histogram: { bucket: 'demo_api_request_duration_seconds_bucket', by: 'path' },
};
const RANGES = ['30s', '1m', '90s', '5m', '10m'];
const RANGE_FUNCTIONS = [
  'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'resets', 'changes', 'avg_over_time', 'min_over_time', 'max_over_time', 'sum_over_time',
  'count_over_time', 'stddev_over_time', 'stdvar_over_time', 'last_over_time', 'present_over_time', 'absent_over_time',
];
const VECTOR_FUNCTIONS = ['abs', 'ceil', 'floor', 'ln', 'log2', 'log10', 'sqrt', 'sgn', 'timestamp', 'absent', 'deg', 'rad', 'minute', 'hour', 'day_of_week', 'month', 'year'];
const AGGREGATIONS = ['sum', 'avg', 'min', 'max', 'count', 'stddev', 'stdvar', 'group', 'quantile', 'count_values'];
const BINARY_OPS = ['+', '-', '*', '/', '%', '^', '==', '!=', '>', '<', '>=', '<=', 'and', 'or', 'unless', 'atan2'];

/** A seeded source of choices (a linear congruential generator: the same queries for the same seed). */
class Choices {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    this.#state = (Math.imul(this.#state, 1103515245) + 12345) >>> 0;
    return this.#state / 2 ** 32;
  }
  pick<T>(from: readonly T[]): T {
    return from[Math.floor(this.next() * from.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

class Generator {
  /** Inside a subquery with `@`: no `@` in it. */
  #pinned = false;

  constructor(
    readonly c: Choices,
    readonly v: QueryVocabulary,
  ) {}

  selector(counter: boolean, modifiers = true): string {
    const [name, own] = this.c.pick(counter ? this.v.counters : this.c.chance(0.3) ? this.v.counters : this.v.gauges);
    const matchers: string[] = [];
    for (let i = this.c.chance(0.5) ? 0 : 1 + Math.floor(this.c.next() * 2); i > 0; i--) {
      const label = this.c.pick([...own, ...this.v.common]);
      const values = this.v.values[label] ?? ['x'];
      const op = this.c.pick(['=', '!=', '=~', '!~']);
      const value = op.includes('~') ? this.c.pick([`${this.c.pick(values)}|${this.c.pick(values)}`, '.*', '.+', `${this.c.pick(values).slice(0, 3)}.*`]) : this.c.pick(values);
      matchers.push(`${label}${op}"${value}"`);
    }
    return `${name}${matchers.length > 0 ? `{${matchers.join(', ')}}` : ''}${modifiers ? this.modifiers() : ''}`;
  }

  modifiers(): string {
    let s = this.c.chance(0.12) ? ` offset ${this.c.pick(['1m', '5m', '-2m', '30s'])}` : '';
    if (this.c.chance(0.06) && !this.#pinned) s += ` @ ${this.c.pick(['start()', 'end()'])}`;
    return s;
  }

  range(depth: number, counter: boolean, pinnable = true): string {
    if (depth > 0 && this.c.chance(0.15)) return `(${this.vector(depth - 1)})[${this.c.pick(['5m', '10m'])}:${this.c.pick(['30s', '1m', '20s'])}]`;
    return `${this.selector(counter, false)}[${this.c.pick(RANGES)}]${pinnable ? this.modifiers() : ''}`;
  }

  scalar(depth: number): string {
    const r = this.c.next();
    if (depth <= 0 || r < 0.6) return this.c.pick(['1', '2', '0.5', '-1', '100', '0', '3', '0.9']);
    if (r < 0.7) return 'time()';
    if (r < 0.85) return `scalar(${this.vector(depth - 1)})`;
    return `(${this.scalar(depth - 1)} ${this.c.pick(['+', '-', '*', '/', '%', '^'])} ${this.scalar(depth - 1)})`;
  }

  grouping(): string {
    const labels = new Set<string>();
    for (let i = Math.floor(this.c.next() * 3); i > 0; i--) labels.add(this.c.pick(this.v.labels));
    return `${this.c.pick(['by', 'without'])} (${[...labels].join(', ')})`;
  }

  vector(depth: number): string {
    const r = this.c.next();
    if (depth <= 0 || r < 0.18) return this.selector(false);
    if (r < 0.36) {
      const fn = this.c.pick([...RANGE_FUNCTIONS, 'quantile_over_time', 'predict_linear', 'holt_winters']);
      const counter = ['rate', 'irate', 'increase', 'resets'].includes(fn);
      if (fn === 'quantile_over_time') return `${fn}(${this.c.pick(['0.5', '0.9', '0', '1', '2'])}, ${this.range(depth, counter)})`;
      if (fn === 'predict_linear') return `${fn}(${this.range(depth, counter, false)}, ${this.c.pick(['60', '-60', '0'])})`;
      if (fn === 'holt_winters') return `${fn}(${this.range(depth, counter)}, ${this.c.pick(['0.5', '0.1'])}, ${this.c.pick(['0.5', '0.9'])})`;
      return `${fn}(${this.range(depth, counter)})`;
    }
    if (r < 0.5) {
      const op = this.c.pick(AGGREGATIONS);
      const grouping = this.c.chance(0.7) ? ` ${this.grouping()} ` : '';
      const param = op === 'quantile' ? `${this.c.pick(['0.5', '0.9', '0', '1', '2'])}, ` : op === 'count_values' ? `"${this.c.pick(['value', 'instance', 'le'])}", ` : '';
      return this.c.chance(0.5) ? `${op}${grouping}(${param}${this.vector(depth - 1)})` : `${op}(${param}${this.vector(depth - 1)})${grouping}`;
    }
    if (r < 0.66) return this.call(depth);
    if (r < 0.88) return this.binary(depth);
    if (r < 0.91) return `vector(${this.scalar(depth - 1)})`;
    if (r < 0.94) return `absent(${this.c.pick(['nonexistent{job="a", instance=~"b"}', this.selector(false)])})`;
    if (r < 0.97) return this.subquery(depth);
    return `-${this.vector(depth - 1)}`;
  }

  subquery(depth: number): string {
    const fn = this.c.pick(['max_over_time', 'avg_over_time', 'count_over_time', 'last_over_time']);
    const modifier = this.c.pick(['', ' @ start()', ' @ end()', ' offset 2m']);
    const pinned = this.#pinned;
    this.#pinned ||= modifier.includes('@');
    const inner = this.vector(depth - 1);
    this.#pinned = pinned;
    return `${fn}((${inner})[${this.c.pick(['5m', '10m'])}:${this.c.pick(['30s', '1m'])}]${modifier})`;
  }

  call(depth: number): string {
    const fn = this.c.pick([...VECTOR_FUNCTIONS, 'round', 'clamp', 'clamp_min', 'label_replace', 'label_join', ...(this.v.histogram !== undefined ? ['histogram_quantile'] : [])]);
    const inner = () => this.vector(depth - 1);
    switch (fn) {
      case 'round':
        return `round(${inner()}${this.c.chance(0.5) ? `, ${this.c.pick(['0.1', '5', '-1'])}` : ''})`;
      case 'clamp':
        return `clamp(${inner()}, ${this.c.pick(['0', '-1'])}, ${this.c.pick(['10', '0', '1e9'])})`;
      case 'clamp_min':
        return `clamp_min(${inner()}, ${this.c.pick(['0', '100'])})`;
      case 'label_replace':
        return `label_replace(${inner()}, "${this.c.pick(['dst', 'instance', 'mode'])}", "${this.c.pick(['$1', '${1}x', 'a', ''])}", "${this.c.pick(this.v.labels)}", "${this.c.pick(['(.*)', '(.*):.*', 'demo.(.*)', 'x'])}")`;
      case 'label_join':
        return `label_join(${inner()}, "${this.c.pick(['dst', 'mode'])}", "${this.c.pick(['-', ''])}", "${this.c.pick(this.v.labels)}", "${this.c.pick(this.v.labels)}")`;
      case 'histogram_quantile': {
        const h = this.v.histogram as NonNullable<QueryVocabulary['histogram']>;
        return `histogram_quantile(${this.c.pick(['0.5', '0.9', '0', '1', '2'])}, sum by (le${this.c.chance(0.5) ? `, ${h.by}` : ''}) (rate(${h.bucket}[${this.c.pick(RANGES)}])))`;
      }
      case 'timestamp':
        return `timestamp(${this.selector(false, false)})`;
      default:
        if (['minute', 'hour', 'day_of_week', 'month', 'year'].includes(fn) && this.c.chance(0.3)) return `${fn}()`;
        return `${fn}(${inner()})`;
    }
  }

  binary(depth: number): string {
    const op = this.c.pick(BINARY_OPS);
    const setOp = op === 'and' || op === 'or' || op === 'unless';
    const comparison = ['==', '!=', '>', '<', '>=', '<='].includes(op);
    const bool = () => (comparison && this.c.chance(0.4) ? ' bool' : '');
    if (!setOp && this.c.chance(0.4)) {
      const s = this.scalar(depth - 1);
      return this.c.chance(0.5) ? `${this.vector(depth - 1)} ${op}${bool()} ${s}` : `${s} ${op}${bool()} ${this.vector(depth - 1)}`;
    }
    let matching = '';
    if (this.c.chance(0.5)) {
      const labels = [...new Set([this.c.pick(this.v.labels), this.c.pick(this.v.labels)])].slice(0, Math.floor(this.c.next() * 3));
      matching = ` ${this.c.pick(['on', 'ignoring'])}(${labels.join(', ')})`;
      if (!setOp && this.c.chance(0.4)) matching += ` ${this.c.pick(['group_left', 'group_right'])}${this.c.chance(0.5) ? `(${this.c.pick(this.v.labels)})` : ''}`;
    }
    return `${this.vector(depth - 1)} ${op}${bool()}${matching} ${this.vector(depth - 1)}`;
  }
}

/** `n` random instant-vector queries from `seed` over `vocabulary`, nested up to three levels. */
export function randomQueries(seed: number, n: number, vocabulary: QueryVocabulary = DEMO_VOCABULARY): string[] {
  const c = new Choices(seed);
  const g = new Generator(c, vocabulary);
  return Array.from({ length: n }, () => g.vector(1 + Math.floor(c.next() * 3)));
}

/** Query API parameters: an instant query's `time`, or a range query's `start`, `end` and `step`. */
export type RandomWindow = { time: string } | { start: string; end: string; step: string };

/**
 * `n` random evaluation times and ranges around `boundary` (ms; data from 3h before it to 40 minutes
 * after): times on, next to and far from the boundary, steps from 1s to 1h that need not divide
 * anything, starts off the step grid, fractional seconds, ranges from one point to four hours.
 */
export function randomWindows(seed: number, n: number, boundary: number): RandomWindow[] {
  const c = new Choices(seed);
  const b = boundary / 1000;
  const seconds = (x: number) => (c.chance(0.7) ? String(Math.round(x)) : x.toFixed(3));
  const jitter = (scale: number) => (c.chance(0.5) ? c.next() * scale : 0);
  return Array.from({ length: n }, () => {
    if (c.chance(0.35)) {
      const offset = c.pick([-10_800, -7200, -3600, -600, -301, -300, -60, -15, -5, -1, 0, 1, 5, 14, 15, 60, 299, 300, 600, 1200, 2399, 2400, 2401, 2460]);
      return { time: seconds(b + offset + jitter(10)) };
    }
    const step = c.pick([1, 2, 5, 7, 10, 13, 15, 30, 45, 60, 61, 120, 300, 600, 900, 3600]);
    const end = b + c.pick([-3600, -600, -30, -1, 0, 1, 30, 300, 900, 1800, 2400, 2460]) + jitter(100);
    const span = Math.min(Math.floor(1 + c.next() * 400) * step, 4 * 3600);
    const start = end - Math.max(0, span - (c.chance(0.3) ? c.next() * step : 0));
    return { start: seconds(start), end: seconds(end), step: String(step) };
  });
}

/** Pieces of RE2 patterns: literals of the demo's label values, classes, escapes, assertions, flags, and some that Go refuses. */
const REGEX_ATOMS = [
  'a', 'e', 'o', 'd', 'm', 'u', 's', '0', '1', '5', ':', '/', '_', '-', '+', 'G', 'E', 'T', '.', '\\.', '\\d', '\\D', '\\w', '\\W', '\\s', '\\S',
  '[a-z]', '[^0-9]', '[0-9a-f]', '[[:digit:]]', '[[:alpha:]]', '[[:^alpha:]]', '[^[:space:]]', '\\pL', '\\PL', '\\p{Lu}', '\\p{N}', '[\\d.]',
  '\\x41', '\\x{61}', '\\Qa.b\\E', '(?i:get)', '\\b', '\\B', '$', '^', '\\A', '\\z', '(?U)', '(?P<n>a)', '(?<n>o)', '[]a]', '[a-]', '\\Qa.',
  'a{,2}', '{', '\\8', '(?)', '(?', '(?i', '[', '\\', ')', 'x{2,1}', '\\x{2,1}', '[\\Qa\\E]',
];

/** `n` random regex matchers on the demo's series (some refused by Go's regexp), from `seed`. */
export function randomMatchers(seed: number, n: number): string[] {
  const c = new Choices(seed);
  const pattern = (depth: number): string => {
    const r = c.next();
    if (depth <= 0 || r < 0.4) {
      let s = '';
      for (let i = 1 + Math.floor(c.next() * 4); i > 0; i--) s += c.pick(REGEX_ATOMS);
      return s;
    }
    if (r < 0.55) return `(${pattern(depth - 1)}|${pattern(depth - 1)})`;
    if (r < 0.7) return `${pattern(depth - 1)}${c.pick(['*', '+', '?', '{1,3}', '{2}', '*?', '+?'])}`;
    if (r < 0.8) return `(?:${pattern(depth - 1)})${c.pick(['', '*', '+'])}`;
    if (r < 0.9) return `(?${c.pick(['i', 's', 'm', 'i-s'])})${pattern(depth - 1)}`;
    return `.*${pattern(depth - 1)}.*`;
  };
  return Array.from({ length: n }, () => {
    const [name] = c.pick([...DEMO_VOCABULARY.counters, ...DEMO_VOCABULARY.gauges]);
    const value = pattern(2).replaceAll('\\', '\\\\').replaceAll('"', '\\"');
    return `${name}{${c.pick(DEMO_VOCABULARY.labels)}${c.pick(['=~', '!~'])}"${value}"}`;
  });
}
