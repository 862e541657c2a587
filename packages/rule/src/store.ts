/**
 * What the ruler serves over gRPC, as Thanos' stateless ruler: Info (component `rule`, its external
 * labels) and the Rules API, so that a querier given the ruler as an endpoint lists its rules and alerts
 * in `/api/v1/rules` and `/api/v1/alerts`. It holds no series (its results are remote-written), so it
 * advertises no StoreAPI and answers series and label calls with nothing.
 */
import type { CallContext, InfoResponse, LabelNamesResponse, LabelValuesResponse, RuleGroup, RulesRequest, SeriesFrame, StoreServer } from '@strata/storeapi';
import type { Labels } from '@strata/tsdb';
import { rulesOfType } from './api.js';

export class RulerStore implements StoreServer {
  constructor(
    private readonly externalLabels: Labels,
    private readonly groups: () => RuleGroup[],
  ) {}

  async info(): Promise<InfoResponse> {
    return { labelSets: [[...this.externalLabels.toArray()]], componentType: 'rule', rules: true };
  }

  async *series(): AsyncIterable<SeriesFrame> {}

  async labelNames(): Promise<LabelNamesResponse> {
    return { names: [], warnings: [] };
  }

  async labelValues(): Promise<LabelValuesResponse> {
    return { values: [], warnings: [] };
  }

  async rules(req: RulesRequest, _ctx: CallContext): Promise<{ groups: RuleGroup[]; warnings: string[] }> {
    return { groups: rulesOfType(this.groups(), req.type), warnings: [] };
  }
}
