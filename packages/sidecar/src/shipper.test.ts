// The shipper against a real S3-protocol server (s3rver): blocks appear complete with meta.json last and
// byte-identical files; an object-store outage or a SIGKILL mid-upload leaves no visible partial block,
// and afterwards every block is shipped exactly once.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Bucket, InMemoryBucket, newBucket, parseBucketConfig, type UploadBody } from '@strata/objstore';
import { nopLogger } from '@strata/runtime';
import { acceptanceFixture, fixtureOpenMetrics } from '@strata/storeapi';
import { startFaultProxy, type FaultProxy } from '@strata/testing/faultproxy';
import { freePort, sleep, startProcess, tempDir, waitForHttp, type Managed } from '@strata/testing/process';
import { promtool, startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';
import { startS3rver, type S3Server } from '@strata/testing/s3';
import { ArraySampleIterator, BlockWriter, formatMeta, isULID, Labels, parseMeta, type BlockMeta } from '@strata/tsdb';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shipperMetrics } from './metrics.js';
import { readShipperState, Shipper, SHIPPER_META_FILENAME } from './shipper.js';
import { start } from './sidecar.js';

const EXT = { cluster: 'c1', replica: 'r0' };

let s3: S3Server;
/** Direct (not through a fault proxy) view of the bucket, for checks. */
let direct: Bucket;

beforeAll(async () => {
  s3 = await startS3rver();
  direct = newBucket(parseBucketConfig(s3.configYaml()), { registry: new Registry() });
}, 60_000);

afterAll(async () => {
  await s3?.stop();
});

async function bytes(bucket: Bucket, name: string): Promise<Buffer> {
  return Buffer.concat((await (await bucket.get(name)).toArray()) as Buffer[]);
}

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function localBlocks(dir: string): Promise<BlockMeta[]> {
  const ids = (await readdir(dir)).filter(isULID);
  const metas = await Promise.all(ids.map(async (id) => parseMeta(await readFile(join(dir, id, 'meta.json'), 'utf8'))));
  return metas.sort((a, b) => a.minTime - b.minTime);
}

/** The block is visible in the bucket with Thanos' meta.json and files byte-identical to the local ones. */
async function expectShipped(bucket: Bucket, dataDir: string, local: BlockMeta): Promise<void> {
  const id = local.ulid;
  const { thanos, ...rest } = parseMeta((await bytes(bucket, `${id}/meta.json`)).toString('utf8'));
  const { thanos: _none, ...localRest } = local;
  expect(rest).toEqual(localRest);
  expect(thanos).toMatchObject({ labels: EXT, source: 'sidecar', downsample: { resolution: 0 } });
  const chunkFiles = (await readdir(join(dataDir, id, 'chunks'))).sort();
  expect(thanos!.segment_files).toEqual(chunkFiles);
  const rels = [...chunkFiles.map((c) => `chunks/${c}`), 'index'];
  for (const rel of rels) {
    const want = await readFile(join(dataDir, id, rel));
    expect((await bytes(bucket, `${id}/${rel}`)).equals(want), `${id}/${rel} differs`).toBe(true);
    expect(thanos!.files!.find((f) => f.rel_path === rel)?.size_bytes).toBe(want.length);
  }
  expect(thanos!.files!.map((f) => f.rel_path)).toEqual([...rels, 'meta.json'].sort());
}

describe('sidecar shipping a live Prometheus', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let prom: PrometheusHandle;

  afterAll(async () => {
    await prom?.stop();
    await dir?.cleanup();
  });

  it('every finished block appears with Thanos meta.json and byte-identical files; one sync ships all', async () => {
    dir = await tempDir('strata-shipper-live-');
    prom = await startPrometheus({ dir: dir.path, externalLabels: EXT, scrapeInterval: '1s', blockDuration: '5s', scrapeSelf: true });
    const bucket = newBucket(parseBucketConfig(s3.configYaml({ prefix: '' })), { registry: new Registry() });
    // A long interval: the first sync runs at start, the test drives the next one.
    const sidecar = await start({
      prometheusUrl: prom.url,
      tsdbPath: prom.dataDir,
      bucket,
      grpcAddress: '127.0.0.1:0',
      httpAddress: '127.0.0.1:0',
      shipperIntervalMs: 3_600_000,
      logger: nopLogger,
    });
    try {
      await waitFor('three persisted blocks', async () => (await localBlocks(prom.dataDir)).length >= 3, 90_000);
      const blocks = await localBlocks(prom.dataDir);
      const res = await sidecar.shipper!.sync();
      expect(res.error).toBeUndefined();
      for (const b of blocks) await expectShipped(direct, prom.dataDir, b);
      const state = await readShipperState(prom.dataDir);
      expect(state?.uploaded.sort()).toEqual(expect.arrayContaining(blocks.map((b) => b.ulid)));
      // No staging leftovers, and Prometheus' own files untouched.
      expect(await readdir(join(prom.dataDir, 'thanos', 'upload'))).toEqual([]);
      const metrics = await (await fetch(`http://${sidecar.httpAddress}/metrics`)).text();
      expect(Number(/^strata_shipper_uploads_total (\d+)/m.exec(metrics)![1])).toBeGreaterThanOrEqual(blocks.length);
    } finally {
      await sidecar.stop();
    }
  });

  it('refuses to upload when Prometheus compacts locally, saying which flag to change', async () => {
    const d = await tempDir('strata-shipper-compacting-');
    const p = await startPrometheus({ dir: d.path, externalLabels: EXT, maxBlockDuration: '6h' });
    try {
      await expect(
        start({ prometheusUrl: p.url, tsdbPath: p.dataDir, bucket: direct, grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', logger: nopLogger }),
      ).rejects.toThrow(/--storage\.tsdb\.max-block-duration=2h .*--storage\.tsdb\.delay-compact-file\.path=/);
      // Unless told to ship anyway, as Thanos' --shipper.ignore-unequal-block-size.
      const anyway = await start({ prometheusUrl: p.url, tsdbPath: p.dataDir, bucket: direct, grpcAddress: '127.0.0.1:0', httpAddress: '127.0.0.1:0', ignoreUnequalBlockSize: true, logger: nopLogger });
      await anyway.stop();
    } finally {
      await p.stop();
      await d.cleanup();
    }
  });
});

/** Blocks made by promtool from the acceptance fixture (three 2h windows), plus decoys the shipper must skip. */
async function makeBlocks(dataDir: string): Promise<BlockMeta[]> {
  await mkdir(join(dataDir, 'wal'), { recursive: true });
  const om = join(dataDir, '..', 'fixture.om');
  await writeFile(om, fixtureOpenMetrics(acceptanceFixture(Date.now() - 5 * 3_600_000, { hours: 4 })));
  await promtool(['tsdb', 'create-blocks-from', 'openmetrics', om, dataDir]);
  const blocks = await localBlocks(dataDir);
  expect(blocks.length).toBeGreaterThanOrEqual(3);
  // Still being written by Prometheus: never shipped.
  await cp(join(dataDir, blocks[0]!.ulid), join(dataDir, `${blocks[0]!.ulid}.tmp-for-creation`), { recursive: true });
  return blocks;
}

/** A copy of `src` as a compacted (level 2) block with its own ULID. */
async function addCompactedBlock(dataDir: string, src: BlockMeta): Promise<BlockMeta> {
  const ulid = `${src.ulid.slice(0, 20)}ZZZZZZ`;
  await cp(join(dataDir, src.ulid), join(dataDir, ulid), { recursive: true });
  const meta: BlockMeta = { ...src, ulid, compaction: { ...src.compaction, level: 2 } };
  await writeFile(join(dataDir, ulid, 'meta.json'), formatMeta(meta));
  return meta;
}

function shipper(dataDir: string, bucket: Bucket, uploadCompacted = false, hashFiles = false, allowOutOfOrderUploads = false): Shipper {
  return new Shipper({ bucket, dir: dataDir, labels: () => Labels.from(EXT), uploadCompacted, hashFiles, allowOutOfOrderUploads, metrics: shipperMetrics(new Registry()), logger: nopLogger });
}

/** An in-memory bucket that refuses the uploads of the blocks named in `failing`. */
class RefusingBucket extends InMemoryBucket {
  readonly failing = new Set<string>();

  override async upload(name: string, body: UploadBody): Promise<void> {
    if (this.failing.has(name.slice(0, 26))) throw new Error(`upload of ${name} refused`);
    return super.upload(name, body);
  }
}

/** Counts meta.json PUTs per block seen by the proxy: "exactly once" means one each. */
function countMetaPuts(proxy: FaultProxy, onIndexPut?: (id: string) => void): Map<string, number> {
  const puts = new Map<string, number>();
  proxy.onRequest((r) => {
    if (r.method !== 'PUT') return;
    const m = /\/([0-9A-Z]{26})\/(meta\.json|index)(\?|$)/.exec(r.path);
    if (!m) return;
    if (m[2] === 'meta.json') puts.set(m[1]!, (puts.get(m[1]!) ?? 0) + 1);
    else onIndexPut?.(m[1]!);
  });
  return puts;
}

describe('shipper under failures', () => {
  it('object store down mid-upload: nothing partial visible, order kept, then each block shipped exactly once; restart resumes', async () => {
    const dir = await tempDir('strata-shipper-outage-');
    await s3.createBucket('outage');
    const proxy = await startFaultProxy(s3.endpoint);
    try {
      const dataDir = join(dir.path, 'data');
      const blocks = await makeBlocks(dataDir);
      const compacted = await addCompactedBlock(dataDir, blocks[0]!);
      const cfg = parseBucketConfig(s3.configYaml({ endpoint: proxy.endpoint }).replace(/bucket: .*/, 'bucket: outage'));
      const bucket = newBucket(cfg, { registry: new Registry(), retry: { maxAttempts: 1, initialBackoffMs: 10, maxBackoffMs: 10 } });
      const check = newBucket(parseBucketConfig(s3.configYaml().replace(/bucket: .*/, 'bucket: outage')), { registry: new Registry() });
      const victim = blocks[1]!.ulid;
      let cut = false;
      const puts = countMetaPuts(proxy, (id) => {
        if (id !== victim || cut) return;
        cut = true;
        proxy.setDown(true);
      });

      const first = await shipper(dataDir, bucket).sync();
      expect(first.error).toBeDefined();
      expect(first.uploaded).toEqual([blocks[0]!.ulid]);
      expect(await check.exists(`${blocks[0]!.ulid}/meta.json`)).toBe(true);
      // The victim's chunks may be there, but without meta.json the block does not exist; later blocks wait.
      expect(await check.exists(`${victim}/chunks/000001`)).toBe(true);
      expect(await check.exists(`${victim}/meta.json`)).toBe(false);
      for (const b of blocks.slice(2)) expect(await check.exists(`${b.ulid}/meta.json`)).toBe(false);

      proxy.setDown(false);
      const second = await shipper(dataDir, bucket).sync();
      expect(second.error).toBeUndefined();
      expect(second.uploaded).toEqual(blocks.slice(1).map((b) => b.ulid));
      for (const b of blocks) expect(puts.get(b.ulid), b.ulid).toBe(1);
      expect(puts.has(compacted.ulid)).toBe(false);
      expect([...puts.keys()].some((id) => !isULID(id))).toBe(false);

      // Restart: the state file says everything is done; without it the bucket does.
      expect((await shipper(dataDir, bucket).sync()).uploaded).toEqual([]);
      await rm(join(dataDir, SHIPPER_META_FILENAME));
      expect((await shipper(dataDir, bucket).sync()).uploaded).toEqual([]);
      expect((await readShipperState(dataDir))?.uploaded.sort()).toEqual(blocks.map((b) => b.ulid).sort());
      for (const b of blocks) expect(puts.get(b.ulid)).toBe(1);

      // Compacted blocks only on request, and never over blocks already shipped.
      const refused = await shipper(dataDir, bucket, true).sync();
      expect(refused.uploaded).toEqual([]);
      expect(refused.error?.message).toMatch(new RegExp(`compacted block ${compacted.ulid} .* overlaps block ${blocks[0]!.ulid}`));
      expect(await check.exists(`${compacted.ulid}/meta.json`)).toBe(false);
    } finally {
      await proxy.stop();
      await dir.cleanup();
    }
  });
});

describe('shipper and compacted blocks', () => {
  it('ships a compacted block with --shipper.upload-compacted when nothing in the bucket overlaps it', async () => {
    const dir = await tempDir('strata-shipper-compacted-');
    try {
      const src = join(dir.path, 'src');
      const blocks = await makeBlocks(src);
      const dataDir = join(dir.path, 'data');
      await mkdir(dataDir);
      const compacted = await addCompactedBlock(src, blocks[0]!);
      await cp(join(src, compacted.ulid), join(dataDir, compacted.ulid), { recursive: true });
      const bucket = new InMemoryBucket();
      expect((await shipper(dataDir, bucket).sync()).uploaded).toEqual([]);
      expect((await shipper(dataDir, bucket, true).sync()).uploaded).toEqual([compacted.ulid]);
      await expectShipped(bucket, dataDir, compacted);
    } finally {
      await dir.cleanup();
    }
  });

  it('records the SHA256 of each file it ships with --hash-func=SHA256', async () => {
    const dir = await tempDir('strata-shipper-hashes-');
    try {
      const dataDir = join(dir.path, 'data');
      const blocks = await makeBlocks(dataDir);
      const bucket = new InMemoryBucket();
      await shipper(dataDir, bucket, false, true).sync();
      for (const b of blocks) {
        const meta = parseMeta((await bytes(bucket, `${b.ulid}/meta.json`)).toString('utf8'));
        const files = (meta.thanos?.files ?? []).filter((f) => f.rel_path !== 'meta.json');
        expect(files.length).toBeGreaterThan(1);
        for (const f of files) expect(f.hash).toEqual({ hashFunc: 'SHA256', value: createHash('sha256').update(await bytes(bucket, `${b.ulid}/${f.rel_path}`)).digest('hex') });
      }
    } finally {
      await dir.cleanup();
    }
  });
});

describe('--shipper.allow-out-of-order-uploads', () => {
  it('ships the newer blocks past one that fails, and that one on a later sync; without it the failure holds them back', async () => {
    const dir = await tempDir('strata-shipper-ooo-');
    try {
      const dataDir = join(dir.path, 'data');
      const blocks = await makeBlocks(dataDir);
      const [oldest, ...newer] = blocks.map((b) => b.ulid);
      const bucket = new RefusingBucket();
      bucket.failing.add(oldest!);
      const inOrder = await shipper(dataDir, bucket).sync();
      expect([inOrder.uploaded, inOrder.error?.message]).toEqual([[], expect.stringContaining(`upload of ${oldest}/`)]);
      const outOfOrder = await shipper(dataDir, bucket, false, false, true).sync();
      expect([outOfOrder.uploaded, outOfOrder.error?.message]).toEqual([newer, expect.stringContaining(`upload of ${oldest}/`)]);
      expect(await bucket.exists(`${oldest}/meta.json`)).toBe(false);
      bucket.failing.clear();
      expect(await shipper(dataDir, bucket, false, false, true).sync()).toEqual({ uploaded: [oldest] });
      for (const b of blocks) await expectShipped(bucket, dataDir, b);
      expect((await readShipperState(dataDir))?.uploaded.sort()).toEqual(blocks.map((b) => b.ulid).sort());
    } finally {
      await dir.cleanup();
    }
  });

  it('ships a compacted block without checking the bucket for blocks it overlaps', async () => {
    const dir = await tempDir('strata-shipper-ooo-compacted-');
    try {
      const dataDir = join(dir.path, 'data');
      const blocks = await makeBlocks(dataDir);
      const bucket = new InMemoryBucket();
      await shipper(dataDir, bucket).sync();
      const compacted = await addCompactedBlock(dataDir, blocks[0]!);
      expect((await shipper(dataDir, bucket, true).sync()).error?.message).toMatch(/overlaps/);
      expect(await shipper(dataDir, bucket, true, false, true).sync()).toEqual({ uploaded: [compacted.ulid] });
      await expectShipped(bucket, dataDir, compacted);
    } finally {
      await dir.cleanup();
    }
  });
});

/** An in-memory bucket whose uploads of chunk files wait until the test releases them: those waiting at once are those the shipper uploads at once. */
class GatedBucket extends InMemoryBucket {
  readonly held: (() => void)[] = [];

  override async upload(name: string, body: UploadBody): Promise<void> {
    if (name.includes('/chunks/')) await new Promise<void>((resolve) => this.held.push(resolve));
    return super.upload(name, body);
  }
}

describe('shipper upload concurrency', () => {
  /**
   * Ships one block of `segments` chunk files with --shipper.upload-concurrency=`concurrency` and
   * returns how many of its chunk files were uploading at once, round by round: each round's uploads
   * are released together once `perRound` of them (fewer for the last) wait.
   */
  const rounds = async (concurrency: number | undefined, segments: number, perRound: number): Promise<number[]> => {
    const dir = await tempDir('strata-shipper-concurrency-');
    try {
      const w = await BlockWriter.create(dir.path, { chunkRange: 7_200_000 });
      await w.addSeries(Labels.from({ __name__: 'up' }), new ArraySampleIterator([0, 1000], [1, 1]));
      const { ulid } = await w.close();
      // More segment files: the shipper moves files, whatever they hold.
      for (let i = 2; i <= segments; i++) await cp(join(dir.path, ulid, 'chunks', '000001'), join(dir.path, ulid, 'chunks', String(i).padStart(6, '0')));
      const bucket = new GatedBucket();
      const s = new Shipper({
        bucket,
        dir: dir.path,
        labels: () => Labels.from(EXT),
        uploadCompacted: false,
        ...(concurrency !== undefined ? { uploadConcurrency: concurrency } : {}),
        metrics: shipperMetrics(new Registry()),
        logger: nopLogger,
      });
      const synced = s.sync();
      const seen: number[] = [];
      for (let left = segments; left > 0; ) {
        await waitFor(`${Math.min(perRound, left)} chunk files uploading`, async () => bucket.held.length >= Math.min(perRound, left), 10_000);
        const round = bucket.held.splice(0);
        seen.push(round.length);
        left -= round.length;
        for (const release of round) release();
      }
      const res = await synced;
      expect(res).toEqual({ uploaded: [ulid] });
      expect(await bucket.exists(`${ulid}/chunks/${String(segments).padStart(6, '0')}`)).toBe(true);
      return seen;
    } finally {
      await dir.cleanup();
    }
  };

  it('uploads up to --shipper.upload-concurrency files of a block at once', async () => {
    expect(await rounds(3, 7, 3)).toEqual([3, 3, 1]);
  });

  it('uploads them one at a time with 0, the default, as Thanos', async () => {
    expect(await rounds(0, 3, 1)).toEqual([1, 1, 1]);
    expect(await rounds(undefined, 3, 1)).toEqual([1, 1, 1]);
  });
});

describe('strata sidecar process', () => {
  const cli = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));

  beforeAll(() => {
    // The process runs the built CLI; make sure dist matches the sources.
    execFileSync('pnpm', ['exec', 'tsc', '-b', 'packages/cli'], { cwd: fileURLToPath(new URL('../../..', import.meta.url)), stdio: 'pipe' });
  }, 180_000);

  it('exits with a clear message when Prometheus has no external labels', async () => {
    const dir = await tempDir('strata-sidecar-cli-noext-');
    const prom = await startPrometheus({ dir: dir.path });
    try {
      const proc = startProcess(process.execPath, [cli, 'sidecar', `--prometheus.url=${prom.url}`, '--grpc-address=127.0.0.1:0', '--http-address=127.0.0.1:0'], {
        logFile: join(dir.path, 'sidecar.log'),
      });
      const code = await new Promise<number | null>((r) => proc.child.once('close', r));
      expect(code).toBe(1);
      expect(await readFile(proc.logFile, 'utf8')).toMatch(/strata: Prometheus at http:\/\/127\.0\.0\.1:\d+ has no external labels/);
    } finally {
      await prom.stop();
      await dir.cleanup();
    }
  });

  it('SIGKILL mid-upload, then restart: no partial block visible, every block shipped exactly once', async () => {
    const dir = await tempDir('strata-shipper-kill-');
    await s3.createBucket('killed');
    const proxy = await startFaultProxy(s3.endpoint);
    let prom: PrometheusHandle | undefined;
    try {
      const dataDir = join(dir.path, 'data');
      const blocks = await makeBlocks(dataDir);
      prom = await startPrometheus({ dir: dir.path, dataDir, externalLabels: EXT });
      // Prometheus may cut a head block of its own later; only the backfilled ones are checked.
      const objstore = join(dir.path, 'objstore.yml');
      await writeFile(objstore, s3.configYaml({ endpoint: proxy.endpoint }).replace(/bucket: .*/, 'bucket: killed'));
      const check = newBucket(parseBucketConfig(s3.configYaml().replace(/bucket: .*/, 'bucket: killed')), { registry: new Registry() });

      // `spawned` learns of the process before it is ready: it may ship blocks (and be killed) before its
      // readiness is seen, which `killed` then stands for.
      const run = async (n: number, spawned?: (proc: Managed) => void, killed?: Promise<void>) => {
        const http = `127.0.0.1:${await freePort()}`;
        const proc = startProcess(
          process.execPath,
          [cli, 'sidecar', `--prometheus.url=${prom!.url}`, `--tsdb.path=${dataDir}`, `--objstore.config-file=${objstore}`, '--grpc-address=127.0.0.1:0', `--http-address=${http}`, '--shipper.sync-interval=1s'],
          { logFile: join(dir.path, `sidecar-${n}.log`) },
        );
        spawned?.(proc);
        const ready = waitForHttp(`http://${http}/-/ready`, { proc });
        if (killed === undefined) await ready;
        else await Promise.race([ready.catch(() => killed), killed]);
        return proc;
      };

      const victim = blocks[1]!.ulid;
      let first: Awaited<ReturnType<typeof run>> | undefined;
      const killed = new Promise<void>((resolve) => {
        countMetaPuts(proxy, (id) => {
          if (id !== victim || first === undefined) return;
          first.child.kill('SIGKILL');
          proxy.setDown(true);
          resolve();
        });
      });
      // Known before it ships anything, so that the victim's upload is always seen and killed.
      first = await run(
        1,
        (proc) => {
          first = proc;
        },
        killed,
      );
      await killed;
      await new Promise((r) => first!.child.once('exit', r));
      expect(first.child.signalCode).toBe('SIGKILL');
      expect(await check.exists(`${blocks[0]!.ulid}/meta.json`)).toBe(true);
      expect(await check.exists(`${victim}/meta.json`)).toBe(false);

      proxy.setDown(false);
      const puts = countMetaPuts(proxy);
      const second = await run(2);
      try {
        for (const b of blocks) await waitFor(`block ${b.ulid} shipped`, () => check.exists(`${b.ulid}/meta.json`));
        for (const b of blocks) await expectShipped(check, dataDir, b);
        // The first process shipped blocks[0]; the restarted one must ship only the rest, each once.
        expect(puts.has(blocks[0]!.ulid)).toBe(false);
        for (const b of blocks.slice(1)) expect(puts.get(b.ulid), b.ulid).toBe(1);
      } finally {
        await second.stop();
      }
    } finally {
      await prom?.stop();
      await proxy.stop();
      await dir.cleanup();
    }
  });
});

describe('--shipper.meta-file-name', () => {
  it('keeps the state in the file named, and reads it from there', async () => {
    const dir = await tempDir('strata-shipper-metafile-');
    try {
      const w = await BlockWriter.create(dir.path, { chunkRange: 7_200_000 });
      await w.addSeries(Labels.from({ __name__: 'up' }), new ArraySampleIterator([0, 1000], [1, 1]));
      const { ulid } = await w.close();
      const shipper = (bucket: Bucket, metaFileName?: string) =>
        new Shipper({ bucket, dir: dir.path, labels: () => Labels.from(EXT), uploadCompacted: false, ...(metaFileName !== undefined ? { metaFileName } : {}), metrics: shipperMetrics(new Registry()), logger: nopLogger });
      expect((await shipper(new InMemoryBucket(), 'shipper-r0.json').sync()).uploaded).toEqual([ulid]);
      expect((await readShipperState(dir.path, 'shipper-r0.json'))?.uploaded).toEqual([ulid]);
      expect(await readShipperState(dir.path)).toBeUndefined();
      // The state file, not the (here empty) bucket, says the block went up; under the default name there is none.
      expect((await shipper(new InMemoryBucket(), 'shipper-r0.json').sync()).uploaded).toEqual([]);
      expect((await shipper(new InMemoryBucket()).sync()).uploaded).toEqual([ulid]);
    } finally {
      await dir.cleanup();
    }
  });
});
