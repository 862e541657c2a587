import { Counter, Gauge, Summary, type Registry } from 'prom-client';

/** Prometheus' rule manager metrics (rules/manager.go), which Thanos' ruler exports too, by `rule_group` (file;name). */
export class RuleMetrics {
  readonly evalDuration: Summary;
  readonly iterationDuration: Summary;
  readonly iterationsMissed: Counter<'rule_group'>;
  readonly iterationsScheduled: Counter<'rule_group'>;
  readonly evalTotal: Counter<'rule_group'>;
  readonly evalFailures: Counter<'rule_group'>;
  readonly groupInterval: Gauge<'rule_group'>;
  readonly groupLastEvalTime: Gauge<'rule_group'>;
  readonly groupLastDuration: Gauge<'rule_group'>;
  readonly groupRules: Gauge<'rule_group'>;
  readonly groupSamples: Gauge<'rule_group'>;
  /** Thanos' ruler's own. */
  readonly loadedRules: Gauge<'file' | 'group' | 'strategy'>;
  readonly reloadSuccess: Gauge;
  readonly reloadSuccessTime: Gauge;
  readonly evalWithWarnings: Counter<'strategy'>;

  constructor(registry: Registry) {
    const registers = [registry];
    const quantiles = { percentiles: [0.5, 0.9, 0.99] };
    const byGroup = { labelNames: ['rule_group'] as const, registers };
    this.evalDuration = new Summary({ name: 'prometheus_rule_evaluation_duration_seconds', help: 'The duration for a rule to execute.', ...quantiles, registers });
    this.iterationDuration = new Summary({ name: 'prometheus_rule_group_duration_seconds', help: 'The duration of rule group evaluations.', percentiles: [0.01, 0.05, 0.5, 0.9, 0.99], registers });
    this.iterationsMissed = new Counter({ name: 'prometheus_rule_group_iterations_missed_total', help: 'The total number of rule group evaluations missed due to slow rule group evaluation.', ...byGroup });
    this.iterationsScheduled = new Counter({ name: 'prometheus_rule_group_iterations_total', help: 'The total number of scheduled rule group evaluations, whether executed or missed.', ...byGroup });
    this.evalTotal = new Counter({ name: 'prometheus_rule_evaluations_total', help: 'The total number of rule evaluations.', ...byGroup });
    this.evalFailures = new Counter({ name: 'prometheus_rule_evaluation_failures_total', help: 'The total number of rule evaluation failures.', ...byGroup });
    this.groupInterval = new Gauge({ name: 'prometheus_rule_group_interval_seconds', help: 'The interval of a rule group.', ...byGroup });
    this.groupLastEvalTime = new Gauge({ name: 'prometheus_rule_group_last_evaluation_timestamp_seconds', help: 'The timestamp of the last rule group evaluation in seconds.', ...byGroup });
    this.groupLastDuration = new Gauge({ name: 'prometheus_rule_group_last_duration_seconds', help: 'The duration of the last rule group evaluation.', ...byGroup });
    this.groupRules = new Gauge({ name: 'prometheus_rule_group_rules', help: 'The number of rules.', ...byGroup });
    this.groupSamples = new Gauge({ name: 'prometheus_rule_group_last_evaluation_samples', help: 'The number of samples returned during the last rule group evaluation.', ...byGroup });
    this.loadedRules = new Gauge({ name: 'thanos_rule_loaded_rules', help: 'Loaded rules partitioned by file and group.', labelNames: ['file', 'group', 'strategy'], registers });
    this.reloadSuccess = new Gauge({ name: 'thanos_rule_config_last_reload_successful', help: 'Whether the last configuration reload attempt was successful.', registers });
    this.reloadSuccessTime = new Gauge({ name: 'thanos_rule_config_last_reload_success_timestamp_seconds', help: 'Timestamp of the last successful configuration reload.', registers });
    this.evalWithWarnings = new Counter({ name: 'thanos_rule_evaluation_with_warnings_total', help: 'The total number of rule evaluation that were successful but had warnings which can indicate partial error.', labelNames: ['strategy'], registers });
    // At 0 from the start, as Thanos' ruler does.
    for (const strategy of ['abort', 'warn']) this.evalWithWarnings.inc({ strategy }, 0);
  }

  /** Forgets a group's series once it is no longer loaded. */
  removeGroup(key: string): void {
    for (const m of [this.iterationsMissed, this.iterationsScheduled, this.evalTotal, this.evalFailures, this.groupInterval, this.groupLastEvalTime, this.groupLastDuration, this.groupRules, this.groupSamples]) m.remove({ rule_group: key });
  }
}
