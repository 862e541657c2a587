/**
 * `pnpm bench remoteread [--series=N] [--hours=H] [--rounds=N]`
 *
 * Prometheus' remote read (POST /api/v1/read) served by `strata query` over a store gateway, against
 * Prometheus 2.42 serving the same blocks from local disk, in the same run: samples/s of one read of
 * every series over the whole range, streamed (STREAMED_XOR_CHUNKS) and not (SAMPLES), with the CPU a
 * read costs the serving processes. The data: N series × H hours at 15s, backfilled by promtool in 2h
 * blocks, which Prometheus serves from its data directory and the store gateway from a filesystem
 * bucket. Both are read with the same client, which decodes every frame (streamed: series and chunk
 * objects, samples counted from chunk headers; SAMPLES: every sample). The first read of each case
 * checks that both answers hold the same series and samples; 5 untimed rounds follow, then the timed
 * ones, alternating which side goes first. Reported: the median and best of each side and the median of
 * the ratios of Strata's samples/s to Prometheus' next to it. No target: Thanos has no remote read; the
 * querier merges the blocks' chunks (and replicas) and encodes them again, where Prometheus sends the
 * chunks it stored.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { newBucket, parseBucketConfig } from '../packages/objstore/src/index.js';
import { readFrames } from '../packages/sidecar/src/index.js';
import { decodeChunkedReadResponse, decodeReadResponse, encodeReadRequest, MatcherType, ResponseType } from '../packages/storeapi/src/index.js';
import { uploadBlock } from '../packages/block/src/index.js';
import { isULID, parseMeta } from '../packages/tsdb/src/index.js';
import { pidWithArgument, processCpuMs, tempDir, withDescendants } from '../test/harness/process.js';
import { promtoolDataDir, syntheticOpenMetrics } from '../test/harness/openmetrics.js';
import { startPrometheus } from '../test/harness/prometheus.js';
import { startComponent } from './components.js';
import { median } from './stats.js';

const STEP_S = 15;
const WARM_UP_ROUNDS = 5;

interface Read {
  series: number;
  samples: number;
  seconds: number;
  /** CPU ms the read cost the serving processes. */
  cpuMs: number;
}

/** One remote read of every series from `base`, decoded; `pids`: the processes serving it. */
async function read(base: string, type: ResponseType, startMs: number, endMs: number, pids: readonly (number | undefined)[]): Promise<Read> {
  const cpu = (): number => pids.reduce<number>((sum, pid) => sum + (processCpuMs(pid) ?? 0), 0);
  const before = cpu();
  const t0 = performance.now();
  const res = await fetch(`${base}/api/v1/read`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
    body: encodeReadRequest({ startMs, endMs, matchers: [{ type: MatcherType.EQ, name: '__name__', value: 'bench_value' }] }, [type]),
  });
  if (res.status !== 200) throw new Error(`${base}: remote read ${res.status}: ${await res.text()}`);
  const series = new Set<string>();
  let samples = 0;
  if (type === ResponseType.STREAMED_XOR_CHUNKS) {
    for await (const frame of readFrames(res.body as AsyncIterable<Uint8Array>)) {
      for (const s of decodeChunkedReadResponse(frame)) {
        series.add(JSON.stringify(s.labels));
        // Samples in a chunk: the BE16 count that opens every XOR chunk.
        for (const c of s.chunks) samples += ((c.data[0] as number) << 8) | (c.data[1] as number);
      }
    }
  } else {
    for (const s of decodeReadResponse(new Uint8Array(await res.arrayBuffer()))) {
      series.add(JSON.stringify(s.labels));
      samples += s.timestamps.length;
    }
  }
  return { series: series.size, samples, seconds: (performance.now() - t0) / 1000, cpuMs: cpu() - before };
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { series: { type: 'string', default: '500' }, hours: { type: 'string', default: '24' }, rounds: { type: 'string', default: '10' } } });
  const seriesCount = Number(values.series);
  const hours = Number(values.hours);
  const rounds = Number(values.rounds);
  const dir = await tempDir('strata-bench-remoteread-');
  const endS = Math.floor(Date.now() / 1000 / 3600) * 3600 - 3600;
  process.stderr.write(`backfilling ${seriesCount} series × ${hours}h at ${STEP_S}s in 2h blocks with promtool…\n`);
  // Values with two decimals that wander: realistic XOR chunk sizes.
  const series = Array.from({ length: seriesCount }, (_, s) => ({
    labels: `job="job${s % 10}",instance="host${s}:9100"`,
    value: (i: number) => Math.round((s * 10 + 40 * Math.sin(i * 0.003 + s) + 3 * Math.sin(i * 0.37 + s)) * 100) / 100,
  }));
  const data = await promtoolDataDir(dir.path, syntheticOpenMetrics({ bench_value: series }, { start: (endS - hours * 3600 + STEP_S) * 1000, end: endS * 1000, step: STEP_S * 1000 }));
  await mkdir(join(data, 'wal'), { recursive: true });
  const bucketYaml = `type: FILESYSTEM\nconfig:\n  directory: ${join(dir.path, 'bucket')}\n`;
  const bucket = newBucket(parseBucketConfig(bucketYaml));
  for (const ulid of (await readdir(data)).filter(isULID)) {
    const meta = parseMeta(await readFile(join(data, ulid, 'meta.json'), 'utf8'));
    await uploadBlock(bucket, join(data, ulid), { meta: { ...meta, thanos: { labels: { cluster: 'bench' }, downsample: { resolution: 0 }, source: 'bucket.upload' } } });
  }
  await bucket.close();
  await writeFile(join(dir.path, 'bucket.yml'), bucketYaml);

  const prom = await startPrometheus({ dir: dir.path, dataDir: data });
  const store = await startComponent(dir.path, 'store', ['store', `--objstore.config-file=${join(dir.path, 'bucket.yml')}`, `--data-dir=${join(dir.path, 'store')}`, '--log.level=warn'], true);
  const query = await startComponent(dir.path, 'query', ['query', `--endpoint=${store.grpc}`, '--log.level=warn'], false);
  try {
    const startMs = (endS - hours * 3600) * 1000;
    const endMs = endS * 1000;
    const promPid = [pidWithArgument(`--storage.tsdb.path=${data}`)];
    // The querier's launcher and the Node process it starts (with its young generation), and the store gateway.
    const strataPids = [...withDescendants(query.proc.child.pid), store.proc.child.pid];
    const querier = `http://${query.http}`;
    process.stdout.write(`\nremote read benchmark: ${seriesCount} series × ${hours}h at ${STEP_S}s (2h blocks), ${rounds} rounds after ${WARM_UP_ROUNDS} untimed\n`);
    process.stdout.write(`${'case'.padEnd(22)}${'Prometheus M samples/s'.padStart(26)}${'Strata M samples/s'.padStart(22)}${'ratio'.padStart(8)}${'CPU ms: Prometheus'.padStart(21)}${'Strata'.padStart(9)}\n`);
    for (const [name, type] of [['streamed chunks', ResponseType.STREAMED_XOR_CHUNKS], ['samples', ResponseType.SAMPLES]] as const) {
      const [theirs, ours] = [await read(prom.url, type, startMs, endMs, promPid), await read(querier, type, startMs, endMs, strataPids)];
      if (theirs.series !== ours.series || theirs.samples !== ours.samples) {
        throw new Error(`${name}: Strata read ${ours.series} series and ${ours.samples} samples, Prometheus ${theirs.series} and ${theirs.samples}`);
      }
      const timed: { prom: Read[]; strata: Read[] } = { prom: [], strata: [] };
      for (let r = 0; r < WARM_UP_ROUNDS + rounds; r++) {
        const pair = r % 2 === 0
          ? [await read(prom.url, type, startMs, endMs, promPid), await read(querier, type, startMs, endMs, strataPids)]
          : [await read(querier, type, startMs, endMs, strataPids), await read(prom.url, type, startMs, endMs, promPid)].reverse();
        if (r < WARM_UP_ROUNDS) continue;
        timed.prom.push(pair[0] as Read);
        timed.strata.push(pair[1] as Read);
      }
      const rate = (x: Read) => x.samples / x.seconds / 1e6;
      const ratios = timed.strata.map((s, i) => rate(s) / rate(timed.prom[i] as Read));
      const cell = (xs: Read[]) => `${median(xs.map(rate)).toFixed(2)} (best ${Math.max(...xs.map(rate)).toFixed(2)})`;
      process.stdout.write(
        `${name.padEnd(22)}${cell(timed.prom).padStart(26)}${cell(timed.strata).padStart(22)}${median(ratios).toFixed(2).padStart(8)}` +
          `${median(timed.prom.map((x) => x.cpuMs)).toFixed(0).padStart(21)}${median(timed.strata.map((x) => x.cpuMs)).toFixed(0).padStart(9)}\n`,
      );
    }
    process.stdout.write(`(${seriesCount * Math.floor((hours * 3600) / STEP_S)} samples a read; CPU: Prometheus, and the querier with the store gateway)\n`);
  } finally {
    await query.proc.stop();
    await store.proc.stop();
    await prom.stop();
    await dir.cleanup();
  }
}

