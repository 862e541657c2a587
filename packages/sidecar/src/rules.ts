import { AlertState, parseGoTime, type AlertInstance, type Rule, type RuleGroup } from '@strata/storeapi';
import { Labels, type Label } from '@strata/tsdb';

/** Prometheus' /api/v1/rules `data`, as its API writes it. */
export interface PrometheusRules {
  groups: {
    name: string;
    file: string;
    rules: PrometheusRule[];
    interval: number;
    limit?: number;
    evaluationTime: number;
    lastEvaluation: string;
  }[];
}

type PrometheusRule = {
  type: 'recording' | 'alerting';
  name: string;
  query: string;
  labels?: Record<string, string>;
  health: string;
  lastError?: string;
  evaluationTime: number;
  lastEvaluation: string;
  state?: string;
  duration?: number;
  keepFiringFor?: number;
  annotations?: Record<string, string>;
  alerts?: { labels: Record<string, string>; annotations: Record<string, string>; state: string; activeAt?: string; value: string }[];
};

/** A label set of Prometheus' JSON, sorted. */
export function plain(ls: Record<string, string> | undefined): Label[] {
  return [...Labels.from(ls ?? {}).toArray()];
}

const STATES: Record<string, AlertState> = { inactive: AlertState.INACTIVE, pending: AlertState.PENDING, firing: AlertState.FIRING };

/** A sorted label set with the external labels added (winning over its own of the same name). */
export type WithExternal = (labels: readonly Label[]) => Label[];

/**
 * Prometheus' rule groups as Thanos' sidecar serves them (rulespb from Prometheus' JSON): the labels of
 * every rule and alert extended by the external labels (enrichRulesWithExtLabels).
 */
export function rulesFromPrometheus(data: PrometheusRules, withExternal: WithExternal): RuleGroup[] {
  const extend = (ls: Record<string, string> | undefined): Label[] => withExternal(plain(ls));
  const state = (s: string | undefined): AlertState => {
    const v = STATES[s ?? ''];
    if (v === undefined) throw new Error(`Prometheus /api/v1/rules: unknown alert state ${JSON.stringify(s)}`);
    return v;
  };
  const rule = (r: PrometheusRule): Rule => {
    const common = { name: r.name, query: r.query, labels: extend(r.labels), health: r.health, lastError: r.lastError ?? '', evaluationDurationSeconds: r.evaluationTime, lastEvaluation: parseGoTime(r.lastEvaluation) };
    if (r.type === 'recording') return { recording: common };
    if (r.type !== 'alerting') throw new Error(`Prometheus /api/v1/rules: unknown rule type ${JSON.stringify(r.type)}`);
    const alerts = (r.alerts ?? []).map(
      (a): AlertInstance => ({ labels: extend(a.labels), annotations: plain(a.annotations), state: state(a.state), ...(a.activeAt !== undefined ? { activeAt: parseGoTime(a.activeAt) } : {}), value: a.value }),
    );
    return { alert: { ...common, state: state(r.state), durationSeconds: r.duration ?? 0, keepFiringForSeconds: r.keepFiringFor ?? 0, annotations: plain(r.annotations), alerts } };
  };
  return data.groups.map((g) => ({
    name: g.name,
    file: g.file,
    rules: g.rules.map(rule),
    interval: g.interval,
    evaluationDurationSeconds: g.evaluationTime,
    lastEvaluation: parseGoTime(g.lastEvaluation),
    limit: g.limit ?? 0,
  }));
}
