/**
 * Prometheus' `--enable-feature` names of the PromQL features the engine gates, for the commands that
 * take them (`strata query --enable-feature=…`).
 */
import type { EngineOptions } from './engine/engine.js';

/** The engine options a feature flag (or, for x-functions, Thanos' --query.enable-x-functions) can turn on. */
export type PromqlFeatures = Pick<EngineOptions, 'extendedRangeSelectors' | 'binopFillModifiers' | 'experimentalFunctions' | 'delayedNameRemoval' | 'xFunctions'>;

const FLAGS: Readonly<Record<string, keyof PromqlFeatures>> = {
  'promql-extended-range-selectors': 'extendedRangeSelectors',
  'promql-binop-fill-modifiers': 'binopFillModifiers',
  // On by default with 3.x semantics; with --query.promql-compat=2 it also brings 3.x's newer functions.
  'promql-experimental-functions': 'experimentalFunctions',
  'promql-delayed-name-removal': 'delayedNameRemoval',
};

export const PROMQL_FEATURE_NAMES: readonly string[] = Object.keys(FLAGS);

/**
 * The engine options of feature flag values, each a comma-separated list as Prometheus and Thanos take
 * them (`--enable-feature=a,b --enable-feature=c`). Throws on a name it does not know.
 */
export function promqlFeatures(values: readonly string[]): PromqlFeatures {
  const out: { -readonly [K in keyof PromqlFeatures]: boolean } = {};
  for (const name of values.flatMap((v) => v.split(',')).map((n) => n.trim())) {
    if (name === '') continue;
    const option = FLAGS[name];
    if (option === undefined) throw new Error(`unknown feature ${JSON.stringify(name)}; known: ${PROMQL_FEATURE_NAMES.join(', ')}`);
    out[option] = true;
  }
  return out;
}
