/**
 * A rule group as Prometheus 2.42 runs it (rules/group.go): its rules evaluated in order at one
 * timestamp every `interval`, the timestamps offset within the interval by a hash of the group's file
 * and name (so that Prometheus and Strata's ruler evaluate a group at the same instants, and groups
 * spread over the interval); iterations that could not start in time are counted as missed and
 * skipped. A rule's samples are written at the evaluation time; series it wrote at the previous
 * evaluation and not at this one get a stale marker, as Prometheus' rule manager writes them.
 */
import { ZERO_TIME, type Rule, type RuleGroup, type Timestamp } from '@strata/storeapi';
import { labelsHash, Labels, STALE_NAN, type Label } from '@strata/tsdb';
import type { Logger } from '@strata/runtime';
import { AlertingRule, type AlertNotification, type RestoreOptions } from './alerting.js';
import type { QueryFunc } from './query.js';
import { RecordingRule, type RuleSample } from './recording.js';
import type { RuleMetrics } from './metrics.js';

/** Samples written at one time (Unix ms). */
export type SampleWriter = (samples: readonly RuleSample[], timeMs: number) => void;
/** Alerts due to Alertmanager, with the expression that raised them (for their generator URL). */
export type AlertSender = (alerts: readonly AlertNotification[], expr: string) => void;

export interface GroupOptions {
  name: string;
  file: string;
  intervalNs: bigint;
  /** Most series a rule may give, most alerts an alerting rule may hold (0: no limit). */
  limit: number;
  /** Thanos' partial_response_strategy: true for warn. */
  partialResponse: boolean;
  /** The group's query_offset (or the ruler's default, --rule-query-offset): rules read and write their data this long before each evaluation time. */
  queryOffsetNs: bigint;
  rules: (RecordingRule | AlertingRule)[];
  query: QueryFunc;
  write: SampleWriter;
  send: AlertSender;
  resendDelayNs: bigint;
  /** The ruler's external labels, added to the labels of its rules and alerts in the Rules API (as Thanos' ruler). */
  externalLabels: Labels;
  metrics: RuleMetrics;
  logger: Logger;
  /**
   * Given to the groups of the ruler's first load: after their second evaluation (by then recording
   * rules have written what alerts may read), their alerts' `for` state is restored, as Prometheus does
   * after a start. Their alerting rules must be made unrestored.
   */
  restore?: RestoreOptions;
}

type Health = 'unknown' | 'ok' | 'err';

interface RuleState {
  health: Health;
  lastError: string;
  evaluationSeconds: number;
  lastEvaluationNs: bigint | undefined;
  /** The series written at the last evaluation, by their labels' key. */
  previous: Map<string, Labels>;
}

export function nowNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e3)) * 1_000n;
}

export class Group {
  readonly key: string;
  readonly #states: RuleState[];
  #evaluationSeconds = 0;
  #lastEvaluationNs: bigint | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  readonly #stop = new AbortController();

  constructor(readonly opts: GroupOptions) {
    this.key = `${opts.file};${opts.name}`;
    this.#states = opts.rules.map(() => ({ health: 'unknown', lastError: '', evaluationSeconds: 0, lastEvaluationNs: undefined, previous: new Map() }));
    // At 0 from the start, as Prometheus' NewGroup does.
    for (const c of [opts.metrics.iterationsMissed, opts.metrics.iterationsScheduled, opts.metrics.evalTotal, opts.metrics.evalFailures]) c.inc({ rule_group: this.key }, 0);
    opts.metrics.groupInterval.set({ rule_group: this.key }, Number(opts.intervalNs) / 1e9);
    opts.metrics.groupRules.set({ rule_group: this.key }, opts.rules.length);
  }

  /**
   * Prometheus' EvalTimestamp: the latest evaluation time at or before `startNs`, evaluation times
   * being `hash(file, name) mod interval` past each multiple of the interval.
   */
  evalTimestamp(startNs: bigint): bigint {
    const interval = this.opts.intervalNs;
    const hash = labelsHash([
      { name: 'file', value: this.opts.file },
      { name: 'name', value: this.opts.name },
    ]);
    const offset = BigInt.asUintN(64, hash) % interval;
    const start = startNs - offset;
    return start - (((start % interval) + interval) % interval) + offset;
  }

  /** Runs the group from its next evaluation time on, until stop(). */
  start(): void {
    let evalNs = this.evalTimestamp(nowNs()) + this.opts.intervalNs;
    let iterations = 0;
    const schedule = () => {
      const waitMs = Math.max(0, Number(evalNs - nowNs()) / 1e6);
      this.#timer = setTimeout(() => {
        this.#running = this.#iterate(evalNs).then(async () => {
          if (++iterations === 2 && this.opts.restore !== undefined) await this.#restoreForState(this.opts.restore);
          if (this.#stop.signal.aborted) return;
          const interval = this.opts.intervalNs;
          const missed = (nowNs() - evalNs) / interval - 1n;
          if (missed > 0n) {
            this.opts.metrics.iterationsMissed.inc({ rule_group: this.key }, Number(missed));
            this.opts.metrics.iterationsScheduled.inc({ rule_group: this.key }, Number(missed));
          }
          evalNs += ((missed > 0n ? missed : 0n) + 1n) * interval;
          schedule();
        });
      }, waitMs);
    };
    schedule();
  }

  /** Stops evaluating, waiting for an evaluation under way. */
  async stop(): Promise<void> {
    this.#stop.abort();
    clearTimeout(this.#timer);
    await this.#running;
  }

  async #restoreForState(opts: RestoreOptions): Promise<void> {
    const tsNs = nowNs();
    for (const rule of this.opts.rules) {
      if (!(rule instanceof AlertingRule)) continue;
      try {
        await rule.restoreForState(tsNs, opts);
      } catch (err) {
        this.opts.logger.error('restoring the for state of alerts failed', { group: this.opts.name, alert: rule.def.name, err: err as Error });
      }
    }
  }

  /** Marks every series the group wrote stale, as Prometheus does for a group removed by a reload. */
  markStale(): void {
    const timeMs = Number(nowNs() / 1_000_000n);
    const samples = this.#states.flatMap((s) => [...s.previous.values()].map((labels) => ({ labels, value: STALE_NAN })));
    if (samples.length > 0) this.opts.write(samples, timeMs);
  }

  /** Takes over the state of the same group before a reload: alerts, written series and evaluation times of its rules with the same names. */
  copyState(from: Group): void {
    this.#evaluationSeconds = from.#evaluationSeconds;
    this.#lastEvaluationNs = from.#lastEvaluationNs;
    const byName = new Map<string, number[]>();
    from.opts.rules.forEach((r, i) => byName.set(r.def.name, [...(byName.get(r.def.name) ?? []), i]));
    this.opts.rules.forEach((r, i) => {
      const j = byName.get(r.def.name)?.shift();
      if (j === undefined) return;
      this.#states[i] = from.#states[j] as RuleState;
      const old = from.opts.rules[j];
      if (r instanceof AlertingRule && old instanceof AlertingRule) r.takeAlertsFrom(old);
    });
  }

  /** One evaluation of every rule at `tsNs` (Prometheus' Group.Eval), timed. */
  async #iterate(tsNs: bigint): Promise<void> {
    const { metrics } = this.opts;
    metrics.iterationsScheduled.inc({ rule_group: this.key });
    const startNs = nowNs();
    const samples = await this.eval(tsNs);
    const seconds = Number(nowNs() - startNs) / 1e9;
    metrics.iterationDuration.observe(seconds);
    metrics.groupLastDuration.set({ rule_group: this.key }, seconds);
    metrics.groupLastEvalTime.set({ rule_group: this.key }, Number(tsNs) / 1e9);
    metrics.groupSamples.set({ rule_group: this.key }, samples);
    this.#evaluationSeconds = seconds;
    this.#lastEvaluationNs = startNs;
  }

  /** Evaluates every rule at `tsNs`; returns how many samples they gave. */
  async eval(tsNs: bigint): Promise<number> {
    const { metrics, logger } = this.opts;
    const timeMs = Number((tsNs - this.opts.queryOffsetNs) / 1_000_000n);
    let total = 0;
    for (const [i, rule] of this.opts.rules.entries()) {
      if (this.#stop.signal.aborted) break;
      const state = this.#states[i] as RuleState;
      const startNs = nowNs();
      metrics.evalTotal.inc({ rule_group: this.key });
      try {
        const samples = await rule.eval(tsNs, this.opts.query, { partialResponse: this.opts.partialResponse, limit: this.opts.limit, queryOffsetNs: this.opts.queryOffsetNs, signal: this.#stop.signal });
        state.health = 'ok';
        state.lastError = '';
        total += samples.length;
        if (rule instanceof AlertingRule) {
          const due = rule.alertsToSend(tsNs, this.opts.resendDelayNs, this.opts.intervalNs);
          if (due.length > 0) this.opts.send(due, rule.def.query);
        }
        this.#write(state, samples, timeMs);
      } catch (err) {
        if (this.#stop.signal.aborted) break;
        state.health = 'err';
        state.lastError = err instanceof Error ? err.message : String(err);
        metrics.evalFailures.inc({ rule_group: this.key });
        logger.warn('Evaluating rule failed', { group: this.opts.name, name: rule.def.name, index: i, err: state.lastError });
      } finally {
        state.evaluationSeconds = Number(nowNs() - startNs) / 1e9;
        state.lastEvaluationNs = startNs;
        metrics.evalDuration.observe(state.evaluationSeconds);
      }
    }
    return total;
  }

  /** Writes a rule's samples, and stale markers for its series of the previous evaluation that it no longer gives. */
  #write(state: RuleState, samples: readonly RuleSample[], timeMs: number): void {
    const current = new Map<string, Labels>();
    for (const s of samples) current.set(s.labels.key(), s.labels);
    const stale: RuleSample[] = [];
    for (const [key, labels] of state.previous) if (!current.has(key)) stale.push({ labels, value: STALE_NAN });
    state.previous = current;
    if (samples.length + stale.length > 0) this.opts.write(stale.length === 0 ? samples : [...samples, ...stale], timeMs);
  }

  /** The group as Thanos' Rules API carries it, external labels added to every rule's and alert's labels. */
  toRuleGroup(): RuleGroup {
    const ext = this.opts.externalLabels;
    const withExternal = (ls: Labels | readonly Label[]): Label[] => [...(ls instanceof Labels ? ls : Labels.from(ls)).merge(ext).toArray()];
    const rules = this.opts.rules.map((rule, i): Rule => {
      const s = this.#states[i] as RuleState;
      const common = { name: rule.def.name, query: rule.def.query, labels: withExternal(rule.def.labels), health: s.health, lastError: s.lastError, evaluationDurationSeconds: s.evaluationSeconds, lastEvaluation: timestamp(s.lastEvaluationNs) };
      if (rule instanceof RecordingRule) return { recording: common };
      return {
        alert: {
          ...common,
          state: rule.state(),
          durationSeconds: Number(rule.def.forNs) / 1e9,
          keepFiringForSeconds: Number(rule.def.keepFiringForNs) / 1e9,
          annotations: rule.def.annotations,
          alerts: rule.activeAlerts().map((a) => ({ labels: withExternal(a.labels), annotations: a.annotations, state: a.state, activeAt: timestamp(a.activeAtNs), value: formatFloatE(a.value) })),
        },
      };
    });
    return { name: this.opts.name, file: this.opts.file, rules, interval: Number(this.opts.intervalNs) / 1e9, evaluationDurationSeconds: this.#evaluationSeconds, lastEvaluation: timestamp(this.#lastEvaluationNs), limit: this.opts.limit };
  }
}

/** Go's zero time for never. */
function timestamp(ns: bigint | undefined): Timestamp {
  if (ns === undefined) return ZERO_TIME;
  return { seconds: Number(ns / 1_000_000_000n), nanos: Number(ns % 1_000_000_000n) };
}

/** Go's strconv.FormatFloat(v, 'e', -1, 64), as Prometheus' API writes an alert's value. */
export function formatFloatE(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const [mantissa, exponent] = (Object.is(v, -0) ? '-0e+0' : v.toExponential()).split('e') as [string, string];
  const exp = Number(exponent);
  return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}
