/**
 * The reader of `pnpm bench store`'s Series throughput rounds, in a process of its own as a querier
 * is: `tsx bench/series-reader.ts '<json ReaderJob>'` runs the rounds against one store gateway and
 * prints one JSON ReaderRound per line. Apart from the bench process, its JIT and heap are not those
 * of the work done before (building and querying the 1,000-series dataset), which left the same
 * decoding code 3× slower there than in a fresh process.
 */
import { pathToFileURL } from 'node:url';
import { seriesRequest, StoreClient, type SeriesRequest, type SeriesResponse, type StoreSeries } from '../packages/storeapi/src/index.js';

/** What the reader process is asked to do. */
export interface ReaderJob {
  /** The store gateway's gRPC address, and its /metrics URL. */
  grpc: string;
  metricsUrl: string;
  request: Partial<SeriesRequest>;
  rounds: number;
}

export interface ReaderRound {
  ms: number;
  /** This process' CPU (the client's). */
  cpuMs: number;
  /** The store gateway's CPU over the round (its process_cpu_seconds_total). */
  storeCpuMs: number;
  series: number;
  chunks: number;
  requests: number;
  bytes: number;
  chunkBytes: number;
}

function metricSum(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** The series a frame carries, batched or not. */
export function frameSeries(f: SeriesResponse): StoreSeries[] {
  return 'series' in f ? [f.series] : 'batch' in f ? f.batch : [];
}

/** One Series call read to its end, with what it cost the store gateway (`metrics`: its /metrics text). */
export async function readRound(client: StoreClient, request: Partial<SeriesRequest>, metrics: () => Promise<string>): Promise<ReaderRound> {
  const m0 = await metrics();
  const t = performance.now();
  const cpu0 = process.cpuUsage();
  let series = 0;
  let chunks = 0;
  for await (const f of client.series(seriesRequest(request))) {
    for (const s of frameSeries(f)) {
      series++;
      chunks += s.chunks.length;
    }
  }
  const ms = performance.now() - t;
  const cpu = process.cpuUsage(cpu0);
  const m1 = await metrics();
  const delta = (name: string) => metricSum(m1, name) - metricSum(m0, name);
  return {
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    storeCpuMs: delta('process_cpu_seconds_total') * 1000,
    series,
    chunks,
    // The reader names no tenant: its calls are the default tenant's.
    requests: delta('strata_bucket_store_query_object_requests_sum\\{tenant="default-tenant"\\}'),
    bytes: delta('strata_bucket_store_query_object_bytes_fetched_sum\\{tenant="default-tenant"\\}'),
    chunkBytes: delta('strata_bucket_store_series_data_size_fetched_bytes_sum\\{data_type="chunks",tenant="default-tenant"\\}'),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const job = JSON.parse(process.argv[2] as string) as ReaderJob;
  const client = new StoreClient(job.grpc);
  const metrics = async () => (await fetch(job.metricsUrl)).text();
  try {
    for (let i = 0; i < job.rounds; i++) process.stdout.write(`${JSON.stringify(await readRound(client, job.request, metrics))}\n`);
  } finally {
    client.close();
  }
}
