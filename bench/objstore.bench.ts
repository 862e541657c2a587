/**
 * `pnpm bench objstore [--objects N] [--object-mb MB] [--range-kb KB] [--ranges N] [--concurrency N] [--rounds N]`
 *
 * Upload and range-read throughput through Strata's Bucket (S3 backend with retries and metrics)
 * against a plain AWS SDK loop doing the same requests to the same s3rver in the same run. Each
 * round runs both sides back to back in alternating order; medians are reported, with the median
 * of the per-round ratios Bucket / SDK (target ≥ 0.9).
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getRangeBuffer, mapLimit, newBucket, parseBucketConfig, type Bucket } from '../packages/objstore/src/index.js';
import { startS3rver } from '../test/harness/s3.js';
import { median } from './stats.js';

interface Workload {
  objects: Buffer[];
  ranges: Array<{ object: number; offset: number; length: number }>;
  concurrency: number;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function viaBucket(bucket: Bucket, w: Workload, prefix: string) {
  return {
    upload: () => mapLimit(w.objects, w.concurrency, (data, i) => bucket.upload(`${prefix}/${i}`, data)).then(() => undefined),
    read: () =>
      mapLimit(w.ranges, w.concurrency, async (r) => {
        const b = await getRangeBuffer(bucket, `${prefix}/${r.object}`, r.offset, r.length);
        if (b.length !== r.length) throw new Error(`short read ${b.length}`);
      }).then(() => undefined),
  };
}

function viaSdk(client: S3Client, bucketName: string, w: Workload, prefix: string) {
  return {
    upload: () =>
      mapLimit(w.objects, w.concurrency, (data, i) => client.send(new PutObjectCommand({ Bucket: bucketName, Key: `${prefix}/${i}`, Body: data, ContentLength: data.length }))).then(() => undefined),
    read: () =>
      mapLimit(w.ranges, w.concurrency, async (r) => {
        const out = await client.send(new GetObjectCommand({ Bucket: bucketName, Key: `${prefix}/${r.object}`, Range: `bytes=${r.offset}-${r.offset + r.length - 1}` }));
        const b = await out.Body?.transformToByteArray();
        if (b?.length !== r.length) throw new Error(`short read ${b?.length}`);
      }).then(() => undefined),
  };
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      objects: { type: 'string', default: '32' },
      'object-mb': { type: 'string', default: '4' },
      'range-kb': { type: 'string', default: '256' },
      ranges: { type: 'string', default: '512' },
      concurrency: { type: 'string', default: '8' },
      rounds: { type: 'string', default: '9' },
    },
  });
  const objectBytes = Number(values['object-mb']) * 1024 * 1024;
  const rangeBytes = Number(values['range-kb']) * 1024;
  const w: Workload = {
    objects: Array.from({ length: Number(values.objects) }, () => randomBytes(objectBytes)),
    ranges: [],
    concurrency: Number(values.concurrency),
  };
  for (let i = 0; i < Number(values.ranges); i++) {
    w.ranges.push({ object: i % w.objects.length, offset: Math.floor(Math.random() * (objectBytes - rangeBytes)), length: rangeBytes });
  }
  const uploadMB = (w.objects.length * objectBytes) / 1e6;
  const readMB = (w.ranges.length * rangeBytes) / 1e6;

  const s3 = await startS3rver({ bucket: 'bench' });
  const bucket = newBucket(parseBucketConfig(s3.configYaml()));
  const client = s3.client();
  try {
    const strata = viaBucket(bucket, w, 'strata');
    const sdk = viaSdk(client, s3.bucket, w, 'sdk');
    // Warm-up: connections, JIT, s3rver's first writes.
    await strata.upload();
    await sdk.upload();
    // Paired rounds in alternating order; the machine may be busy, so report medians, and the median of the per-round ratios.
    const rounds: Array<{ strataUp: number; sdkUp: number; strataRead: number; sdkRead: number }> = [];
    for (let round = 0; round < Number(values.rounds); round++) {
      const order = round % 2 === 0 ? (['strata', 'sdk'] as const) : (['sdk', 'strata'] as const);
      const r = { strataUp: 0, sdkUp: 0, strataRead: 0, sdkRead: 0 };
      for (const side of order) {
        const impl = side === 'strata' ? strata : sdk;
        const up = await timed(impl.upload);
        const rd = await timed(impl.read);
        if (side === 'strata') Object.assign(r, { strataUp: up, strataRead: rd });
        else Object.assign(r, { sdkUp: up, sdkRead: rd });
        process.stderr.write(`round ${round + 1} ${side}: upload ${(uploadMB / up).toFixed(1)} MB/s, range read ${(readMB / rd).toFixed(1)} MB/s\n`);
      }
      rounds.push(r);
    }
    const row = (name: string, mb: number, strataS: number[], sdkS: number[]) =>
      `${name.padEnd(11)} Bucket ${(mb / median(strataS)).toFixed(1).padStart(7)} MB/s   plain SDK ${(mb / median(sdkS)).toFixed(1).padStart(7)} MB/s   ratio ${median(strataS.map((t, i) => (sdkS[i] as number) / t)).toFixed(2)}\n`;
    process.stdout.write(
      `objstore: s3rver on 127.0.0.1, ${w.objects.length} × ${values['object-mb']} MiB uploads, ${w.ranges.length} × ${values['range-kb']} KiB range reads, concurrency ${w.concurrency}, medians of ${values.rounds} paired rounds\n`,
    );
    process.stdout.write(row('upload', uploadMB, rounds.map((r) => r.strataUp), rounds.map((r) => r.sdkUp)));
    process.stdout.write(row('range read', readMB, rounds.map((r) => r.strataRead), rounds.map((r) => r.sdkRead)));
  } finally {
    await bucket.close();
    await s3.stop();
  }
}
