/**
 * An alerting rule as Prometheus 2.42 evaluates it (rules/alerting.go): each sample of the expression's
 * result is an alert, identified by its labels once the rule's labels (templates expanded) and
 * `alertname` are set; it is pending until it has been so for `for`, then firing; an alert gone from
 * the result is resolved, unless it was firing and `keep_firing_for` has not passed since; resolved
 * alerts are kept 15 minutes so that Alertmanager hears of their end. Each evaluation writes
 * `ALERTS{alertstate}` (1) and `ALERTS_FOR_STATE` (the alert's activeAt in Unix seconds) for every
 * pending and firing alert.
 */
import { AlertState } from '@strata/storeapi';
import { labelsHash, Labels, METRIC_NAME, type Label } from '@strata/tsdb';
import type { LastSample, QueryFunc } from './query.js';
import type { RuleEvalOptions, RuleSample } from './recording.js';

const S = 1_000_000_000n;
const RESOLVED_RETENTION_NS = 15n * 60n * S;

export const ALERT_METRIC_NAME = 'ALERTS';
export const ALERT_FOR_STATE_METRIC_NAME = 'ALERTS_FOR_STATE';
const ALERT_NAME_LABEL = 'alertname';
const ALERT_STATE_LABEL = 'alertstate';

export const ALERT_STATE_NAMES: Readonly<Record<AlertState, string>> = { [AlertState.INACTIVE]: 'inactive', [AlertState.PENDING]: 'pending', [AlertState.FIRING]: 'firing' };

/** Expands one label or annotation template for one alert (Prometheus' template expander, errors written into the text). */
export type TemplateExpander = (text: string, data: { labels: Labels; value: number; timeMs: number }) => Promise<string>;

export interface Alert {
  labels: Labels;
  annotations: Label[];
  state: AlertState;
  value: number;
  activeAtNs: bigint;
  firedAtNs?: bigint;
  resolvedAtNs?: bigint;
  lastSentAtNs?: bigint;
  validUntilNs?: bigint;
  keepFiringSinceNs?: bigint;
}

/** What Alertmanager is told of an alert (Prometheus' notifier.Alert). */
export interface AlertNotification {
  labels: Labels;
  annotations: Label[];
  startsAtNs: bigint;
  endsAtNs: bigint;
}

export interface AlertingRuleDef {
  name: string;
  /** The expression as Prometheus prints it (its AST's String()). */
  query: string;
  forNs: bigint;
  keepFiringForNs: bigint;
  /** Sorted by name; templates, an empty value (once expanded) removing the label. */
  labels: readonly Label[];
  annotations: Label[];
}

/** How a restart's alerts get their `for` state back (Prometheus' --rules.alert.for-outage-tolerance and for-grace-period). */
export interface RestoreOptions {
  outageToleranceNs: bigint;
  forGracePeriodNs: bigint;
  /** The last `ALERTS_FOR_STATE` sample of an alert's labels within the outage tolerance. */
  lookup: (labels: Labels, rangeNs: bigint) => Promise<LastSample | undefined>;
}

export class AlertingRule {
  readonly #active = new Map<bigint, Alert>();
  /** Until its `for` state is restored after a start, the rule writes no ALERTS series (as Prometheus). */
  #restored: boolean;

  constructor(
    readonly def: AlertingRuleDef,
    private readonly expand: TemplateExpander,
    opts: { restored: boolean } = { restored: true },
  ) {
    this.#restored = opts.restored;
  }

  /** Evaluates the rule at `tsNs` (its data read `queryOffsetNs` before), updates its alerts and returns the ALERTS and ALERTS_FOR_STATE samples. */
  async eval(tsNs: bigint, query: QueryFunc, opts: RuleEvalOptions): Promise<RuleSample[]> {
    const timeMs = Number((tsNs - opts.queryOffsetNs) / 1_000_000n);
    const result = await query(this.def.query, timeMs, opts);
    const current = new Map<bigint, Alert>();
    for (const s of result) {
      const data = { labels: s.labels, value: s.value, timeMs };
      let b = s.labels.withoutMetricName();
      for (const l of this.def.labels) {
        const v = await this.expand(l.value, data);
        b = v === '' ? b.without([l.name]) : b.with(l.name, v);
      }
      b = b.with(ALERT_NAME_LABEL, this.def.name);
      const annotations: Label[] = [];
      for (const a of this.def.annotations) annotations.push({ name: a.name, value: await this.expand(a.value, data) });
      const h = labelsHash(b);
      if (current.has(h)) throw new Error('vector contains metrics with the same labelset after applying alert labels');
      current.set(h, { labels: b, annotations, activeAtNs: tsNs, state: AlertState.PENDING, value: s.value });
    }
    for (const [h, a] of current) {
      const held = this.#active.get(h);
      if (held !== undefined && held.state !== AlertState.INACTIVE) {
        held.value = a.value;
        held.annotations = a.annotations;
      } else this.#active.set(h, a);
    }
    const out: RuleSample[] = [];
    let activeOrPending = 0;
    for (const [h, a] of this.#active) {
      if (!current.has(h)) {
        let keepFiring = false;
        if (a.state === AlertState.FIRING && this.def.keepFiringForNs > 0n) {
          a.keepFiringSinceNs ??= tsNs;
          keepFiring = tsNs - a.keepFiringSinceNs < this.def.keepFiringForNs;
        }
        // A pending alert that is gone is forgotten; a resolved one after its retention.
        if (a.state === AlertState.PENDING || (a.resolvedAtNs !== undefined && tsNs - a.resolvedAtNs > RESOLVED_RETENTION_NS)) this.#active.delete(h);
        if (a.state !== AlertState.INACTIVE && !keepFiring) {
          a.state = AlertState.INACTIVE;
          a.resolvedAtNs = tsNs;
        }
        if (!keepFiring) continue;
      } else delete a.keepFiringSinceNs;
      activeOrPending++;
      if (a.state === AlertState.PENDING && tsNs - a.activeAtNs >= this.def.forNs) {
        a.state = AlertState.FIRING;
        a.firedAtNs = tsNs;
      }
      if (!this.#restored) continue;
      out.push({ labels: a.labels.with(METRIC_NAME, ALERT_METRIC_NAME).with(ALERT_STATE_LABEL, ALERT_STATE_NAMES[a.state]), value: 1 });
      out.push({ labels: a.labels.with(METRIC_NAME, ALERT_FOR_STATE_METRIC_NAME), value: Number(a.activeAtNs / S) });
    }
    if (opts.limit > 0 && activeOrPending > opts.limit) {
      this.#active.clear();
      throw new Error(`exceeded limit of ${opts.limit} with ${activeOrPending} alerts`);
    }
    return out;
  }

  /**
   * Prometheus' RestoreForState: each active alert's activeAt taken back from the `ALERTS_FOR_STATE`
   * series written before a restart, moved on by the time the ruler was down (so that the alert still
   * waits its whole `for`, and at least the grace period, before it fires). Rules whose `for` is shorter
   * than the grace period start afresh.
   */
  async restoreForState(tsNs: bigint, opts: RestoreOptions): Promise<void> {
    const hold = this.def.forNs;
    try {
      if (hold < opts.forGracePeriodNs) return;
      for (const a of this.#active.values()) {
        if (a.state === AlertState.INACTIVE) continue;
        const last = await opts.lookup(a.labels, opts.outageToleranceNs);
        if (last === undefined) continue;
        // Prometheus reads both times to the second.
        const downAt = BigInt(Math.floor(last.timeMs / 1000)) * S;
        let activeAt = BigInt(Math.trunc(last.value)) * S;
        const remaining = hold - (downAt - activeAt);
        if (remaining > 0n) activeAt = remaining < opts.forGracePeriodNs ? tsNs + opts.forGracePeriodNs - hold : activeAt + (tsNs - downAt);
        a.activeAtNs = activeAt;
      }
    } finally {
      // Where the lookup failed, the alerts start afresh rather than never writing their series.
      this.#restored = true;
    }
  }

  /** Takes over the alerts of the same rule before a reload. */
  takeAlertsFrom(old: AlertingRule): void {
    for (const [h, a] of old.#active) this.#active.set(h, a);
  }

  /** Pending and firing alerts (Prometheus' ActiveAlerts), ordered by labels. */
  activeAlerts(): Alert[] {
    return [...this.#active.values()].filter((a) => a.state !== AlertState.INACTIVE).sort((a, b) => Labels.compare(a.labels, b.labels));
  }

  /** The most critical state among the rule's alerts. */
  state(): AlertState {
    let s: AlertState = AlertState.INACTIVE;
    for (const a of this.#active.values()) if (a.state > s) s = a.state;
    return s;
  }

  /**
   * The alerts due to be sent at `tsNs` (Prometheus' sendAlerts): firing ones not sent within
   * `resendDelayNs`, and resolved ones not sent since they were resolved; each valid for four
   * intervals (or resend delays), so that two missed evaluations or failed sends do not resolve it.
   */
  alertsToSend(tsNs: bigint, resendDelayNs: bigint, intervalNs: bigint): AlertNotification[] {
    const out: AlertNotification[] = [];
    const delta = intervalNs > resendDelayNs ? intervalNs : resendDelayNs;
    for (const a of this.#active.values()) {
      if (a.state === AlertState.PENDING) continue;
      const resolvedSinceSent = a.resolvedAtNs !== undefined && (a.lastSentAtNs === undefined || a.resolvedAtNs > a.lastSentAtNs);
      if (!resolvedSinceSent && a.lastSentAtNs !== undefined && a.lastSentAtNs + resendDelayNs >= tsNs) continue;
      a.lastSentAtNs = tsNs;
      a.validUntilNs = tsNs + 4n * delta;
      out.push({ labels: a.labels, annotations: a.annotations, startsAtNs: a.firedAtNs ?? a.activeAtNs, endsAtNs: a.resolvedAtNs ?? a.validUntilNs });
    }
    return out;
  }
}
