/**
 * Rule files (`--rule-file`), read and checked as Prometheus 2.42's model/rulefmt reads them, with
 * Thanos' `partial_response_strategy` on groups:
 *
 *   groups:
 *   - name: <string>                     # required, unique within the file
 *     interval: <duration>               # default: the ruler's evaluation interval
 *     limit: <int>                       # most series a rule may give, alerts it may hold; 0: no limit
 *     partial_response_strategy: <warn|abort>   # Thanos; any case; default abort
 *     query_offset: <duration>           # Prometheus 3 only (PromQL compat 3)
 *     rules:
 *     - record: <metric name>
 *       expr: <PromQL>
 *       labels: { <label name>: <string> }
 *     - alert: <string>
 *       expr: <PromQL>
 *       for: <duration>                  # default 0s
 *       keep_firing_for: <duration>      # default 0s
 *       labels: { <label name>: <template> }
 *       annotations: { <label name>: <template> }
 *
 * Durations are Prometheus' (`1h30m`, `5m`, `0`). Only the first YAML document counts; it is decoded
 * strictly, as rulefmt decodes it (see rulefiledecode.ts). A file that decodes is then validated as
 * rulefmt's RuleGroups.Validate does, and its messages read as Prometheus', each prefixed by the file's
 * path: `rules.yaml: 9:11: group "g", rule 3, "a": could not parse expression: …`.
 */
import { readFile } from 'node:fs/promises';
import { parseExpr, type ParseOptions } from '@strata/promql';
import { glob } from '@strata/runtime';
import { isLegacyLabelName } from '@strata/tsdb';
import { LineCounter, parseAllDocuments } from 'yaml';
import { decodeRuleFile, type DecodedGroup, type DecodedRule } from './rulefiledecode.js';

export type PartialResponseStrategy = 'warn' | 'abort';

export interface RuleFile {
  readonly path: string;
  readonly groups: readonly RuleGroupDef[];
}

export interface RuleGroupDef {
  readonly name: string;
  /** Evaluation interval in ms; undefined (absent or 0) for the ruler's own. */
  readonly interval: number | undefined;
  /** 0 for no limit. */
  readonly limit: number;
  readonly partialResponseStrategy: PartialResponseStrategy;
  /** Prometheus 3's query offset in ms; undefined when absent, for the ruler's own. */
  readonly queryOffset: number | undefined;
  readonly rules: readonly RuleDef[];
  /** Where the group starts in its file (1-based). */
  readonly line: number;
}

export type RuleDef = RecordingRuleDef | AlertingRuleDef;

export interface RecordingRuleDef {
  readonly record: string;
  readonly expr: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly line: number;
}

export interface AlertingRuleDef {
  readonly alert: string;
  readonly expr: string;
  /** ms */
  readonly for: number;
  /** ms */
  readonly keepFiringFor: number;
  /** Templates. */
  readonly labels: Readonly<Record<string, string>>;
  /** Templates. */
  readonly annotations: Readonly<Record<string, string>>;
  readonly line: number;
}

export interface RuleFileOptions {
  /**
   * How expressions are parsed; `compat` also picks the rule format: 2 for Prometheus 2.42's (label
   * and metric names [a-zA-Z_:][a-zA-Z0-9_:]*), 3 (the default, as the parser's) for Prometheus 3's
   * UTF-8 names and `query_offset`.
   */
  readonly promql?: ParseOptions;
  /**
   * Checks that a template of an alerting rule parses (Prometheus' testTemplateParsing, which names
   * the template `__alert_<alert name>`), given the alert's name and the text; returns the parse error,
   * as Go's text/template words it.
   * The text is checked as Prometheus does: with `$labels`, `$externalLabels`, `$externalURL` and
   * `$value` defined. Without it templates are not checked.
   */
  readonly checkTemplate?: (alert: string, text: string) => string | undefined;
}

/** Everything wrong with rule files: one message per problem, each starting with its file's path. */
export class RuleFileErrors extends Error {
  constructor(readonly errors: readonly string[]) {
    super(errors.join('\n'));
    this.name = 'RuleFileErrors';
  }
}

/**
 * The files `--rule-file` patterns name, as Thanos' ruler expands them: each pattern by Go's
 * filepath.Glob, in order, a file named twice kept once. A pattern that matches nothing adds nothing;
 * a malformed one is an error.
 */
export async function expandRuleFiles(patterns: readonly string[]): Promise<string[]> {
  const files = new Set<string>();
  for (const pattern of patterns) {
    let matches: string[];
    try {
      matches = await glob(pattern);
    } catch (err) {
      throw new Error(`retrieving rule files failed. pattern ${pattern}: ${(err as Error).message}`);
    }
    for (const f of matches) files.add(f);
  }
  return [...files];
}

/** Reads and validates a rule file; throws RuleFileErrors. */
export async function loadRuleFile(path: string, opts: RuleFileOptions = {}): Promise<RuleFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new RuleFileErrors([`${path}: ${(err as Error).message}`]);
  }
  return parseRuleFile(text, path, opts);
}

/** Reads and validates rule files, all of them before reporting what is wrong with any (as promtool). */
export async function loadRuleFiles(paths: readonly string[], opts: RuleFileOptions = {}): Promise<RuleFile[]> {
  const files: RuleFile[] = [];
  const errors: string[] = [];
  for (const path of paths) {
    try {
      files.push(await loadRuleFile(path, opts));
    } catch (err) {
      if (!(err instanceof RuleFileErrors)) throw err;
      errors.push(...err.errors);
    }
  }
  if (errors.length > 0) throw new RuleFileErrors(errors);
  return files;
}

/** Validates a rule file's text; `path` names it in messages. Throws RuleFileErrors. */
export function parseRuleFile(text: string, path: string, opts: RuleFileOptions = {}): RuleFile {
  const compat = opts.promql?.compat ?? 3;
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: false });
  const doc = Array.isArray(docs) ? docs[0] : undefined;
  const fail = (errors: string[]) => new RuleFileErrors(errors.map((e) => `${path}: ${e}`));
  if (doc === undefined) return { path, groups: [] };
  if (doc.errors.length > 0) throw fail(doc.errors.map((e) => `yaml: line ${e.linePos?.[0].line ?? 0}: ${e.message.replace(/ at line \d+, column \d+:[^]*$/, '')}`));

  const { groups, errors: decodeErrors } = decodeRuleFile(doc, lines, compat);
  if (decodeErrors.length > 0) throw fail([`yaml: unmarshal errors:\n${decodeErrors.map((e) => `  ${e}`).join('\n')}`]);
  const errors = validate(groups, compat, opts);
  if (errors.length > 0) throw fail(errors);
  return { path, groups: groups.map(groupDef) };
}

// Validation, as rulefmt's RuleGroups.Validate and Rule.Validate.

/** In u-mode a surrogate pair is one code point: only unpaired ones (invalid UTF-8) match. */
const LONE_SURROGATE = /\p{Cs}/u;
const LEGACY_METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function validate(groups: readonly DecodedGroup[], compat: 2 | 3, opts: RuleFileOptions): string[] {
  const errors: string[] = [];
  const seen = new Set<string>();
  for (const g of groups) {
    if (g.name === '') errors.push(`${g.pos}: Groupname must not be empty`);
    if (seen.has(g.name)) errors.push(`${g.pos}: groupname: "${g.name}" is repeated in the same file`);
    seen.add(g.name);
    g.rules.forEach((r, i) => {
      const name = r.alert.text !== '' ? r.alert.text : r.record.text;
      for (const e of validateRule(r, compat, opts)) {
        const at = e.at.length > 0 ? `${e.at.join(': ')}: ` : '';
        errors.push(`${at}group ${JSON.stringify(g.name)}, rule ${i + 1}, ${JSON.stringify(name)}: ${e.message}`);
      }
    });
  }
  return errors;
}

/** A rule's problem, and the positions of the fields at fault (rulefmt's WrappedError). */
interface RuleError {
  at: string[];
  message: string;
}

function validateRule(r: DecodedRule, compat: 2 | 3, opts: RuleFileOptions): RuleError[] {
  const errors: RuleError[] = [];
  const record = r.record.text;
  const alert = r.alert.text;
  if (record !== '' && alert !== '') errors.push({ at: [r.record.pos, r.alert.pos], message: "only one of 'record' and 'alert' must be set" });
  if (record === '' && alert === '') errors.push({ at: [r.record.pos], message: "one of 'record' or 'alert' must be set" });

  if (r.expr.text === '') errors.push({ at: [r.expr.pos], message: "field 'expr' must be set in rule" });
  else {
    try {
      parseExpr(r.expr.text, opts.promql);
    } catch (err) {
      errors.push({ at: [r.expr.pos], message: `could not parse expression: ${(err as Error).message}` });
    }
  }

  if (record !== '') {
    const at = [r.record.pos];
    if (r.annotations.length > 0) errors.push({ at, message: "invalid field 'annotations' in recording rule" });
    if (r.for !== 0) errors.push({ at, message: "invalid field 'for' in recording rule" });
    if (r.keepFiringFor !== 0) errors.push({ at, message: "invalid field 'keep_firing_for' in recording rule" });
    if (!validMetricName(record, compat)) errors.push({ at, message: `invalid recording rule name: ${record}` });
    // Any UTF-8 name is valid in Prometheus 3, but braces are more likely a selector put in the wrong field.
    if (compat === 3 && /[{}]/.test(record)) errors.push({ at, message: `braces present in the recording rule name; should it be in expr?: ${record}` });
  }

  for (const [name, value] of r.labels) {
    if (!validLabelName(name, compat) || name === '__name__') errors.push({ at: [], message: `invalid label name: ${name}` });
    if (LONE_SURROGATE.test(value)) errors.push({ at: [], message: `invalid label value: ${value}` });
  }
  for (const [name] of r.annotations) {
    if (!validLabelName(name, compat)) errors.push({ at: [], message: `invalid annotation name: ${name}` });
  }

  if (alert !== '' && opts.checkTemplate !== undefined) {
    for (const [kind, pairs] of [['label', r.labels], ['annotation', r.annotations]] as const) {
      for (const [name, text] of pairs) {
        const err = opts.checkTemplate(alert, text);
        if (err !== undefined) errors.push({ at: [], message: `${kind} ${JSON.stringify(name)}: ${err}` });
      }
    }
  }
  return errors;
}

function validLabelName(name: string, compat: 2 | 3): boolean {
  return compat === 2 ? isLegacyLabelName(name) : name !== '' && !LONE_SURROGATE.test(name);
}

function validMetricName(name: string, compat: 2 | 3): boolean {
  return compat === 2 ? LEGACY_METRIC_NAME.test(name) : name !== '' && !LONE_SURROGATE.test(name);
}

function groupDef(g: DecodedGroup): RuleGroupDef {
  return {
    name: g.name,
    interval: g.interval === 0 ? undefined : g.interval,
    limit: g.limit,
    partialResponseStrategy: g.strategy,
    queryOffset: g.queryOffset,
    rules: g.rules.map(ruleDef),
    line: g.line,
  };
}

function ruleDef(r: DecodedRule): RuleDef {
  const labels = Object.fromEntries(r.labels);
  if (r.record.text !== '') return { record: r.record.text, expr: r.expr.text, labels, line: r.line };
  return { alert: r.alert.text, expr: r.expr.text, for: r.for, keepFiringFor: r.keepFiringFor, labels, annotations: Object.fromEntries(r.annotations), line: r.line };
}
