/**
 * The ruler's rule groups, loaded from `--rule-file` patterns and reloaded on demand (SIGHUP or
 * `POST /-/reload`), as Prometheus' rules.Manager: a reload that fails keeps the groups running; one
 * that succeeds starts the new groups, each taking over the state (alerts, series written, evaluation
 * times) of the group of the same file and name before it, and marks the series of removed groups stale.
 */
import { exprString, parseExpr, type ParseOptions } from '@strata/promql';
import type { Logger } from '@strata/runtime';
import type { RuleGroup } from '@strata/storeapi';
import { compareStrings, type Labels } from '@strata/tsdb';
import { AlertingRule, type RestoreOptions, type TemplateExpander } from './alerting.js';
import { Group, type AlertSender, type SampleWriter } from './group.js';
import type { RuleMetrics } from './metrics.js';
import type { QueryFunc } from './query.js';
import { RecordingRule } from './recording.js';
import { expandRuleFiles, loadRuleFiles, type RuleGroupDef } from './rulefile.js';
import { checkAlertTemplate } from './template/index.js';

export interface ManagerOptions {
  /** `--rule-file` patterns (Go's filepath.Glob). */
  ruleFiles: readonly string[];
  defaultIntervalNs: bigint;
  /** The query offset of groups that set none (Thanos' --rule-query-offset). */
  defaultQueryOffsetNs: bigint;
  query: QueryFunc;
  write: SampleWriter;
  send: AlertSender;
  resendDelayNs: bigint;
  externalLabels: Labels;
  /** Expands an alert's templates; `partialResponse` is its group's strategy, for the templates' queries. */
  templates: (ruleName: string, partialResponse: boolean) => TemplateExpander;
  /** The PromQL syntax rule expressions are checked in, and printed as that Prometheus version prints them. */
  promql: ParseOptions & { compat: 2 | 3 };
  metrics: RuleMetrics;
  logger: Logger;
  /** How the groups of the first load restore their alerts' `for` state. */
  restore: RestoreOptions;
}

export class RuleManager {
  #groups = new Map<string, Group>();
  /** Whether rules were loaded once: only the first load's alerts restore their state (Prometheus' Manager.restored). */
  #loaded = false;
  #reloading: Promise<void> = Promise.resolve();

  constructor(private readonly opts: ManagerOptions) {}

  /** Loads the rule files and runs their groups; throws (keeping what runs) when any file is wrong. */
  reload(): Promise<void> {
    const next = this.#reloading.then(() => this.#reload());
    this.#reloading = next.catch(() => {});
    return next;
  }

  async #reload(): Promise<void> {
    const { metrics, logger } = this.opts;
    let defs: { file: string; group: RuleGroupDef }[];
    try {
      const files = await loadRuleFiles(await expandRuleFiles(this.opts.ruleFiles), { promql: this.opts.promql, checkTemplate: (alert, text) => checkAlertTemplate(`__alert_${alert}`, text) });
      defs = files.flatMap((f) => f.groups.map((group) => ({ file: f.path, group })));
    } catch (err) {
      metrics.reloadSuccess.set(0);
      throw err;
    }
    const groups = new Map(defs.map(({ file, group }) => [`${file};${group.name}`, this.#group(file, group, !this.#loaded)]));
    this.#loaded = true;
    const old = this.#groups;
    await Promise.all([...old.values()].map((g) => g.stop()));
    for (const [key, g] of old) {
      const successor = groups.get(key);
      if (successor !== undefined) successor.copyState(g);
      else {
        g.markStale();
        metrics.removeGroup(key);
      }
    }
    metrics.loadedRules.reset();
    for (const g of groups.values()) {
      metrics.loadedRules.set({ file: g.opts.file, group: g.opts.name, strategy: g.opts.partialResponse ? 'warn' : 'abort' }, g.opts.rules.length);
      g.start();
    }
    this.#groups = groups;
    metrics.reloadSuccess.set(1);
    metrics.reloadSuccessTime.set(Date.now() / 1000);
    logger.info('rules loaded', { groups: groups.size, rules: [...groups.values()].reduce((n, g) => n + g.opts.rules.length, 0) });
  }

  #group(file: string, def: RuleGroupDef, restore: boolean): Group {
    const partialResponse = def.partialResponseStrategy === 'warn';
    const query = (expr: string) => exprString(parseExpr(expr, this.opts.promql), this.opts.promql.compat);
    // Sorted, empty values kept: an empty rule label removes the label from the result.
    const labels = (ls: Readonly<Record<string, string>>) => Object.entries(ls).map(([name, value]) => ({ name, value })).sort((a, b) => compareStrings(a.name, b.name));
    const rules = def.rules.map((r) =>
      'record' in r
        ? new RecordingRule({ name: r.record, query: query(r.expr), labels: labels(r.labels) })
        : new AlertingRule(
            { name: r.alert, query: query(r.expr), forNs: BigInt(r.for) * 1_000_000n, keepFiringForNs: BigInt(r.keepFiringFor) * 1_000_000n, labels: labels(r.labels), annotations: labels(r.annotations) },
            this.opts.templates(r.alert, partialResponse),
            { restored: !restore },
          ),
    );
    return new Group({
      name: def.name,
      file,
      intervalNs: def.interval !== undefined ? BigInt(def.interval) * 1_000_000n : this.opts.defaultIntervalNs,
      limit: def.limit,
      partialResponse,
      queryOffsetNs: def.queryOffset !== undefined ? BigInt(def.queryOffset) * 1_000_000n : this.opts.defaultQueryOffsetNs,
      rules,
      query: this.opts.query,
      write: this.opts.write,
      send: this.opts.send,
      resendDelayNs: this.opts.resendDelayNs,
      externalLabels: this.opts.externalLabels,
      metrics: this.opts.metrics,
      logger: this.opts.logger,
      ...(restore ? { restore: this.opts.restore } : {}),
    });
  }

  /** The groups as the Rules API carries them, ordered by file and name (Prometheus' RuleGroups). */
  ruleGroups(): RuleGroup[] {
    return [...this.#groups.values()].sort((a, b) => compareStrings(a.opts.file, b.opts.file) || compareStrings(a.opts.name, b.opts.name)).map((g) => g.toRuleGroup());
  }

  async stop(): Promise<void> {
    await this.#reloading;
    await Promise.all([...this.#groups.values()].map((g) => g.stop()));
  }
}
