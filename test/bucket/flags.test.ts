// Thanos' `tools bucket` flags that deployments and scripts pass, each doing what it does in Thanos:
// run through the commander wiring against a filesystem bucket.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Command } from 'commander';
import { DELETION_MARK_FILENAME, markBlock, NO_COMPACT_MARK_FILENAME, uploadBlock } from '@strata/block';
import { registerCommands } from '@strata/cli';
import { FilesystemBucket, type Bucket } from '@strata/objstore';
import { nopLogger } from '@strata/runtime';
import { formatMeta, parseMeta } from '@strata/tsdb';
import { startOtlpReceiver, type ReceivedSpan } from '@strata/testing/otlp';
import { tempDir } from '@strata/testing/process';
import { startReplicator, type ReplicateOptions } from '../../packages/cli/src/commands/bucket-replicate.js';
import { promtoolBlocks, syntheticBlock } from './fixtures.js';

const HOUR = 3_600_000;
let work: { path: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  work = await tempDir('strata-bucket-flags-');
});
afterAll(async () => {
  await work?.cleanup();
});

/** What `strata <args>` writes to stdout and stderr, run through the commander wiring. */
async function strata(args: string[]): Promise<{ out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const capture = (into: string[]) => (chunk: string | Uint8Array) => (into.push(chunk.toString()), true);
  const spyOut = vi.spyOn(process.stdout, 'write').mockImplementation(capture(out));
  const spyErr = vi.spyOn(process.stderr, 'write').mockImplementation(capture(err));
  try {
    const program = new Command('strata').exitOverride();
    registerCommands(program);
    await program.parseAsync(args, { from: 'user' });
  } finally {
    spyOut.mockRestore();
    spyErr.mockRestore();
  }
  return { out: out.join(''), err: err.join('') };
}

/** A filesystem bucket and the flag naming it. */
async function newBucket(name: string): Promise<{ bucket: Bucket; flag: string }> {
  const dir = join(work.path, name);
  return { bucket: new FilesystemBucket(dir), flag: `--objstore.config=type: FILESYSTEM\nconfig:\n  directory: ${dir}\n` };
}

/** Uploads a synthetic block with these labels, time range and compaction level; returns its ULID. */
async function addBlock(bucket: Bucket, labels: Record<string, string>, minTime: number, maxTime: number, level = 1): Promise<string> {
  const dir = await syntheticBlock(join(work.path, 'local'), { labels, minTime, maxTime, chunkBytes: 100 });
  const meta = parseMeta(await readFile(join(dir, 'meta.json'), 'utf8'));
  await writeFile(join(dir, 'meta.json'), formatMeta({ ...meta, compaction: { ...meta.compaction, level } }));
  return (await uploadBlock(bucket, dir)).ulid;
}

describe('--log.level and --log.format on every bucket subcommand', () => {
  it('logs progress as JSON with --log.format=json and filters it with --log.level', async () => {
    const { bucket, flag } = await newBucket('log');
    const id = await addBlock(bucket, { cluster: 'a' }, 0, 2 * HOUR);
    const json = await strata(['tools', 'bucket', 'mark', flag, `--id=${id}`, `--marker=${NO_COMPACT_MARK_FILENAME}`, '--details=x', '--log.format=json']);
    const line = JSON.parse(json.err.trim()) as Record<string, string>;
    expect(line).toMatchObject({ level: 'info', msg: `block ${id}: wrote ${id}/${NO_COMPACT_MARK_FILENAME}` });
    const quiet = await strata(['tools', 'bucket', 'mark', flag, `--id=${id}`, `--marker=${NO_COMPACT_MARK_FILENAME}`, '--details=x', '--log.level=warn']);
    expect(quiet.err).toBe('');
    // Every subcommand takes them.
    for (const sub of ['ls', 'inspect', 'verify', 'cleanup', 'upload-blocks', 'rewrite', 'replicate', 'web', 'downsample', 'retention']) {
      const help = new Command('strata');
      registerCommands(help);
      const cmd = help.commands.find((c) => c.name() === 'tools')?.commands.find((c) => c.name() === 'bucket')?.commands.find((c) => c.name() === sub);
      expect(cmd?.options.map((o) => o.long), sub).toEqual(expect.arrayContaining(['--log.level', '--log.format', '--tracing.config', '--tracing.config-file', '--enable-auto-gomemlimit', '--auto-gomemlimit.ratio']));
    }
  });
});

describe('--tracing.config and --enable-auto-gomemlimit on the bucket tools, as on every Thanos command', () => {
  it('traces a command as one span of strata-tools, with its error, and checks the memory limit', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const { bucket, flag } = await newBucket('traced');
      const id = await addBlock(bucket, { cluster: 'a' }, 0, 2 * HOUR);
      const tracing = `--tracing.config=type: OTLP\nconfig: {client_type: http, endpoint: "${receiver.http}", insecure: true}`;
      const ls = await strata(['tools', 'bucket', 'ls', flag, tracing, '--enable-auto-gomemlimit', '--auto-gomemlimit.ratio=0.5']);
      expect(ls.out).toContain(id);
      expect(ls.err).toMatch(/memory limit|may grow past/);
      await expect(strata(['tools', 'bucket', 'mark', flag, tracing, '--id=01JAAAAAAAAAAAAAAAAAAAAAAA', `--marker=${NO_COMPACT_MARK_FILENAME}`, '--details=x'])).rejects.toThrow();
      // The exporter has sent both by the time each command returns.
      const roots = receiver.spans.filter((s) => s.parentSpanId === '');
      expect(roots.map((s) => ({ service: s.service, name: s.name, status: s.statusCode }))).toEqual([
        { service: 'strata-tools', name: 'bucket ls', status: 0 },
        { service: 'strata-tools', name: 'bucket mark', status: 2 },
      ]);
      // Its bucket operations are spans under the command's, as Thanos traces its buckets.
      const lsSpan = roots[0] as ReceivedSpan;
      const operations = receiver.spans.filter((s) => s.parentSpanId === lsSpan.spanId);
      expect(new Set(operations.map((s) => s.name))).toEqual(new Set(['bucket_iter', 'bucket_get']));
      expect(operations.find((s) => s.name === 'bucket_get')?.attributes.name).toBe(`${id}/meta.json`);
    } finally {
      await receiver.stop();
    }
  });
});

describe('tools bucket ls', () => {
  it('--exclude-delete, --min-time/--max-time and --selector.relabel-config choose the blocks listed; --timeout bounds the read', async () => {
    const { bucket, flag } = await newBucket('ls');
    const a0 = await addBlock(bucket, { cluster: 'a' }, 0, 2 * HOUR);
    const a1 = await addBlock(bucket, { cluster: 'a' }, 2 * HOUR, 4 * HOUR);
    const b0 = await addBlock(bucket, { cluster: 'b' }, 4 * HOUR, 6 * HOUR);
    await markBlock(bucket, a1, DELETION_MARK_FILENAME, { details: 'test' });
    const ls = async (...args: string[]) => (await strata(['tools', 'bucket', 'ls', flag, '-o', 'json', ...args])).out.trim().split('\n').filter((l) => l !== '').map((l) => parseMeta(l).ulid);
    expect(await ls()).toEqual([a0, a1, b0]);
    expect(await ls('--exclude-delete')).toEqual([a0, b0]);
    // Blocks overlapping [3h, 5h]; RFC3339 and Unix seconds.
    expect(await ls(`--min-time=${new Date(3 * HOUR).toISOString()}`, `--max-time=${(5 * HOUR) / 1000}`)).toEqual([a1, b0]);
    // Relative times: all these blocks are of 1970, long before -1d.
    expect(await ls('--min-time=-1d')).toEqual([]);
    expect(await ls('--selector.relabel-config=- action: keep\n  source_labels: [cluster]\n  regex: a\n')).toEqual([a0, a1]);
    expect(await ls(`--selector.relabel-config=- action: drop\n  source_labels: [__block_id]\n  regex: ${a0}\n`, '--exclude-delete')).toEqual([b0]);
    await expect(strata(['tools', 'bucket', 'ls', flag, '--timeout=1ms'])).rejects.toThrow(/took longer than --timeout=1ms/);
  });
});

describe('tools bucket mark --remove', () => {
  it('removes the given marker, only that one, and warns where there is none', async () => {
    const { bucket, flag } = await newBucket('mark');
    const id = await addBlock(bucket, { cluster: 'a' }, 0, 2 * HOUR);
    await markBlock(bucket, id, DELETION_MARK_FILENAME, { details: 'oops' });
    await markBlock(bucket, id, NO_COMPACT_MARK_FILENAME, { details: 'keep' });
    await expect(strata(['tools', 'bucket', 'mark', flag, `--id=${id}`, `--marker=${DELETION_MARK_FILENAME}`])).rejects.toThrow(/--details is required/);
    const removed = await strata(['tools', 'bucket', 'mark', flag, `--id=${id}`, `--marker=${DELETION_MARK_FILENAME}`, '--remove']);
    expect(removed.err).toContain(`removed ${id}/${DELETION_MARK_FILENAME}`);
    expect(await bucket.exists(`${id}/${DELETION_MARK_FILENAME}`)).toBe(false);
    expect(await bucket.exists(`${id}/${NO_COMPACT_MARK_FILENAME}`)).toBe(true);
    expect(await bucket.exists(`${id}/meta.json`)).toBe(true);
    const again = await strata(['tools', 'bucket', 'mark', flag, `--id=${id}`, `--marker=${DELETION_MARK_FILENAME}`, '--remove']);
    expect(again.err).toMatch(/level=warn .*has no deletion-mark.json, nothing to remove/);
  });
});

describe('tools bucket inspect --output', () => {
  it('writes the table columns as CSV or TSV, quoting as Go does', async () => {
    const { bucket, flag } = await newBucket('inspect');
    const id = await addBlock(bucket, { cluster: 'a', replica: 'r0' }, 0, 2 * HOUR);
    const csv = (await strata(['tools', 'bucket', 'inspect', flag, '--output=csv', '--selector=cluster="a"', '-l', 'replica=r0'])).out.trim().split('\n');
    expect(csv[0]).toBe('ULID,FROM,UNTIL,RANGE,SERIES,SAMPLES,CHUNKS,LEVEL,RESOLUTION,SOURCE,LABELS');
    expect(csv[1]).toBe(`${id},1970-01-01T00:00:00Z,1970-01-01T02:00:00Z,2h0m0s,1,1,1,1,0s,test,"cluster=""a"",replica=""r0"""`);
    const tsv = (await strata(['tools', 'bucket', 'inspect', flag, '--output=tsv', '--timeout=1m'])).out.trim().split('\n');
    expect(tsv[0]?.split('\t')).toHaveLength(11);
    expect(tsv[1]).toBe(`${id}\t1970-01-01T00:00:00Z\t1970-01-01T02:00:00Z\t2h0m0s\t1\t1\t1\t1\t0s\ttest\t"cluster=""a"",replica=""r0"""`);
    await expect(strata(['tools', 'bucket', 'inspect', flag, '--output=yaml'])).rejects.toThrow(/--output must be table or csv or tsv/);
  });
});

describe('tools bucket replicate', () => {
  it('--compaction-min/--compaction-max select levels, --ignore-marked-for-deletion leaves marked blocks, --single-run exits', async () => {
    const from = await newBucket('rep-from');
    const to = await newBucket('rep-to');
    const levels = [1, 2, 3, 4, 5];
    const ids = await Promise.all(levels.map((l) => addBlock(from.bucket, { cluster: 'a' }, l * 2 * HOUR, (l + 1) * 2 * HOUR, l)));
    await markBlock(from.bucket, ids[1] as string, DELETION_MARK_FILENAME, { details: 'test' });
    const toFlag = from.flag.replace('--objstore.config=', '--objstore-to.config=').replace('rep-from', 'rep-to');
    const run = (...args: string[]) => strata(['tools', 'bucket', 'replicate', from.flag, toFlag, '--http-address=127.0.0.1:0', '--single-run', '--log.level=warn', ...args]);
    await run('--compaction-min=2', '--compaction-max=3', '--ignore-marked-for-deletion');
    const copied = async () => (await Promise.all(ids.map(async (id) => ((await to.bucket.exists(`${id}/meta.json`)) ? id : undefined)))).filter((id) => id !== undefined);
    expect(await copied()).toEqual([ids[2]]);
    // Without it, as Thanos, the marked block is copied (its mark stays behind); levels 1 to 4 by default.
    await run();
    expect(await copied()).toEqual(ids.slice(0, 4));
    expect(await to.bucket.exists(`${ids[1]}/${DELETION_MARK_FILENAME}`)).toBe(false);
    await run('--compaction=5');
    expect(await copied()).toEqual(ids);
    await expect(run('--compaction-min=3', '--compaction-max=2')).rejects.toThrow(/--compaction-min \(3\) must be at most --compaction-max \(2\)/);
  });

  it('without --single-run replicates again every interval, serving /metrics and the probes, until stopped', async () => {
    const from = await newBucket('loop-from');
    const to = await newBucket('loop-to');
    const first = await addBlock(from.bucket, { cluster: 'a' }, 0, 2 * HOUR);
    const opts: ReplicateOptions = { matchers: [], resolutions: [], levels: [], ids: [], minTime: -Infinity, maxTime: Infinity, ignoreMarkedForDeletion: false };
    const r = await startReplicator({ from: from.bucket, to: to.bucket, opts, httpAddress: '127.0.0.1:0', singleRun: false, intervalMs: 50, logger: nopLogger, io: { out: process.stdout, err: nopWritable() } });
    try {
      await vi.waitFor(async () => expect(await to.bucket.exists(`${first}/meta.json`)).toBe(true), { timeout: 5_000 });
      const second = await addBlock(from.bucket, { cluster: 'a' }, 2 * HOUR, 4 * HOUR);
      await vi.waitFor(async () => expect(await to.bucket.exists(`${second}/meta.json`)).toBe(true), { timeout: 5_000 });
      expect((await fetch(`http://${r.httpAddress}/-/ready`)).status).toBe(200);
      const metrics = await (await fetch(`http://${r.httpAddress}/metrics`)).text();
      expect(Number(/^strata_replicate_replication_runs_total\{result="success"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
      expect(metrics).toMatch(/^strata_replicate_blocks_replicated_total 2$/m);
    } finally {
      await r.stop();
    }
    await r.done;
    await expect(fetch(`http://${r.httpAddress}/-/healthy`)).rejects.toThrow();
  });
});

function nopWritable(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

describe('tools bucket cleanup', () => {
  it('--selector.relabel-config and --consistency-delay choose which marked blocks are deleted; --block-sync-concurrency is taken', async () => {
    const { bucket, flag } = await newBucket('cleanup');
    const [a, b] = [await addBlock(bucket, { cluster: 'a' }, 0, 2 * HOUR), await addBlock(bucket, { cluster: 'b' }, 0, 2 * HOUR)];
    const longAgo = new Date(Date.now() - 72 * HOUR);
    for (const id of [a, b]) await markBlock(bucket, id, DELETION_MARK_FILENAME, { details: 'test', now: longAgo });
    const cleanup = (...args: string[]) => strata(['tools', 'bucket', 'cleanup', flag, '--block-sync-concurrency=2', ...args]);
    // Uploaded just now: too fresh for the default 30m consistency delay, whatever its mark says.
    await cleanup();
    expect(await bucket.exists(`${a}/meta.json`)).toBe(true);
    await cleanup('--consistency-delay=0s', '--selector.relabel-config=- action: keep\n  source_labels: [cluster]\n  regex: a\n');
    expect(await bucket.exists(`${a}/meta.json`)).toBe(false);
    expect(await bucket.exists(`${b}/meta.json`)).toBe(true);
    await cleanup('--consistency-delay=0s');
    expect(await bucket.exists(`${b}/meta.json`)).toBe(false);
    await expect(cleanup('--block-sync-concurrency=0')).rejects.toThrow(/--block-sync-concurrency must be a positive integer/);
  });
});

describe('tools bucket upload-blocks', () => {
  it('skips blocks compacted locally unless --shipper.upload-compacted, as Thanos; takes --shipper.upload-concurrency', async () => {
    const { bucket, flag } = await newBucket('upload');
    const local = join(work.path, 'upload-local');
    const raw = await syntheticBlock(local, { labels: {}, minTime: 0, maxTime: 2 * HOUR, chunkBytes: 100 });
    const compacted = await syntheticBlock(local, { labels: {}, minTime: 2 * HOUR, maxTime: 8 * HOUR, chunkBytes: 100 });
    const meta = parseMeta(await readFile(join(compacted, 'meta.json'), 'utf8'));
    await writeFile(join(compacted, 'meta.json'), formatMeta({ ...meta, compaction: { ...meta.compaction, level: 2 } }));
    const id = (dir: string) => dir.slice(-26);
    const upload = (...args: string[]) => strata(['tools', 'bucket', 'upload-blocks', flag, `--path=${local}`, '--label=cluster="bf"', '--shipper.upload-concurrency=3', ...args]);
    const first = await upload();
    expect(first.err).toContain(`block ${id(compacted)}: compaction level 2, skipped`);
    expect(await bucket.exists(`${id(raw)}/meta.json`)).toBe(true);
    expect(await bucket.exists(`${id(compacted)}/meta.json`)).toBe(false);
    await upload('--shipper.upload-compacted');
    expect(await bucket.exists(`${id(compacted)}/meta.json`)).toBe(true);
    await expect(upload('--shipper.upload-concurrency=0')).rejects.toThrow(/--shipper.upload-concurrency must be a positive integer/);
  });
});

describe('tools bucket retention', () => {
  it('takes --delete-delay and --block-sync-concurrency, marking (not deleting) what is past retention', async () => {
    const { bucket, flag } = await newBucket('retention');
    const old = await addBlock(bucket, { cluster: 'a' }, Date.now() - 5 * 24 * HOUR, Date.now() - 4 * 24 * HOUR);
    await strata(['tools', 'bucket', 'retention', flag, '--retention.resolution-raw=3d', '--consistency-delay=0s', '--delete-delay=0s', '--block-sync-concurrency=4', '--log.level=error']);
    expect(await bucket.exists(`${old}/${DELETION_MARK_FILENAME}`)).toBe(true);
    expect(await bucket.exists(`${old}/meta.json`)).toBe(true);
  });
});

describe('tools bucket rewrite', () => {
  it('--prom-blocks uploads a plain Prometheus block\'s rewrite, --hash-func records hashes, and the change log is written as Thanos writes it', async () => {
    const { bucket, flag } = await newBucket('rewrite');
    await mkdir(join(work.path, 'rewrite-src'));
    const blocks = await promtoolBlocks(join(work.path, 'rewrite-src'), { series: 4, hours: 1 });
    const [src] = (await readdir(blocks)).filter((n) => /^[0-9A-Z]{26}$/.test(n));
    await uploadBlock(bucket, join(blocks, src as string), { promBlock: true });
    const tmp = join(work.path, 'rewrite-tmp');
    const args = ['tools', 'bucket', 'rewrite', flag, `--id=${src}`, '--no-dry-run', `--tmp.dir=${tmp}`, '--rewrite.to-delete-config=- matchers: \'{instance="host0:9100"}\'\n'];
    await expect(strata(args)).rejects.toThrow(/empty external labels/);
    const { out } = await strata([...args, '--prom-blocks', '--hash-func=SHA256']);
    const newId = /-> ([0-9A-Z]{26})/.exec(out)?.[1] as string;
    const meta = parseMeta((await readFile(join(work.path, 'rewrite', newId, 'meta.json'))).toString());
    expect(meta.thanos?.labels).toEqual({});
    expect(meta.thanos?.files?.find((f) => f.rel_path === 'index')?.hash?.hashFunc).toBe('SHA256');
    const changes = (await readFile(join(tmp, newId, 'change.log'), 'utf8')).trim().split('\n');
    expect(changes).toEqual([
      'Deleted {__name__="demo_gauge", instance="host0:9100", job="job0"} [{-9223372036854775808 9223372036854775807}]',
      'Deleted {__name__="demo_requests_total", instance="host0:9100", job="job0"} [{-9223372036854775808 9223372036854775807}]',
    ]);
    const none = join(work.path, 'rewrite-tmp-none');
    await strata([...args.filter((a) => !a.startsWith('--tmp.dir')), `--tmp.dir=${none}`, '--prom-blocks', '--no-rewrite.add-change-log', '--log.level=error']);
    expect(await readdir(none)).toEqual([]);
  });
});
