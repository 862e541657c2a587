// Scrape targets end to end: two Prometheus 2.42 replicas with the same scrape configs (a target up, one
// down, one dropped by relabelling), each with a sidecar serving Thanos' Targets API, and a querier
// deduplicating them on the replica label. /api/v1/targets must list what Prometheus' own lists, in its
// JSON, with the external labels but the replica label, each target once.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { start as startQuerier, type Querier } from '@strata/querier';
import { freePort, nopLogger } from '@strata/runtime';
import { start as startSidecar, type Sidecar } from '@strata/sidecar';
import { sleep, tempDir } from '@strata/testing/process';
import { startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Json = Record<string, unknown>;
interface Targets {
  activeTargets: Json[];
  droppedTargets: Json[];
}

let dir: { path: string; cleanup: () => Promise<void> };
let target: Server;
const replicas: PrometheusHandle[] = [];
const sidecars: Sidecar[] = [];
let querier: Querier;
let base: string;

async function targets(url: string, state?: string): Promise<Targets> {
  const body = (await (await fetch(`${url}/api/v1/targets${state === undefined ? '' : `?state=${state}`}`)).json()) as { data: Targets };
  return body.data;
}

beforeAll(async () => {
  dir = await tempDir('strata-targets-');
  target = createServer((_req, res) => res.end('up_metric 1\n'));
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  const up = `127.0.0.1:${(target.address() as AddressInfo).port}`;
  const down = `127.0.0.1:${await freePort()}`;
  const scrapeConfigs = [
    { job_name: 'app', scrape_interval: '1s', scrape_timeout: '1s', static_configs: [{ targets: [up, down, '127.0.0.1:1'] }], relabel_configs: [{ action: 'drop', source_labels: ['__address__'], regex: '127.0.0.1:1' }] },
  ];
  for (const replica of ['r0', 'r1']) {
    const home = join(dir.path, replica);
    const prom = await startPrometheus({ dir: home, dataDir: join(home, 'data'), externalLabels: { cluster: 'c1', replica }, blockDuration: '2h', scrapeConfigs });
    replicas.push(prom);
    sidecars.push(await startSidecar({ prometheusUrl: prom.url, tsdbPath: prom.dataDir, grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger }));
  }
  // Until both replicas have scraped both targets once (discovery takes Prometheus ~5 s).
  for (const prom of replicas) {
    for (let i = 0; i < 300; i++) {
      const t = await targets(prom.url);
      if (t.activeTargets.length === 2 && t.activeTargets.every((a) => a.health !== 'unknown')) break;
      await sleep(100);
    }
  }
  querier = await startQuerier({ httpAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0', endpoints: sidecars.map((s) => s.grpcAddress), replicaLabels: ['replica'], logger: nopLogger });
  base = `http://${querier.httpAddress}`;
}, 90_000);

afterAll(async () => {
  await querier?.stop();
  for (const s of sidecars) await s.stop();
  for (const p of replicas) await p.stop();
  await new Promise((resolve) => target?.close(resolve));
  await dir?.cleanup();
});

/** What changes from scrape to scrape, replaced by its shape. */
function stable(t: Json): Json {
  const time = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/.test(t.lastScrape as string);
  return { ...t, lastScrape: time ? 'time' : t.lastScrape, lastScrapeDuration: typeof t.lastScrapeDuration === 'number' ? 'seconds' : t.lastScrapeDuration };
}

const withCluster = (o: unknown) => ({ ...(o as Json), cluster: 'c1' });

describe('/api/v1/targets through the sidecars', () => {
  it('lists each target once as Prometheus does, external labels on and the replica label off', async () => {
    const want = await targets(replicas[0]?.url as string);
    const got = await targets(base);
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
    expect((await targets(base, 'dropped')).activeTargets).toEqual([]);
    expect((await targets(base, 'dropped')).droppedTargets).toHaveLength(1);
    expect((await targets(base, 'ACTIVE')).droppedTargets).toEqual([]);
    expect((await targets(base, 'ACTIVE')).activeTargets).toHaveLength(2);
    expect(await targets(base, 'bogus')).toEqual(await targets(replicas[0]?.url as string, 'bogus'));
  });
});
