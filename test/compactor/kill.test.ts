import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newBucket, parseBucketConfig, type Bucket } from '@strata/objstore';
import { AggrChunk, AGGR_TYPES, BlockReader, type BlockMeta } from '@strata/tsdb';
import { freePort, sleep, startProcess, tempDir, TSX_CHILD_ENV, waitForHttp, type Managed } from '@strata/testing/process';
import { startS3rver, type S3Server } from '@strata/testing/s3';
import { downloadAll, END, EXPECTED_C1, FIVE_MIN, layout, liveBlocks, ofStream, promtoolDump, replicaBlocks, T0, uploadAll } from './fixtures.js';
import { seededRandom } from '@strata/testing/random';

const root = fileURLToPath(new URL('../../', import.meta.url));
const KILLS = 6;


describe('strata compact killed with SIGKILL at random moments', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let s3: S3Server;
  const buckets: Bucket[] = [];

  const compact = (prefix: string, extra: string[], log: string): Managed =>
    startProcess(
      process.execPath,
      [
        '--import',
        'tsx',
        join(root, 'packages/cli/src/main.ts'),
        'compact',
        `--objstore.config-file=${join(work.path, `${prefix}.yml`)}`,
        `--data-dir=${join(work.path, `data-${prefix}`)}`,
        '--consistency-delay=0s',
        '--delete-delay=0s',
        '--deduplication.replica-label=replica',
        '--deduplication.func=penalty',
        ...extra,
      ],
      { logFile: join(work.path, log), env: { ...process.env, ...TSX_CHILD_ENV } },
    );
  const exited = (p: Managed) => new Promise<number | null>((resolve) => (p.child.exitCode !== null || p.child.signalCode !== null ? resolve(p.child.exitCode) : p.child.once('exit', (code) => resolve(code))));

  beforeAll(async () => {
    work = await tempDir('strata-compact-kill-');
    s3 = await startS3rver();
    const r0 = await replicaBlocks(join(work.path, 'r0'), { offsetMs: 0 }, T0, END);
    const r1 = await replicaBlocks(join(work.path, 'r1'), { offsetMs: 7_000 }, T0, END);
    for (const prefix of ['calm', 'killed']) {
      const yaml = s3.configYaml({ prefix });
      await writeFile(join(work.path, `${prefix}.yml`), yaml);
      const b = newBucket(parseBucketConfig(yaml));
      buckets.push(b);
      await uploadAll(b, r0.blocksDir, { cluster: 'c1', replica: 'r0' });
      await uploadAll(b, r1.blocksDir, { cluster: 'c1', replica: 'r1' });
    }
  });

  afterAll(async () => {
    for (const b of buckets) await b.close();
    await s3?.stop();
    await work?.cleanup();
  });

  it('converges to exactly what an undisturbed run (with --wait) makes', async () => {
    const [calm, killed] = buckets as [Bucket, Bucket];

    // Undisturbed: --wait, until the second iteration has found nothing left to do.
    const port = await freePort();
    const waiting = compact('calm', ['--wait', '--wait-interval=1s', `--http-address=127.0.0.1:${port}`], 'calm.log');
    await waitForHttp(`http://127.0.0.1:${port}/-/ready`, { proc: waiting, timeoutMs: 60_000 });
    expect(await (await fetch(`http://127.0.0.1:${port}/-/healthy`)).text()).toBe('OK');
    for (;;) {
      const m = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      if (Number(/^strata_compact_iterations_total (\d+)/m.exec(m)?.[1] ?? 0) >= 2) {
        expect(m).toMatch(/^strata_compact_todo_compactions 0$/m);
        expect(m).toMatch(/^strata_compact_todo_downsample_blocks 0$/m);
        break;
      }
      await sleep(500);
    }
    await waiting.stop('SIGTERM');
    expect(waiting.child.exitCode).toBe(0);

    // Disturbed: killed again and again, then left to finish. Every other run is killed at a random
    // moment after it starts (startup included); the others once they are at work, a random moment
    // after their first compaction or downsampling began, so kills land mid-write however slow the
    // machine is.
    const seed = Date.now() % 1_000_000;
    const random = seededRandom(seed);
    let finishedEarly = false;
    for (let i = 0; i < KILLS && !finishedEarly; i++) {
      const log = join(work.path, `killed-${i}.log`);
      const p = compact('killed', ['--http-address=127.0.0.1:0'], `killed-${i}.log`);
      const moment = i % 2 === 0 ? untilWorking(log).then(() => sleep(random() * 1500)) : sleep(500 + random() * 6000);
      const code = await Promise.race([exited(p), moment.then(() => 'kill' as const)]);
      if (code === 'kill') {
        p.child.kill('SIGKILL');
        await exited(p);
      } else finishedEarly = true;
    }
    // The kills must have hit runs at work, not only starting processes.
    let interrupted = 0;
    for (let i = 0; i < KILLS; i++) {
      const log = await readFile(join(work.path, `killed-${i}.log`), 'utf8').catch(() => '');
      if (WORKING.test(log)) interrupted++;
    }
    expect(interrupted, `kill seed ${seed}`).toBeGreaterThan(0);
    const last = compact('killed', ['--http-address=127.0.0.1:0'], 'killed-final.log');
    expect(await exited(last), `kill seed ${seed}`).toBe(0);

    const [a, b] = [await liveBlocks(calm), await liveBlocks(killed)];
    expect(layout(ofStream(a, 'c1'))).toEqual(EXPECTED_C1);
    expect(layout(ofStream(b, 'c1')), `kill seed ${seed}`).toEqual(EXPECTED_C1);
    expect(layout(ofStream(b, 'c1', FIVE_MIN))).toEqual(layout(ofStream(a, 'c1', FIVE_MIN)));

    // The same samples: promtool's dump of every raw block, and every aggregate chunk byte for byte.
    const dumpA = await promtoolDump(await downloadAll(calm, ofStream(a, 'c1'), join(work.path, 'check-calm')));
    const dumpB = await promtoolDump(await downloadAll(killed, ofStream(b, 'c1'), join(work.path, 'check-killed')));
    expect(dumpB.size).toBeGreaterThan(0);
    expect(dumpB).toEqual(dumpA);
    expect(await aggregates(killed, ofStream(b, 'c1', FIVE_MIN), join(work.path, 'aggr-killed'))).toEqual(
      await aggregates(calm, ofStream(a, 'c1', FIVE_MIN), join(work.path, 'aggr-calm')),
    );
  }, 900_000);
});

const WORKING = /msg="compacting group"|msg="downsampled block"/;

/** Resolves once the run's log shows it compacting or downsampling. */
async function untilWorking(logFile: string): Promise<void> {
  for (;;) {
    const log = await readFile(logFile, 'utf8').catch(() => '');
    if (WORKING.test(log)) return;
    await sleep(50);
  }
}

/** Every series' aggregate sub-chunks, hex-encoded, per block in time order. */
async function aggregates(bucket: Bucket, metas: readonly BlockMeta[], dir: string): Promise<string[][]> {
  await downloadAll(bucket, metas, dir);
  const out: string[][] = [];
  for (const m of metas) {
    const r = await BlockReader.openDir(join(dir, m.ulid));
    const series: string[] = [];
    for await (const s of r.chunkSeries([])) {
      for (const c of s.chunks) {
        const a = c.chunk as AggrChunk;
        series.push(`${s.labels.toString()} ${c.minTime}-${c.maxTime} ${AGGR_TYPES.map((t) => Buffer.from(a.get(t)?.bytes ?? []).toString('hex')).join('/')}`);
      }
    }
    await r.close();
    out.push(series);
  }
  return out;
}
