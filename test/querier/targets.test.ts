// Scrape targets end to end: two Prometheus 2.42 replicas with the same scrape configs (a target up, one
// down, one dropped by relabelling), each with a sidecar serving Thanos' Targets API, and a querier
// deduplicating them on the replica label. /api/v1/targets must list what Prometheus' own lists, in its
// JSON, with the external labels but the replica label, each target once.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from '@strata/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replicaStack, stable, type ReplicaStack } from './replicas.js';

type Json = Record<string, unknown>;
interface Targets {
  activeTargets: Json[];
  droppedTargets: Json[];
}

let target: Server;
let stack: ReplicaStack;

async function targets(url: string, state?: string): Promise<Targets> {
  const body = (await (await fetch(`${url}/api/v1/targets${state === undefined ? '' : `?state=${state}`}`)).json()) as { data: Targets };
  return body.data;
}

beforeAll(async () => {
  target = createServer((_req, res) => res.end('up_metric 1\n'));
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  const up = `127.0.0.1:${(target.address() as AddressInfo).port}`;
  const down = `127.0.0.1:${await freePort()}`;
  const scrapeConfigs = [
    { job_name: 'app', scrape_interval: '1s', scrape_timeout: '1s', static_configs: [{ targets: [up, down, '127.0.0.1:1'] }], relabel_configs: [{ action: 'drop', source_labels: ['__address__'], regex: '127.0.0.1:1' }] },
  ];
  // Both targets scraped once.
  stack = await replicaStack(2, () => ({ scrapeConfigs }), async (prom) => {
    const t = await targets(prom.url);
    return t.activeTargets.length === 2 && t.activeTargets.every((a) => a.health !== 'unknown');
  });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await new Promise((resolve) => target?.close(resolve));
});

const withCluster = (o: unknown) => ({ ...(o as Json), cluster: 'c1' });

describe('/api/v1/targets through the sidecars', () => {
  it('lists each target once as Prometheus does, external labels on and the replica label off', async () => {
    const want = await targets(stack.replicas[0]?.url as string);
    const got = await targets(stack.url);
    expect(got.activeTargets.map(stable)).toEqual(
      [...want.activeTargets]
        .sort((a, b) => (a.scrapeUrl as string).localeCompare(b.scrapeUrl as string))
        .map((t) => stable({ ...t, discoveredLabels: withCluster(t.discoveredLabels), labels: withCluster(t.labels) })),
    );
    expect(got.droppedTargets).toEqual(want.droppedTargets.map((t) => ({ discoveredLabels: withCluster(t.discoveredLabels) })));
    expect(got.activeTargets.map((t) => t.health).sort()).toEqual(['down', 'up']);
    // Fields in Prometheus' order, the scrape interval and timeout included.
    expect(Object.keys(got.activeTargets[0] as Json)).toEqual(Object.keys(want.activeTargets[0] as Json));
  });

  it('filters by state as Prometheus does', async () => {
    expect((await targets(stack.url, 'dropped')).activeTargets).toEqual([]);
    expect((await targets(stack.url, 'dropped')).droppedTargets).toHaveLength(1);
    expect((await targets(stack.url, 'ACTIVE')).droppedTargets).toEqual([]);
    expect((await targets(stack.url, 'ACTIVE')).activeTargets).toHaveLength(2);
    expect(await targets(stack.url, 'bogus')).toEqual(await targets(stack.replicas[0]?.url as string, 'bogus'));
  });
});
