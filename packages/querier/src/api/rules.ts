import { AlertState, formatGoTime, PartialResponseStrategy, rulesRequest, RulesType, type AlertInstance, type CallContext, type RuleGroup, type Rule } from '@strata/storeapi';
import { compareStrings, type Label } from '@strata/tsdb';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { handle, type ApiContext } from './context.js';
import { invalidParam } from './errors.js';
import { Params, SINGLE } from './params.js';
import { sendSuccess } from './respond.js';

const rulesSchema = { querystring: { type: 'object', properties: { type: SINGLE, partial_response: SINGLE } } } as const;
const alertsSchema = { querystring: { type: 'object', properties: { partial_response: SINGLE } } } as const;

/**
 * `/api/v1/rules` and `/api/v1/alerts` from the endpoints that serve Thanos' Rules API (sidecars: their
 * Prometheus' rules, external labels added), replicas deduplicated as Thanos' querier does, written as
 * Prometheus 2.42 writes them.
 */
export function rulesRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/api/v1/rules', { schema: rulesSchema }, (req, reply) =>
      handle(ctx, req, reply, async (call) => {
        const p = Params.from(req.query, req.body);
        // Prometheus lower-cases the type before checking it.
        const type = (p.get('type') ?? '').toLowerCase();
        if (type !== '' && type !== 'alert' && type !== 'record') throw invalidParam('type', `not supported value ${JSON.stringify(type)}`);
        const { groups, warnings } = await rulesFor(ctx, req, type === 'alert' ? RulesType.ALERT : type === 'record' ? RulesType.RECORD : RulesType.ALL, call);
        return sendSuccess(reply, rulesDataJson(groups), warnings);
      }),
    );
    app.get('/api/v1/alerts', { schema: alertsSchema }, (req: FastifyRequest, reply: FastifyReply) =>
      handle(ctx, req, reply, async (call) => {
        const { groups, warnings } = await rulesFor(ctx, req, RulesType.ALERT, call);
        return sendSuccess(reply, alertsDataJson(groups), warnings);
      }),
    );
  };
}

/** The endpoints' rule groups of `type`, deduplicated (Thanos' rules.GRPCClient). */
async function rulesFor(ctx: ApiContext, req: FastifyRequest, type: RulesType, call: CallContext): Promise<{ groups: RuleGroup[]; warnings: string[] }> {
  const p = Params.from(req.query, req.body);
  const partial = p.bool('partial_response', ctx.defaults.partialResponse);
  const res = await ctx.proxy.rules(rulesRequest({ type, partialResponseStrategy: partial ? PartialResponseStrategy.WARN : PartialResponseStrategy.ABORT }), call);
  const replicaLabels = new Set(ctx.defaults.replicaLabels);
  const groups = dedupGroups(res.groups);
  for (const g of groups) g.rules = dedupRules(g.rules, replicaLabels);
  return { groups, warnings: res.warnings };
}

// ---------------------------------------------------------------- deduplication, as Thanos' pkg/rules

/** Groups sorted by file and name, the rules of equal groups (one per replica) put together. */
export function dedupGroups(groups: readonly RuleGroup[]): RuleGroup[] {
  const key = (g: RuleGroup) => `${g.file};${g.name}`;
  const sorted = [...groups].sort((a, b) => compareStrings(key(a), key(b)));
  const out: RuleGroup[] = [];
  for (const g of sorted) {
    const last = out.at(-1);
    if (last !== undefined && key(last) === key(g)) last.rules = [...last.rules, ...g.rules];
    else out.push({ ...g, rules: [...g.rules] });
  }
  return out;
}

/**
 * Rules sorted (alerting first, then by name, labels, query and `for`), equal rules (once replica labels
 * are removed) kept once: the most critical alerting rule, else the one evaluated last.
 */
export function dedupRules(rules: readonly Rule[], replicaLabels: ReadonlySet<string>): Rule[] {
  const sorted = [...rules].sort(compareRules);
  const out: Rule[] = [];
  for (const r of sorted.map((x) => withoutLabels(x, replicaLabels))) {
    const last = out.at(-1);
    if (last === undefined || compareRules(last, r) !== 0) out.push(r);
    else if (preferred(r, last)) out[out.length - 1] = r;
  }
  return out;
}

function ruleOf(r: Rule): { name: string; query: string; labels: Label[] } {
  return 'alert' in r ? r.alert : r.recording;
}

/** Thanos' Rule.Compare. */
function compareRules(a: Rule, b: Rule): number {
  if ('alert' in a !== 'alert' in b) return 'alert' in a ? -1 : 1;
  const x = ruleOf(a);
  const y = ruleOf(b);
  return (
    compareStrings(x.name, y.name) ||
    compareLabels(x.labels, y.labels) ||
    compareStrings(x.query, y.query) ||
    ('alert' in a && 'alert' in b ? Math.sign(a.alert.durationSeconds - b.alert.durationSeconds) : 0)
  );
}

/** Prometheus' labels.Compare. */
export function compareLabels(a: readonly Label[], b: readonly Label[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = compareStrings((a[i] as Label).name, (b[i] as Label).name) || compareStrings((a[i] as Label).value, (b[i] as Label).value);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Whether equal rule `r` replaces `held`: a more critical alert, or (as critical) one evaluated later. */
function preferred(r: Rule, held: Rule): boolean {
  if ('alert' in r && 'alert' in held && r.alert.state !== held.alert.state) return r.alert.state > held.alert.state;
  const t = ('alert' in r ? r.alert : r.recording).lastEvaluation;
  const u = ('alert' in held ? held.alert : held.recording).lastEvaluation;
  return t.seconds > u.seconds || (t.seconds === u.seconds && t.nanos > u.nanos);
}

function withoutLabels(r: Rule, names: ReadonlySet<string>): Rule {
  if (names.size === 0) return r;
  const keep = (ls: Label[]) => ls.filter((l) => !names.has(l.name));
  return 'alert' in r ? { alert: { ...r.alert, labels: keep(r.alert.labels) } } : { recording: { ...r.recording, labels: keep(r.recording.labels) } };
}

// ---------------------------------------------------------------- JSON, as Prometheus 2.42's API writes it

const STATES: Record<AlertState, string> = { [AlertState.INACTIVE]: 'inactive', [AlertState.PENDING]: 'pending', [AlertState.FIRING]: 'firing' };

/** `/api/v1/rules`' data. */
export function rulesDataJson(groups: readonly RuleGroup[]): string {
  return `{"groups":[${groups.map(groupJson).join(',')}]}`;
}

/** `/api/v1/alerts`' data: the alerts of every alerting rule of `groups`. */
export function alertsDataJson(groups: readonly RuleGroup[]): string {
  const alerts = groups.flatMap((g) => g.rules.flatMap((r) => ('alert' in r ? r.alert.alerts : [])));
  return `{"alerts":[${alerts.map(alertJson).join(',')}]}`;
}

export function labelsObject(ls: readonly Label[]): string {
  return JSON.stringify(Object.fromEntries(ls.map((l) => [l.name, l.value])));
}

function groupJson(g: RuleGroup): string {
  return (
    `{"name":${JSON.stringify(g.name)},"file":${JSON.stringify(g.file)},"rules":[${g.rules.map(ruleJson).join(',')}],` +
    `"interval":${g.interval},"limit":${g.limit},"evaluationTime":${g.evaluationDurationSeconds},"lastEvaluation":"${formatGoTime(g.lastEvaluation)}"}`
  );
}

function ruleJson(rule: Rule): string {
  if ('recording' in rule) {
    const r = rule.recording;
    return (
      `{"name":${JSON.stringify(r.name)},"query":${JSON.stringify(r.query)},${r.labels.length > 0 ? `"labels":${labelsObject(r.labels)},` : ''}"health":${JSON.stringify(r.health)},` +
      `${r.lastError !== '' ? `"lastError":${JSON.stringify(r.lastError)},` : ''}"evaluationTime":${r.evaluationDurationSeconds},"lastEvaluation":"${formatGoTime(r.lastEvaluation)}","type":"recording"}`
    );
  }
  const a = rule.alert;
  return (
    `{"state":"${STATES[a.state]}","name":${JSON.stringify(a.name)},"query":${JSON.stringify(a.query)},"duration":${a.durationSeconds},"keepFiringFor":${a.keepFiringForSeconds},` +
    `"labels":${labelsObject(a.labels)},"annotations":${labelsObject(a.annotations)},"alerts":[${a.alerts.map(alertJson).join(',')}],"health":${JSON.stringify(a.health)},` +
    `${a.lastError !== '' ? `"lastError":${JSON.stringify(a.lastError)},` : ''}"evaluationTime":${a.evaluationDurationSeconds},"lastEvaluation":"${formatGoTime(a.lastEvaluation)}","type":"alerting"}`
  );
}

function alertJson(a: AlertInstance): string {
  return (
    `{"labels":${labelsObject(a.labels)},"annotations":${labelsObject(a.annotations)},"state":"${STATES[a.state]}",` +
    `${a.activeAt !== undefined ? `"activeAt":"${formatGoTime(a.activeAt)}",` : ''}"value":${JSON.stringify(a.value)}}`
  );
}
