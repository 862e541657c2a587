// The shared StoreAPI acceptance suite against the sidecar: the fixture is backfilled into blocks with
// promtool, served by Prometheus 2.42, read through the sidecar.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promtool, startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';
import { tempDir } from '@strata/testing/process';
import { nopLogger } from '@strata/runtime';
import { acceptanceFixture, fixtureOpenMetrics, StoreClient, storeAcceptanceCases } from '@strata/storeapi';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { start, type Sidecar } from './index.js';

// Three hours ago, so the data spans two 2h-aligned blocks and none of it is in the head.
const fixture = acceptanceFixture(Date.now() - 3 * 3_600_000, { extLabels: { cluster: 'acceptance', replica: 'r0' } });

let dir: { path: string; cleanup: () => Promise<void> };
let prom: PrometheusHandle;
let sidecar: Sidecar;
let client: StoreClient;

beforeAll(async () => {
  dir = await tempDir('strata-sidecar-acceptance-');
  const data = join(dir.path, 'data');
  await mkdir(join(data, 'wal'), { recursive: true });
  await writeFile(join(dir.path, 'fixture.om'), fixtureOpenMetrics(fixture));
  await promtool(['tsdb', 'create-blocks-from', 'openmetrics', join(dir.path, 'fixture.om'), data]);
  prom = await startPrometheus({ dir: dir.path, dataDir: data, externalLabels: fixture.extLabels });
  sidecar = await start({ prometheusUrl: prom.url, tsdbPath: data, grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger });
  client = new StoreClient(sidecar.grpcAddress);
}, 120_000);

afterAll(async () => {
  client?.close();
  await sidecar?.stop();
  await prom?.stop();
  await dir?.cleanup();
});

describe('StoreAPI acceptance: sidecar', () => {
  for (const c of storeAcceptanceCases(fixture)) it(c.name, () => c.run(client));
});
