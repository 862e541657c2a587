/**
 * The ruler's HTTP API, as Prometheus' and Thanos' ruler serve it: `/api/v1/rules` (with `type=alert`
 * or `record`) and `/api/v1/alerts` from the groups it runs, in Prometheus' JSON, and `POST /-/reload`
 * to read the rule files again.
 */
import { alertsDataJson, invalidParam, rulesDataJson, sendError, sendSuccess } from '@strata/querier';
import { RulesType, type RuleGroup } from '@strata/storeapi';
import type { FastifyPluginAsync } from 'fastify';

const rulesSchema = { querystring: { type: 'object', properties: { type: { type: 'string' } } } } as const;

export interface RuleApiSource {
  ruleGroups(): RuleGroup[];
  reload(): Promise<void>;
}

/** Groups with only the rules of `type` (every group kept, as Prometheus lists them). */
export function rulesOfType(groups: readonly RuleGroup[], type: RulesType): RuleGroup[] {
  if (type === RulesType.ALL) return [...groups];
  return groups.map((g) => ({ ...g, rules: g.rules.filter((r) => ('alert' in r) === (type === RulesType.ALERT)) }));
}

export function ruleApi(source: RuleApiSource): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: { type?: string } }>('/api/v1/rules', { schema: rulesSchema }, (req, reply) => {
      // Prometheus lower-cases the type before checking it.
      const type = (req.query.type ?? '').toLowerCase();
      if (type !== '' && type !== 'alert' && type !== 'record') return sendError(reply, invalidParam('type', `not supported value ${JSON.stringify(type)}`));
      return sendSuccess(reply, rulesDataJson(rulesOfType(source.ruleGroups(), type === 'alert' ? RulesType.ALERT : type === 'record' ? RulesType.RECORD : RulesType.ALL)));
    });
    app.get('/api/v1/alerts', (_req, reply) => sendSuccess(reply, alertsDataJson(source.ruleGroups())));
    app.post('/-/reload', async (_req, reply) => {
      try {
        await source.reload();
        return reply.type('text/plain').send('');
      } catch (err) {
        return reply.code(500).type('text/plain').send(`failed to reload config: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
  };
}

