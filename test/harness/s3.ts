import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startProcess, tempDir, type Managed } from './process.js';

export interface S3Server {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  /** 127.0.0.1:PORT, as Thanos' config wants it. */
  readonly hostPort: string;
  readonly bucket: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly proc: Managed;
  /** An objstore config (YAML) for this bucket, optionally through another endpoint such as a fault proxy. */
  configYaml(opts?: { endpoint?: string; prefix?: string; partSize?: number }): string;
  /** A plain SDK client configured as local-stack.md §4 says s3rver needs. */
  client(): S3Client;
  /** Creates another bucket on the same server. */
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

/**
 * Starts s3rver 3.7.1 as a child process on 127.0.0.1 and an OS-picked port, with one bucket.
 * A child, because s3rver needs `node --openssl-legacy-provider` (it encrypts ListObjectsV2
 * continuation tokens with DES; without it every truncated listing fails with 500) and a running
 * process cannot switch its own OpenSSL provider.
 */
export async function startS3rver(opts: { bucket?: string } = {}): Promise<S3Server> {
  const bucket = opts.bucket ?? 'strata';
  const dir = await tempDir('strata-s3rver-');
  const bin = join(dirname(require.resolve('s3rver/package.json')), 'bin', 's3rver.js');
  const proc = startProcess(process.execPath, ['--openssl-legacy-provider', bin, '-d', join(dir.path, 'data'), '-a', '127.0.0.1', '-p', '0', '--silent'], {
    logFile: join(dir.path, 's3rver.log'),
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`s3rver did not start within 30s; see ${proc.logFile}`)), 30_000);
    proc.child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /S3rver listening on [\d.]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with ${code}; see ${proc.logFile}`));
    });
  });
  const hostPort = `127.0.0.1:${port}`;
  const endpoint = `http://${hostPort}`;
  const accessKey = 'S3RVER';
  const secretKey = 'S3RVER';
  const clients: S3Client[] = [];
  const client = () => {
    const c = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    clients.push(c);
    return c;
  };
  const admin = client();
  const createBucket = async (name: string) => {
    await admin.send(new CreateBucketCommand({ Bucket: name }));
  };
  await createBucket(bucket);
  return {
    endpoint,
    hostPort,
    bucket,
    accessKey,
    secretKey,
    proc,
    client,
    createBucket,
    configYaml(o = {}) {
      const lines = [
        'type: S3',
        'config:',
        `  bucket: ${bucket}`,
        `  endpoint: ${(o.endpoint ?? endpoint).replace(/^https?:\/\//, '')}`,
        '  region: us-east-1',
        `  access_key: ${accessKey}`,
        `  secret_key: ${secretKey}`,
        '  insecure: true',
        ...(o.partSize ? [`  part_size: ${o.partSize}`] : []),
      ];
      if (o.prefix) lines.push(`prefix: ${o.prefix}`);
      return `${lines.join('\n')}\n`;
    },
    async stop() {
      for (const c of clients) c.destroy();
      await proc.stop();
      await dir.cleanup();
    },
  };
}
