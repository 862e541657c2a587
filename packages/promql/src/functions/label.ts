/** label_replace and label_join: rewrite labels, keep the metric name unless it is the target. */
import { METRIC_NAME, RegexpSyntaxError, RegexpUnsupportedError, compileAnchored, prometheusRegexp } from '@strata/tsdb';
import { EvalError } from '../engine/errors.js';
import { isValidLabelName } from '../engine/names.js';
import { relabel } from '../engine/steps.js';
import { stringArg, vectorArg, type VectorFunction } from './context.js';

function checkLabelName(name: string, compat: 2 | 3, func: string): void {
  if (!isValidLabelName(name, compat)) throw new EvalError(`invalid destination label name in ${func}(): ${name}`);
}

/** Go's regexp Expand: `$1`, `${1}`, `$name`, `${name}`, `$$`; a name is the longest run of word characters. */
export function expandTemplate(template: string, m: RegExpExecArray): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i] as string;
    if (c !== '$' || i + 1 >= template.length) {
      out += c;
      continue;
    }
    const next = template[i + 1] as string;
    if (next === '$') {
      out += '$';
      i++;
      continue;
    }
    let name: string;
    let end: number;
    if (next === '{') {
      const close = template.indexOf('}', i + 2);
      const inner = close < 0 ? '' : template.slice(i + 2, close);
      if (close < 0 || !/^\w+$/.test(inner)) {
        out += c;
        continue;
      }
      name = inner;
      end = close;
    } else {
      const run = /^\w+/.exec(template.slice(i + 1));
      if (run === null) {
        out += c;
        continue;
      }
      name = run[0];
      end = i + run[0].length;
    }
    if (/^\d+$/.test(name)) out += m[Number(name)] ?? '';
    else out += m.groups?.[name] ?? '';
    i = end;
  }
  return out;
}

export const LABEL_FUNCTIONS: Record<string, VectorFunction> = {
  label_replace: (args, ctx) => {
    const dst = stringArg(args, 1);
    const repl = stringArg(args, 2);
    const src = stringArg(args, 3);
    const pattern = stringArg(args, 4);
    let re: RegExp;
    try {
      // Prometheus compiles label_replace's regex anchored only, not as a matcher's.
      re = compileAnchored(pattern, { ...prometheusRegexp(ctx.compat), parse: 'anchored' });
    } catch (e) {
      // Prometheus names the pattern only; what Strata cannot express it explains.
      if (e instanceof RegexpUnsupportedError) throw new EvalError(`invalid regular expression in label_replace(): ${pattern}: ${e.message}`);
      if (e instanceof RegexpSyntaxError) throw new EvalError(`invalid regular expression in label_replace(): ${pattern}`);
      throw e;
    }
    checkLabelName(dst, ctx.compat, ctx.call.func.name);
    return relabel(
      vectorArg(args, 0).series,
      ctx.range.steps,
      (s) => {
        const m = re.exec(s.labels.get(src));
        return m === null ? s.labels : s.labels.with(dst, expandTemplate(repl, m));
      },
      (s) => s.dropName && (dst !== METRIC_NAME || !re.test(s.labels.get(src))),
    );
  },
  label_join: (args, ctx) => {
    const dst = stringArg(args, 1);
    const sep = stringArg(args, 2);
    const srcs = args.slice(3).map((_, i) => stringArg(args, i + 3));
    // The sources first, as Prometheus checks them.
    for (const src of srcs) if (!isValidLabelName(src, ctx.compat)) throw new EvalError(`invalid source label name in label_join(): ${src}`);
    checkLabelName(dst, ctx.compat, ctx.call.func.name);
    return relabel(
      vectorArg(args, 0).series,
      ctx.range.steps,
      (s) => s.labels.with(dst, srcs.map((n) => s.labels.get(n)).join(sep)),
      // Setting the name explicitly keeps it.
      (s) => s.dropName && dst !== METRIC_NAME,
    );
  },
};
