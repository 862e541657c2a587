import { TargetHealth, parseGoTime, type TargetDiscovery } from '@strata/storeapi';
import { plain, type WithExternal } from './rules.js';

/** Prometheus' /api/v1/targets `data`, as its API writes it. */
export interface PrometheusTargets {
  activeTargets: {
    discoveredLabels: Record<string, string>;
    labels: Record<string, string>;
    scrapePool: string;
    scrapeUrl: string;
    globalUrl: string;
    lastError: string;
    lastScrape: string;
    lastScrapeDuration: number;
    health: string;
  }[];
  droppedTargets: { discoveredLabels: Record<string, string> }[];
}

const HEALTH: Record<string, TargetHealth> = { up: TargetHealth.UP, down: TargetHealth.DOWN, unknown: TargetHealth.UNKNOWN };

/** Prometheus' targets as Thanos' sidecar serves them: both label sets extended by the external labels (enrichTargetsWithExtLabels). */
export function targetsFromPrometheus(data: PrometheusTargets, withExternal: WithExternal): TargetDiscovery {
  return {
    activeTargets: data.activeTargets.map((t) => {
      const health = HEALTH[t.health];
      if (health === undefined) throw new Error(`Prometheus /api/v1/targets: unknown target health ${JSON.stringify(t.health)}`);
      return {
        discoveredLabels: withExternal(plain(t.discoveredLabels)),
        labels: withExternal(plain(t.labels)),
        scrapePool: t.scrapePool,
        scrapeUrl: t.scrapeUrl,
        globalUrl: t.globalUrl,
        lastError: t.lastError,
        lastScrape: parseGoTime(t.lastScrape),
        lastScrapeDuration: t.lastScrapeDuration,
        health,
      };
    }),
    droppedTargets: data.droppedTargets.map((t) => ({ discoveredLabels: withExternal(plain(t.discoveredLabels)) })),
  };
}
