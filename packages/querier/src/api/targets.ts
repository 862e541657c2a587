import { formatGoTime, PartialResponseStrategy, TargetHealth, targetsRequest, TargetsState, type ActiveTarget, type DroppedTarget } from '@strata/storeapi';
import { compareStrings, type Label } from '@strata/tsdb';
import type { FastifyPluginAsync } from 'fastify';
import { handle, type ApiContext } from './context.js';
import { Params, SINGLE } from './params.js';
import { sendSuccess } from './respond.js';
import { compareLabels, labelsObject } from './rules.js';

const targetsSchema = { querystring: { type: 'object', properties: { state: SINGLE, partial_response: SINGLE } } } as const;

const STATES: Record<string, TargetsState> = { '': TargetsState.ANY, any: TargetsState.ANY, active: TargetsState.ACTIVE, dropped: TargetsState.DROPPED };

/**
 * `/api/v1/targets` from the endpoints that serve Thanos' Targets API (sidecars: their Prometheus'
 * targets, external labels added), replicas deduplicated as Thanos' querier does, in Prometheus 2.42's
 * JSON. An unknown `state` lists nothing, as Prometheus answers it.
 */
export function targetsRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/api/v1/targets', { schema: targetsSchema }, (req, reply) =>
      handle(ctx, req, reply, async (call) => {
        const p = Params.from(req.query, req.body);
        const state = STATES[(p.get('state') ?? '').toLowerCase()];
        if (state === undefined) return sendSuccess(reply, '{"activeTargets":[],"droppedTargets":[]}');
        const partial = p.bool('partial_response', ctx.defaults.partialResponse);
        const res = await ctx.proxy.targets(targetsRequest({ state, partialResponseStrategy: partial ? PartialResponseStrategy.WARN : PartialResponseStrategy.ABORT }), call);
        const replicaLabels = new Set(ctx.defaults.replicaLabels);
        const active = dedupActive(res.targets.activeTargets, replicaLabels).map(activeJson);
        const dropped = dedupDropped(res.targets.droppedTargets, replicaLabels).map((t) => `{"discoveredLabels":${labelsObject(t.discoveredLabels)}}`);
        return sendSuccess(reply, `{"activeTargets":[${active.join(',')}],"droppedTargets":[${dropped.join(',')}]}`, res.warnings);
      }),
    );
  };
}

const without = (ls: readonly Label[], names: ReadonlySet<string>): Label[] => ls.filter((l) => !names.has(l.name));

/** Thanos' ActiveTarget.Compare: scrape URL, pool, discovered labels, labels. */
function compareActive(a: ActiveTarget, b: ActiveTarget): number {
  return compareStrings(a.scrapeUrl, b.scrapeUrl) || compareStrings(a.scrapePool, b.scrapePool) || compareLabels(a.discoveredLabels, b.discoveredLabels) || compareLabels(a.labels, b.labels);
}

/**
 * Active targets sorted, each kept once without the replica labels (Thanos' dedupActiveTargets): of
 * equal ones the one with the lowest health (down before up), else the one scraped last.
 */
export function dedupActive(targets: readonly ActiveTarget[], replicaLabels: ReadonlySet<string>): ActiveTarget[] {
  const out: ActiveTarget[] = [];
  for (const t of [...targets].sort(compareActive)) {
    const r = { ...t, discoveredLabels: without(t.discoveredLabels, replicaLabels), labels: without(t.labels, replicaLabels) };
    const last = out.at(-1);
    if (last === undefined || compareActive(last, r) !== 0) out.push(r);
    else if (r.health < last.health || (r.health === last.health && laterThan(r, last))) out[out.length - 1] = r;
  }
  return out;
}

function laterThan(a: ActiveTarget, b: ActiveTarget): boolean {
  return a.lastScrape.seconds > b.lastScrape.seconds || (a.lastScrape.seconds === b.lastScrape.seconds && a.lastScrape.nanos > b.lastScrape.nanos);
}

/** Dropped targets sorted by their discovered labels, each kept once without the replica labels. */
export function dedupDropped(targets: readonly DroppedTarget[], replicaLabels: ReadonlySet<string>): DroppedTarget[] {
  const out: DroppedTarget[] = [];
  for (const t of [...targets].sort((a, b) => compareLabels(a.discoveredLabels, b.discoveredLabels))) {
    const r = { discoveredLabels: without(t.discoveredLabels, replicaLabels) };
    const last = out.at(-1);
    if (last === undefined || compareLabels(last.discoveredLabels, r.discoveredLabels) !== 0) out.push(r);
  }
  return out;
}

const HEALTH: Record<TargetHealth, string> = { [TargetHealth.DOWN]: 'down', [TargetHealth.UP]: 'up', [TargetHealth.UNKNOWN]: 'unknown' };

/** As Prometheus 2.42 writes an active target; its scrape interval and timeout, which Thanos' messages lack, from its discovered labels as Prometheus reads them. */
function activeJson(t: ActiveTarget): string {
  const discovered = (name: string) => t.discoveredLabels.find((l) => l.name === name)?.value ?? '';
  return (
    `{"discoveredLabels":${labelsObject(t.discoveredLabels)},"labels":${labelsObject(t.labels)},"scrapePool":${JSON.stringify(t.scrapePool)},` +
    `"scrapeUrl":${JSON.stringify(t.scrapeUrl)},"globalUrl":${JSON.stringify(t.globalUrl)},"lastError":${JSON.stringify(t.lastError)},` +
    `"lastScrape":"${formatGoTime(t.lastScrape)}","lastScrapeDuration":${t.lastScrapeDuration},"health":"${HEALTH[t.health]}",` +
    `"scrapeInterval":${JSON.stringify(discovered('__scrape_interval__'))},"scrapeTimeout":${JSON.stringify(discovered('__scrape_timeout__'))}}`
  );
}
