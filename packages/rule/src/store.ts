/**
 * What the ruler serves over gRPC, as Thanos' ruler: Info (component `rule`, its external labels) and
 * the Rules API, so that a querier given the ruler as an endpoint lists its rules and alerts in
 * `/api/v1/rules` and `/api/v1/alerts`; and the StoreAPI of its local TSDB where it keeps one. A
 * stateless ruler (its results remote-written) advertises no StoreAPI and answers series and label
 * calls with nothing.
 */
import type { CallContext, InfoResponse, LabelNamesRequest, LabelNamesResponse, LabelValuesRequest, LabelValuesResponse, RuleGroup, RulesRequest, SeriesFrame, SeriesRequest, StoreServer } from '@strata/storeapi';
import type { Labels } from '@strata/tsdb';
import { rulesOfType } from './api.js';

export class RulerStore implements StoreServer {
  constructor(
    private readonly externalLabels: Labels,
    private readonly groups: () => RuleGroup[],
    private readonly data?: StoreServer,
  ) {}

  async info(ctx: CallContext): Promise<InfoResponse> {
    if (this.data !== undefined) return { ...(await this.data.info(ctx)), componentType: 'rule', rules: true };
    return { labelSets: [[...this.externalLabels.toArray()]], componentType: 'rule', rules: true };
  }

  async *series(req: SeriesRequest, ctx: CallContext): AsyncIterable<SeriesFrame> {
    if (this.data !== undefined) yield* this.data.series(req, ctx);
  }

  async labelNames(req: LabelNamesRequest, ctx: CallContext): Promise<LabelNamesResponse> {
    return this.data !== undefined ? this.data.labelNames(req, ctx) : { names: [], warnings: [] };
  }

  async labelValues(req: LabelValuesRequest, ctx: CallContext): Promise<LabelValuesResponse> {
    return this.data !== undefined ? this.data.labelValues(req, ctx) : { values: [], warnings: [] };
  }

  async rules(req: RulesRequest, _ctx: CallContext): Promise<{ groups: RuleGroup[]; warnings: string[] }> {
    return { groups: rulesOfType(this.groups(), req.type), warnings: [] };
  }
}
