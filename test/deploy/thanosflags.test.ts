// Thanos' flags of the compactor's and the store gateway's web side, and the flags deployments set
// for memory and discovery, given to real processes: they start with them and serve as the flags say.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreClient } from '@strata/storeapi';
import { CLI_SOURCE, freePort, startProcess, tempDir, TSX_CHILD_ENV, waitForHttp, type Managed } from '@strata/testing/process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: { path: string; cleanup: () => Promise<void> };
let objstore: string;
const procs: Managed[] = [];

beforeAll(async () => {
  dir = await tempDir('strata-thanos-flags-');
  await mkdir(join(dir.path, 'bucket'));
  objstore = join(dir.path, 'objstore.yml');
  await writeFile(objstore, `type: FILESYSTEM\nconfig:\n  directory: ${join(dir.path, 'bucket')}\n`);
});

afterAll(async () => {
  for (const p of procs.reverse()) await p.stop();
  await dir?.cleanup();
});

/** Starts `strata <args>` on a free HTTP port; resolves with its base URL once /-/ready answers at the root. */
async function run(name: string, args: string[]): Promise<{ url: string; proc: Managed }> {
  const http = `127.0.0.1:${await freePort()}`;
  const proc = startProcess(process.execPath, ['--import', 'tsx', CLI_SOURCE, ...args, `--http-address=${http}`], { logFile: join(dir.path, `${name}.log`), env: { ...process.env, ...TSX_CHILD_ENV } });
  procs.push(proc);
  await waitForHttp(`http://${http}/-/ready`, { proc, timeoutMs: 60_000 });
  return { url: `http://${http}`, proc };
}

const status = async (url: string) => (await fetch(url)).status;

describe("Thanos' web and deployment flags", () => {
  it('compact: -w, the block viewer under --web.route-prefix or not at all, and the flags Thanos deployments set', async () => {
    const common = ['compact', '-w', `--objstore.config-file=${objstore}`, '--compact.skip-block-with-out-of-order-chunks', '--compact.progress-interval=0s', '--block-discovery-strategy=recursive', '--disable-admin-operations', '--enable-auto-gomemlimit', '--auto-gomemlimit.ratio=0.8'];
    const prefixed = await run('compact-prefixed', [...common, `--data-dir=${join(dir.path, 'compact-a')}`, '--web.route-prefix=/thanos', '--bucket-web-label=cluster']);
    // Probes at the root, as Thanos serves them, and under the prefix, as Prometheus does.
    for (const path of ['/-/ready', '/thanos/-/ready', '/metrics', '/thanos/metrics', '/thanos/blocks', '/thanos/api/v1/blocks']) expect(await status(prefixed.url + path), path).toBe(200);
    expect(await status(`${prefixed.url}/blocks`)).toBe(404);
    const log = await readFile(prefixed.proc.logFile, 'utf8');
    expect(log).toMatch(/msg="memory limit" source=(cgroup|system) .*ratio=0.8/);
    const disabled = await run('compact-no-web', [...common, `--data-dir=${join(dir.path, 'compact-b')}`, '--web.disable']);
    expect(await status(`${disabled.url}/-/ready`)).toBe(200);
    expect(await status(`${disabled.url}/blocks`)).toBe(404);
    expect(await status(`${disabled.url}/api/v1/blocks`)).toBe(404);
  }, 120_000);

  it('store: the block viewer under --web.external-prefix, titled by --bucket-web-label, and the index-header and postings flags', async () => {
    const store = await run('store', [
      'store',
      `--objstore.config-file=${objstore}`,
      `--data-dir=${join(dir.path, 'store')}`,
      `--grpc-address=127.0.0.1:${await freePort()}`,
      '--web.external-prefix=/store',
      '--bucket-web-label=cluster',
      '--no-cache-index-header',
      '--store.enable-lazy-expanded-postings',
      '--store.posting-group-max-key-series-ratio=50',
      '--store.index-header-lazy-download-strategy=lazy',
      '--matcher-cache-size=1000',
      '--block-discovery-strategy=concurrent',
      '--web.prefix-header=X-Forwarded-Prefix',
      '--web.disable-cors',
      '--grpc-server-tls-min-version=1.2',
    ]);
    for (const path of ['/-/ready', '/store/-/ready', '/store/loaded', '/store/blocks']) expect(await status(store.url + path), path).toBe(200);
    const loaded = (await (await fetch(`${store.url}/store/api/v1/blocks?view=loaded`)).json()) as { data: { label: string } };
    expect(loaded.data.label).toBe('cluster');
    expect(await readFile(store.proc.logFile, 'utf8')).toContain('--no-cache-index-header: Strata keeps index-headers in --data-dir all the same');
  }, 120_000);

  it('query: --selector-label in what it announces, --selector.relabel-config-file, --query.conn-metric.label and --query.promql-engine=thanos with --query.enable-x-functions', async () => {
    const rules = join(dir.path, 'selector.yml');
    await writeFile(rules, '- action: keep\n  source_labels: [cluster]\n  regex: a\n');
    const grpc = `127.0.0.1:${await freePort()}`;
    const unreachable = `127.0.0.1:${await freePort()}`;
    const { url, proc } = await run('query', [
      'query',
      `--grpc-address=${grpc}`,
      `--endpoint=${unreachable}`,
      '--selector-label=region="eu-1"',
      '--selector-label=zone=b',
      `--selector.relabel-config-file=${rules}`,
      '--query.conn-metric.label=store_type',
      '--alert.query-url=https://thanos.example.com',
      '--query.promql-engine=thanos',
      '--query.enable-x-functions',
    ]);
    const client = new StoreClient(grpc);
    try {
      expect((await client.info()).labelSets).toEqual([[{ name: 'region', value: 'eu-1' }, { name: 'zone', value: 'b' }]]);
    } finally {
      client.close();
    }
    expect(await (await fetch(`${url}/metrics`)).text()).toContain('strata_store_nodes_grpc_connections{state="unhealthy",store_type=""} 1');
    expect(await readFile(proc.logFile, 'utf8')).toContain("--query.promql-engine=thanos: Strata evaluates PromQL with its own engine, with Prometheus' semantics");
    expect(await (await fetch(`${url}/api/v1/query?query=xrate(up[1m])&time=1700000000`)).json()).toMatchObject({ status: 'success', data: { result: [] } });
  }, 90_000);

  it("query: --query.mode=distributed with --query.partition-label; --query.enable-x-functions without Thanos' engine by default", async () => {
    const { url, proc } = await run('query-distributed', [
      'query', `--grpc-address=127.0.0.1:${await freePort()}`, '--query.mode=distributed', '--query.partition-label=cluster', '--query.enable-x-functions',
    ]);
    // Thanos' x-functions come with its engine only: here for queries that ask for it.
    expect(await readFile(proc.logFile, 'utf8')).toContain('--query.enable-x-functions: the x-functions are offered to queries that ask for engine=thanos');
    expect(await (await fetch(`${url}/api/v1/query?query=xrate(up[1m])&time=1700000000`)).json()).toMatchObject({ status: 'error', errorType: 'bad_data' });
    expect(await (await fetch(`${url}/api/v1/query?query=xrate(up[1m])&time=1700000000&engine=thanos`)).json()).toMatchObject({ status: 'success' });
    // With no leaf to ask, a query is evaluated here, and counted so (the xrate above too).
    expect((await (await fetch(`${url}/api/v1/query?query=vector(1)&time=1700000000`)).json()) as unknown).toMatchObject({ status: 'success' });
    expect(await (await fetch(`${url}/metrics`)).text()).toContain('strata_query_distributed_queries_total{mode="local"} 2');
  }, 90_000);

  it('refuses values Thanos refuses', async () => {
    const refused = async (name: string, args: string[]) => {
      const proc = startProcess(process.execPath, ['--import', 'tsx', CLI_SOURCE, ...args, `--http-address=127.0.0.1:${await freePort()}`], { logFile: join(dir.path, `${name}.log`), env: { ...process.env, ...TSX_CHILD_ENV } });
      expect(await new Promise<number | null>((resolve) => proc.child.once('exit', resolve))).toBe(1);
      return readFile(proc.logFile, 'utf8');
    };
    expect(await refused('compact-bad', ['compact', `--objstore.config-file=${objstore}`, '--block-discovery-strategy=sideways'])).toContain('--block-discovery-strategy must be concurrent or recursive, not sideways');
    expect(await refused('query-bad', ['query', '--query.conn-metric.label=address'])).toContain('--query.conn-metric.label must be external_labels or store_type, not "address"');
    expect(await refused('query-engine', ['query', '--query.promql-engine=fast'])).toContain('--query.promql-engine must be prometheus or thanos, not fast');
    expect(await refused('query-mode', ['query', '--query.mode=global'])).toContain('--query.mode must be local or distributed, not global');
    expect(await refused('query-distributed-selector', ['query', '--query.mode=distributed', '--selector-label=region=eu'])).toContain('--query.mode=distributed does not combine with --selector.relabel-config or --selector-label');
  }, 60_000);
});
