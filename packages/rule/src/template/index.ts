/**
 * Prometheus' alert and annotation templating: Go's text/template (Go 1.19) with Prometheus 2.42's
 * template functions, executed asynchronously because `query` runs PromQL.
 */
import { BUILTINS } from './builtins.js';
import { execute, type FuncMap, type MissingKey } from './exec.js';
import { PROMETHEUS_FUNC_NAMES, prometheusFuncs, type QueryFunc } from './funcs.js';
import { parse, TemplateError, type TreeSet } from './parse.js';
import { GoMap, GoStruct, toGoValue, type Value } from './values.js';

export { TemplateError } from './parse.js';
export { prometheusFuncs, sampleValue, PROMETHEUS_FUNC_NAMES, type PrometheusFuncsContext, type QueryFunc, type QuerySample } from './funcs.js';
export type { FuncMap, MissingKey } from './exec.js';
export { GoHTML, GoMap, GoSlice, GoStruct, GoTime, T, type GoFunc, type ParamType, type Value } from './values.js';

export interface ExecuteOptions {
  /** text/template's missingkey option; default `invalid` (Go's default: `<no value>`). */
  readonly missingKey?: MissingKey;
}

export interface Template {
  readonly name: string;
  /**
   * Executes the template on data (plain objects become map[string]interface {}, numbers float64,
   * bigints int; Go values from './values.js' pass as they are). Rejects with a TemplateError.
   */
  execute(data: unknown, funcs: FuncMap, options?: ExecuteOptions): Promise<string>;
}

/**
 * Parses a template as template.New(name).Funcs(…).Parse(text): the functions it may call are the
 * builtins and `funcNames` (by default Prometheus' template functions). Throws a TemplateError with Go's message.
 */
export function parseTemplate(name: string, text: string, funcNames: Iterable<string> = PROMETHEUS_FUNC_NAMES): Template {
  const trees: TreeSet = parse(name, text, new Set([...BUILTINS.keys(), ...funcNames]));
  return {
    name,
    async execute(data, funcs, options = {}) {
      const out: string[] = [];
      await execute({ parseName: name, text, trees, funcs, missingKey: options.missingKey ?? 'invalid', out }, name, toGoValue(data));
      return out.join('');
    },
  };
}

/** What an alert's templates see besides the functions (rules/alerting.go, template.AlertTemplateData). */
export interface AlertTemplateContext {
  readonly labels: Readonly<Record<string, string>>;
  readonly externalLabels: Readonly<Record<string, string>>;
  /** Prometheus' external URL, as Prometheus normalizes it (no trailing slash). */
  readonly externalURL: string;
  /** The alert's sample value. */
  readonly value: number;
  /** The evaluation time, at which `query` runs. */
  readonly timestampMs: number;
  readonly query: QueryFunc;
}

/** The variables Prometheus defines before each alert template. */
const ALERT_DEFS = '{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}';

/**
 * Expands an alert rule's label or annotation template as Prometheus 2.42 does (rules/alerting.go with
 * template.NewTemplateExpander): the ALERT_DEFS variables first, missingkey=zero (so `$labels.missing`
 * is empty), Prometheus' functions; a failure yields `<error expanding template: …>` instead of text.
 * `name` is the template's name, which errors quote: Prometheus uses `__alert_<rule name>`.
 */
export async function expandAlertTemplate(name: string, text: string, ctx: AlertTemplateContext): Promise<string> {
  const data = new GoStruct(
    'struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }',
    new Map<string, Value>([
      ['Labels', GoMap.ofStrings(ctx.labels)],
      ['ExternalLabels', GoMap.ofStrings(ctx.externalLabels)],
      ['ExternalURL', ctx.externalURL],
      ['Value', ctx.value],
    ]),
  );
  let tmpl: Template;
  try {
    tmpl = parseTemplate(name, ALERT_DEFS + text);
  } catch (e) {
    return `<error expanding template: error parsing template ${name}: ${errorText(e)}>`;
  }
  try {
    return await tmpl.execute(data, prometheusFuncs(ctx), { missingKey: 'zero' });
  } catch (e) {
    return `<error expanding template: error executing template ${name}: ${errorText(e)}>`;
  }
}

function errorText(e: unknown): string {
  if (e instanceof TemplateError) return e.message;
  throw e;
}

/**
 * Prometheus' check of an alert rule's template when loading rules (rulefmt's testTemplateParsing):
 * the parse error's message, or undefined if the template parses. `name` as for expandAlertTemplate.
 */
export function checkAlertTemplate(name: string, text: string): string | undefined {
  try {
    parseTemplate(name, ALERT_DEFS + text);
    return undefined;
  } catch (e) {
    return errorText(e);
  }
}
