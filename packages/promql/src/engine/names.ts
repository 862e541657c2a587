import { isLegacyLabelName, type Labels } from '@strata/tsdb';

/** Labels that describe the metric rather than the series; they go with `__name__` when an operation changes the meaning. */
export const METRIC_IDENTITY: readonly string[] = ['__name__', '__type__', '__unit__'];
const METRIC_IDENTITY_SET: ReadonlySet<string> = new Set(METRIC_IDENTITY);

/** The labels without the metric name (and the `__type__`/`__unit__` labels of Prometheus' type-and-unit feature). */
export function dropMetricName(l: Labels): Labels {
  return l.has('__name__') || l.has('__type__') || l.has('__unit__') ? l.without(METRIC_IDENTITY_SET) : l;
}

/** What decides how operators treat the metric name. */
export interface NameRules {
  readonly compat: 2 | 3;
  /** Keep `__name__` until the end of evaluation (Prometheus' promql-delayed-name-removal feature). */
  readonly delayedNameRemoval: boolean;
}

/** In u-mode a surrogate pair is one code point: only unpaired surrogates match. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Whether a label name is valid: 2.x allows [a-zA-Z_][a-zA-Z0-9_]*, 3.x any non-empty UTF-8 string (a
 * string literal with invalid UTF-8 bytes holds lone surrogates, see unquoteString).
 */
export function isValidLabelName(name: string, compat: 2 | 3): boolean {
  return compat === 2 ? isLegacyLabelName(name) : name !== '' && !LONE_SURROGATE.test(name);
}
