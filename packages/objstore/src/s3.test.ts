import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo, LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startS3rver, type S3Server } from '@strata/testing/s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isNotFound } from './bucket.js';
import { getBuffer, getRangeBuffer, readAll } from './io.js';
import { RetryingBucket } from './retry.js';
import { isVirtualHosted, S3Bucket, type S3HttpOptions } from './s3.js';
import { SigV4Signer } from './sigv4.js';

// s3rver accepts any SigV4 signature (it checks only V2 ones); the fake server below compares signatures with the SDK's.
describe('S3Bucket object reads against s3rver', () => {
  let s3: S3Server;
  let bucket: S3Bucket;
  const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
  const keys = ['plain', 'with space/a b', 'ünïcødé/日本', 'plus+equals=tilde~', 'deep/nested/dir/obj', "odd!'()*&$@,;:"];

  beforeAll(async () => {
    s3 = await startS3rver();
    bucket = new S3Bucket({ bucket: s3.bucket, endpoint: s3.hostPort, insecure: true, region: 'us-east-1', accessKey: s3.accessKey, secretKey: s3.secretKey });
    for (const k of keys) await bucket.upload(k, data);
  });
  afterAll(async () => {
    await bucket?.close();
    await s3?.stop();
  });

  it('reads keys that need URI encoding, whole and by range', async () => {
    for (const k of keys) {
      expect((await getBuffer(bucket, k)).equals(data), k).toBe(true);
      expect((await getRangeBuffer(bucket, k, 10, 90)).equals(data.subarray(10, 100)), k).toBe(true);
    }
  });

  it('reads ranges to and past the end, and fails a range starting past it with InvalidRange', async () => {
    expect((await getRangeBuffer(bucket, 'plain', 990, 1000)).equals(data.subarray(990))).toBe(true);
    expect((await getRangeBuffer(bucket, 'plain', 500, -1)).equals(data.subarray(500))).toBe(true);
    expect((await getRangeBuffer(bucket, 'plain', 0, 0)).length).toBe(0);
    const err = await getRangeBuffer(bucket, 'plain', 2000, 10).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'InvalidRange', $metadata: { httpStatusCode: 416 } });
  });

  it('reads ranges straight into a buffer over plain HTTP: keys, ranges to and past the end, large ones, missing objects', async () => {
    const into = bucket.getRangeInto!;
    for (const k of keys) {
      const target = Buffer.alloc(90);
      expect(await into.call(bucket, k, 10, target), k).toBe(90);
      expect(target.equals(data.subarray(10, 100)), k).toBe(true);
    }
    const tail = Buffer.alloc(100);
    expect(await into.call(bucket, 'plain', 950, tail)).toBe(50);
    expect(tail.subarray(0, 50).equals(data.subarray(950))).toBe(true);
    await expect(into.call(bucket, 'plain', 2000, tail)).rejects.toMatchObject({ name: 'InvalidRange', $metadata: { httpStatusCode: 416 } });
    expect(isNotFound(await into.call(bucket, 'nope/x', 0, tail).catch((e: unknown) => e))).toBe(true);
    // Many socket reads, their memory read into again as the body is copied out; then the same connection again.
    const big = Buffer.from(Array.from({ length: 6 << 20 }, (_, i) => (i * 7 + (i >>> 12)) & 0xff));
    await bucket.upload('big', big);
    for (const [offset, length] of [[123, 5 << 20], [0, 6 << 20], [(6 << 20) - 10, 10]] as const) {
      const target = Buffer.alloc(length);
      expect(await into.call(bucket, 'big', offset, target)).toBe(length);
      expect(target.equals(big.subarray(offset, offset + length)), `${offset}+${length}`).toBe(true);
    }
  });

  it('reports missing objects as not found', async () => {
    for (const read of [() => bucket.get('nope/x y'), () => bucket.getRange('nope/x', 0, 10)]) {
      const err = await read().catch((e: unknown) => e);
      expect(isNotFound(err), String(err)).toBe(true);
      expect((err as Error).cause).toMatchObject({ name: 'NoSuchKey' });
    }
  });

  it('corrects for a local clock 20 minutes off, as the SDK does: every kind of request succeeds', async () => {
    // s3rver (another process) refuses requests signed more than 15 minutes from its clock.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 20 * 60_000, shouldAdvanceTime: true });
    const open = () => new RetryingBucket(new S3Bucket({ bucket: s3.bucket, endpoint: s3.hostPort, insecure: true, region: 'us-east-1', accessKey: s3.accessKey, secretKey: s3.secretKey }));
    const [leanFirst, sdkFirst] = [open(), open()];
    try {
      // Range reads Strata signs itself first (straight into a buffer, and as a stream), then the SDK's requests.
      const target = Buffer.alloc(90);
      expect(await leanFirst.getRangeInto!.call(leanFirst, 'plain', 10, target)).toBe(90);
      expect(target.equals(data.subarray(10, 100))).toBe(true);
      expect((await getRangeBuffer(leanFirst, 'plain', 5, 10)).equals(data.subarray(5, 15))).toBe(true);
      await leanFirst.upload('skewed/x', data);
      // The SDK's requests first: the correction they learn serves the range reads too.
      await sdkFirst.upload('skewed/y', data);
      expect((await sdkFirst.attributes('skewed/x')).size).toBe(data.length);
      expect((await getRangeBuffer(sdkFirst, 'skewed/y', 5, 10)).equals(data.subarray(5, 15))).toBe(true);
    } finally {
      vi.useRealTimers();
      await Promise.all([leanFirst.close(), sdkFirst.close()]);
    }
  });

  it('lists with ListObjects v1 (list_objects_version: v1) as with v2, over several pages', async () => {
    const v1 = new S3Bucket({ bucket: s3.bucket, endpoint: s3.hostPort, insecure: true, region: 'us-east-1', accessKey: s3.accessKey, secretKey: s3.secretKey, listObjectsV1: true });
    try {
      for (let i = 0; i < 1005; i++) await bucket.upload(`pages/${String(i).padStart(4, '0')}`, data.subarray(0, 1));
      for (const opts of [{}, { recursive: true }]) {
        const names = async (b: S3Bucket, dir: string) => {
          const out: string[] = [];
          for await (const e of b.list(dir, opts)) out.push(e.name);
          return out;
        };
        for (const dir of ['', 'pages']) expect(await names(v1, dir), `${dir} ${JSON.stringify(opts)}`).toEqual(await names(bucket, dir));
      }
      expect((await (async () => { let n = 0; for await (const _ of v1.list('pages')) n++; return n; })())).toBe(1005);
    } finally {
      await v1.close();
    }
  });

  it('names the bucket in the host name (bucket_lookup_type virtual-hosted, and auto on an AWS endpoint): every kind of request', async () => {
    // s3rver takes <bucket>.s3.amazonaws.com as its virtual host; every name resolves to it here.
    const asked = new Set<string>();
    const lookup: LookupFunction = (hostname, options, callback) => {
      asked.add(hostname);
      if (options.all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
      else callback(null, '127.0.0.1', 4);
    };
    const port = s3.hostPort.split(':')[1];
    for (const bucketLookup of ['virtual-hosted', 'auto'] as const) {
      asked.clear();
      const vhost = new S3Bucket({ bucket: s3.bucket, endpoint: `s3.amazonaws.com:${port}`, bucketLookup, lookup, insecure: true, region: 'us-east-1', accessKey: s3.accessKey, secretKey: s3.secretKey });
      try {
        await vhost.upload(`vhost/${bucketLookup}`, data);
        expect((await getBuffer(vhost, `vhost/${bucketLookup}`)).equals(data)).toBe(true);
        expect((await getRangeBuffer(vhost, 'with space/a b', 10, 90)).equals(data.subarray(10, 100))).toBe(true);
        const target = Buffer.alloc(90);
        expect(await vhost.getRangeInto!.call(vhost, 'plain', 10, target)).toBe(90);
        expect(target.equals(data.subarray(10, 100))).toBe(true);
        expect((await vhost.attributes('plain')).size).toBe(data.length);
        const listed: string[] = [];
        for await (const e of vhost.list('vhost')) listed.push(e.name);
        expect(listed).toContain(`vhost/${bucketLookup}`);
        await vhost.delete(`vhost/${bucketLookup}`);
        expect(await vhost.exists(`vhost/${bucketLookup}`)).toBe(false);
        expect([...asked], bucketLookup).toEqual([`${s3.bucket}.s3.amazonaws.com`]);
      } finally {
        await vhost.close();
      }
    }
  });

  it('signs the session token', async () => {
    const withToken = new S3Bucket({ bucket: s3.bucket, endpoint: s3.endpoint, region: 'us-east-1', accessKey: s3.accessKey, secretKey: s3.secretKey, sessionToken: 'SESSION' });
    try {
      expect((await getRangeBuffer(withToken, 'with space/a b', 1, 3)).equals(data.subarray(1, 4))).toBe(true);
    } finally {
      await withToken.close();
    }
  });
});

describe('S3Bucket object reads against a fake server', () => {
  let server: Server;
  let seen: { url?: string; headers?: IncomingHttpHeaders } = {};
  const all: { url?: string; headers: IncomingHttpHeaders }[] = [];
  /** `cut`: the next answers send the headers and half the body, then close the connection. */
  let reply: { status: number; body: string; cut?: number } = { status: 200, body: 'hello' };
  let endpoint = '';

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen = { url: req.url, headers: req.headers };
      all.push({ url: req.url, headers: req.headers });
      if (reply.cut !== undefined && reply.cut-- > 0) {
        res.writeHead(reply.status, { 'content-type': 'application/xml', 'content-length': reply.body.length }).write(reply.body.slice(0, reply.body.length >> 1));
        setTimeout(() => res.socket?.destroy(), 10);
        return;
      }
      res.writeHead(reply.status, { 'content-type': 'application/xml' }).end(reply.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const open = (sessionToken?: string) => new S3Bucket({ bucket: 'b', endpoint, region: 'eu-west-1', accessKey: 'AK', secretKey: 'SK', ...(sessionToken ? { sessionToken } : {}) });

  it('sends a path-style, signed request with the session token header', async () => {
    reply = { status: 206, body: 'ell' };
    const b = open('TOKEN');
    try {
      expect((await getRangeBuffer(b, 'a b/c+d', 1, 3)).toString()).toBe('ell');
    } finally {
      await b.close();
    }
    expect(seen.url).toBe('/b/a%20b/c%2Bd');
    expect(seen.headers).toMatchObject({ range: 'bytes=1-3', 'x-amz-security-token': 'TOKEN', host: endpoint.slice('http://'.length) });
    expect(seen.headers?.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AK\/\d{8}\/eu-west-1\/s3\/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date;x-amz-security-token,Signature=[0-9a-f]{64}$/);
  });

  it('sends the path the SDK sends, signed as the SDK signs it', async () => {
    reply = { status: 206, body: 'ell' };
    const creds = { accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'TOKEN' };
    const sdk = new S3Client({ endpoint, region: 'eu-west-1', forcePathStyle: true, credentials: creds, maxAttempts: 1, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
    const b = open('TOKEN');
    try {
      for (const key of ['a b/ü日本', "plus+eq=tilde~/odd!'()*&$@,;:", 'deep/nested//x']) {
        all.length = 0;
        await readAll((await sdk.send(new GetObjectCommand({ Bucket: 'b', Key: key, Range: 'bytes=1-3' }))).Body as Readable);
        await getRangeBuffer(b, key, 1, 3);
        const [viaSdk, lean] = all as [(typeof all)[0], (typeof all)[0]];
        const [path, query] = viaSdk.url!.split('?') as [string, string | undefined];
        expect(lean.url, key).toBe(path);
        // Re-sign the SDK's request (its date and extra signed headers) with our signer: same signature.
        const signed = /SignedHeaders=([^,]+)/.exec(viaSdk.headers.authorization ?? '')![1]!.split(';');
        const extra = Object.fromEntries(signed.filter((h) => !['host', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token'].includes(h)).map((h) => [h, String(viaSdk.headers[h])]));
        const at = new Date(String(viaSdk.headers['x-amz-date']).replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));
        expect(viaSdk.headers['x-amz-content-sha256']).toBe(lean.headers['x-amz-content-sha256']);
        const ours = new SigV4Signer('eu-west-1').sign({ method: 'GET', host: viaSdk.headers.host!, path, ...(query ? { query } : {}), headers: extra }, creds, at);
        // The SDK separates the parts with ", ", we with ","; AWS accepts both.
        expect(ours.authorization, key).toBe(viaSdk.headers.authorization!.replace(/, /g, ','));
      }
    } finally {
      sdk.destroy();
      await b.close();
    }
  });

  it('reads into a buffer with the request a stream read sends; S3 errors fail it, a cut body is retried', async () => {
    reply = { status: 206, body: 'ell' };
    const b = open('TOKEN');
    try {
      all.length = 0;
      await getRangeBuffer(b, 'a b/c+d', 1, 3);
      const target = Buffer.alloc(3);
      expect(await b.getRangeInto!('a b/c+d', 1, target)).toBe(3);
      expect(target.toString()).toBe('ell');
      const [viaStream, direct] = all as [(typeof all)[0], (typeof all)[0]];
      expect(direct.url).toBe(viaStream.url);
      const signed = (h: IncomingHttpHeaders) => /SignedHeaders=([^,]+)/.exec(h.authorization ?? '')![1];
      expect(signed(direct.headers)).toBe(signed(viaStream.headers));
      for (const h of ['host', 'range', 'x-amz-content-sha256', 'x-amz-security-token']) expect(direct.headers[h], h).toBe(viaStream.headers[h]);

      reply = { status: 503, body: '<Error><Code>SlowDown</Code><Message>Please reduce</Message></Error>' };
      await expect(b.getRangeInto!('x', 0, target)).rejects.toMatchObject({ name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
      reply = { status: 404, body: '' };
      expect(isNotFound(await b.getRangeInto!('x', 0, target).catch((e: unknown) => e))).toBe(true);

      reply = { status: 206, body: 'abcdefgh', cut: 1 };
      const whole = Buffer.alloc(8);
      await expect(b.getRangeInto!('x', 0, whole)).rejects.toMatchObject({ $retryable: true });
      reply = { status: 206, body: 'abcdefgh', cut: 2 };
      const retrying = new RetryingBucket(b, { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 2 });
      expect(await retrying.getRangeInto!('x', 0, whole)).toBe(8);
      expect(whole.toString()).toBe('abcdefgh');
    } finally {
      await b.close();
    }
  });

  it("sends put_user_metadata and sse_config on every upload, as Thanos' config asks", async () => {
    reply = { status: 200, body: '' };
    const kms = new S3Bucket({
      bucket: 'b', endpoint, region: 'eu-west-1', accessKey: 'AK', secretKey: 'SK',
      metadata: { team: 'obs' }, storageClass: 'STANDARD_IA', sse: { type: 'SSE-KMS', kmsKeyId: 'key-1', kmsEncryptionContext: { app: 'strata' } },
    });
    const s3sse = new S3Bucket({ bucket: 'b', endpoint, region: 'eu-west-1', accessKey: 'AK', secretKey: 'SK', sse: { type: 'SSE-S3' }, partSize: 5 << 20 });
    try {
      await kms.upload('k', Buffer.from('abc'));
      expect(seen.headers).toMatchObject({
        'x-amz-meta-team': 'obs',
        'x-amz-storage-class': 'STANDARD_IA',
        'x-amz-server-side-encryption': 'aws:kms',
        'x-amz-server-side-encryption-aws-kms-key-id': 'key-1',
        'x-amz-server-side-encryption-context': Buffer.from('{"app":"strata"}').toString('base64'),
      });
      await s3sse.upload('k', Buffer.from('abc'));
      expect(seen.headers?.['x-amz-server-side-encryption']).toBe('AES256');
      // A multipart upload sets them when it starts.
      all.length = 0;
      reply = { status: 200, body: '<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>' };
      await s3sse.upload('big', Readable.from([Buffer.alloc(6 << 20)])).catch(() => undefined);
      expect(all[0]?.url).toMatch(/^\/b\/big\?uploads/);
      expect(all[0]?.headers['x-amz-server-side-encryption']).toBe('AES256');
    } finally {
      await Promise.all([kms.close(), s3sse.close()]);
    }
  });

  it("verifies an HTTPS endpoint with tls_config's CA file and server name, for the SDK's requests and Strata's reads", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-s3-tls-'));
    const srv = createHttpsServer({}, (req, res) => {
      res.writeHead(req.method === 'HEAD' ? 200 : 206, { 'content-length': 3 }).end(req.method === 'HEAD' ? undefined : 'ell');
    });
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=minio.internal'], { cwd: dir, stdio: 'pipe' });
      srv.setSecureContext({ key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) });
      await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
      const https = `https://127.0.0.1:${(srv.address() as AddressInfo).port}`;
      const open = (http: S3HttpOptions) => new S3Bucket({ bucket: 'b', endpoint: https, region: 'eu-west-1', accessKey: 'AK', secretKey: 'SK', http });
      const verified = open({ tls: { caFile: join(dir, 'c.pem'), serverName: 'minio.internal' } });
      const unverified = open({});
      try {
        expect((await getRangeBuffer(verified, 'k', 1, 3)).toString()).toBe('ell');
        expect((await verified.attributes('k')).size).toBe(3);
        await expect(getRangeBuffer(unverified, 'k', 1, 3)).rejects.toThrow(/self-signed certificate/);
      } finally {
        await Promise.all([verified.close(), unverified.close()]);
      }
      expect(() => open({ tls: { caFile: join(dir, 'missing.pem') } })).toThrow(/s3: http_config.tls_config.ca_file .*missing.pem: ENOENT/);
    } finally {
      srv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails with S3's error code and message from the XML body", async () => {
    reply = { status: 503, body: '<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Please reduce &amp; retry</Message></Error>' };
    const b = open();
    try {
      await expect(b.get('x')).rejects.toMatchObject({ name: 'SlowDown', message: 'Please reduce & retry', $metadata: { httpStatusCode: 503 } });
      reply = { status: 404, body: '' };
      expect(isNotFound(await b.get('x').catch((e: unknown) => e))).toBe(true);
      reply = { status: 403, body: '<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>' };
      const err = await b.get('x').catch((e: unknown) => e);
      expect(isNotFound(err)).toBe(false);
      expect(err).toMatchObject({ name: 'AccessDenied', message: 'Access Denied', $metadata: { httpStatusCode: 403 } });
    } finally {
      await b.close();
    }
  });
});

describe('bucket_lookup_type auto', () => {
  it('names the bucket in the host name for AWS, Google Cloud Storage and Alibaba Cloud endpoints, as minio-go does', () => {
    const auto = (endpoint: string, bucket = 'b') => isVirtualHosted('auto', new URL(endpoint), bucket);
    for (const e of ['https://s3.amazonaws.com', 'https://s3.eu-west-1.amazonaws.com', 'https://s3-eu-west-1.amazonaws.com', 'https://s3.dualstack.us-east-1.amazonaws.com', 'https://s3.cn-north-1.amazonaws.com.cn', 'https://storage.googleapis.com', 'https://oss-cn-hangzhou.aliyuncs.com']) {
      expect(auto(e), e).toBe(true);
    }
    for (const e of ['http://127.0.0.1:9000', 'https://minio.example.com', 'https://s3.example.com', 'https://ceph.amazonaws.com.evil']) expect(auto(e), e).toBe(false);
    // A bucket name with dots would not match the endpoint's certificate.
    expect(auto('https://s3.amazonaws.com', 'my.bucket')).toBe(false);
    expect(auto('http://s3.amazonaws.com', 'my.bucket')).toBe(true);
    expect(isVirtualHosted('path', new URL('https://s3.amazonaws.com'), 'b')).toBe(false);
    expect(isVirtualHosted('virtual-hosted', new URL('http://127.0.0.1:9000'), 'b')).toBe(true);
  });
});
