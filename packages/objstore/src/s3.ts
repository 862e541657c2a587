import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import type { LookupFunction } from 'node:net';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type ListObjectsCommandOutput,
  type ListObjectsV2CommandOutput,
  type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { dirPrefix, isBodySource, ObjectNotFoundError, type Bucket, type ListOptions, type ObjectAttributes, type ObjectEntry, type RangeIntoReader, type UploadBody } from './bucket.js';
import { Http1Client } from './http1.js';
import { checkRange } from './io.js';
import { OperationTimeoutError } from './retry.js';
import { encodeS3Path, SigV4Signer } from './sigv4.js';
import { tlsConnectOptions, type TlsConfig } from './tlsconfig.js';

export interface S3Options {
  bucket: string;
  /** host[:port] as in Thanos' config, or a full URL. */
  endpoint: string;
  /**
   * How requests name the bucket (Thanos' bucket_lookup_type): in the path (`/<bucket>/<key>`), in the
   * host name (`<bucket>.<endpoint>`, which Alibaba Cloud OSS and other providers require), or `auto`
   * (the default): in the host name for AWS, Google Cloud Storage and Alibaba Cloud endpoints, as
   * minio-go decides, and in the path elsewhere (MinIO, Ceph, …).
   */
  bucketLookup?: 'auto' | 'path' | 'virtual-hosted';
  /** How host names are resolved (default: the system's resolver, as Node's `dns.lookup`). */
  lookup?: LookupFunction;
  region?: string;
  accessKey?: string;
  secretKey?: string;
  sessionToken?: string;
  /** Plain HTTP instead of HTTPS. */
  insecure?: boolean;
  /** Objects of at least this size are uploaded in parts of this size (Thanos' default 64 MiB). */
  partSize?: number;
  disableMultipart?: boolean;
  /** Tries per part of a multipart upload (default 6). */
  multipartPartAttempts?: number;
  /** Time limit for every request except uploads, until the response headers arrive (default 2 min). */
  operationTimeoutMs?: number;
  http?: S3HttpOptions;
  /** List with ListObjects (v1) instead of ListObjectsV2, for servers without v2 (Thanos' list_objects_version). */
  listObjectsV1?: boolean;
  /** Metadata (x-amz-meta-…) and storage class of every upload (Thanos' put_user_metadata). */
  metadata?: Record<string, string>;
  storageClass?: string;
  /** Server-side encryption of every upload (Thanos' sse_config). */
  sse?: { type: 'SSE-S3' } | { type: 'SSE-KMS'; kmsKeyId: string; kmsEncryptionContext?: Record<string, string> };
}

export interface S3HttpOptions {
  /** Socket idle limit while a request is in flight (Thanos' response_header_timeout). */
  responseHeaderTimeoutMs?: number;
  /** Limit on establishing a connection (Thanos' tls_handshake_timeout). */
  connectTimeoutMs?: number;
  /** How long an idle kept-alive connection stays open (Thanos' idle_conn_timeout). */
  idleConnTimeoutMs?: number;
  /** 0 means unlimited. */
  maxConnsPerHost?: number;
  maxIdleConns?: number;
  insecureSkipVerify?: boolean;
  /** Files of the CA to verify the server with, and of a client certificate; the name to verify (Thanos' tls_config). */
  tls?: TlsConfig;
}

export const DEFAULT_PART_SIZE = 64 * 1024 * 1024;
// S3 refuses parts under 5 MiB (except the last).
const MIN_PART_SIZE = 5 * 1024 * 1024;
const DEFAULT_OPERATION_TIMEOUT_MS = 120_000;
const SILENT_LOGGER = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/**
 * An S3 (or S3-compatible: MinIO, s3rver) bucket. Path-style addressing, and checksums only where S3
 * requires them: S3-compatible servers mishandle the SDK's default aws-chunked checksum trailers. The
 * SDK's own retries are off; RetryingBucket retries whole operations and resumes interrupted reads.
 */
export class S3Bucket implements Bucket {
  readonly name: string;
  readonly #client: S3Client;
  /**
   * lib-storage sends each part as its own request and offers no retry hook, and a whole-object
   * retry would resend every part; so parts go through a client with the SDK's own retries on.
   */
  readonly #multipartClient: S3Client;
  readonly #bucket: string;
  readonly #partSize: number;
  readonly #multipart: boolean;
  readonly #timeoutMs: number;
  readonly #listV1: boolean;
  /** What every upload sets besides bucket, key and body: metadata, storage class, encryption. */
  readonly #uploadParams: Partial<PutObjectCommandInput>;
  /** Object reads without the SDK, or undefined where only the SDK knows the URL (see LeanGetter). */
  readonly #lean: LeanGetter | undefined;
  /**
   * Where the endpoint is plain HTTP (in-cluster MinIO, Ceph, s3rver): range reads written straight
   * into the caller's memory (LeanGetter.readInto). Absent over HTTPS, whose connections keep the
   * agent's TLS settings.
   */
  readonly getRangeInto?: RangeIntoReader;

  constructor(opts: S3Options) {
    if (!opts.bucket) throw new Error('s3: bucket is required');
    if (!opts.endpoint) throw new Error(`s3: endpoint is required for bucket ${opts.bucket}`);
    this.name = opts.bucket;
    this.#bucket = opts.bucket;
    this.#partSize = Math.max(opts.partSize ?? DEFAULT_PART_SIZE, MIN_PART_SIZE);
    this.#multipart = !opts.disableMultipart;
    this.#timeoutMs = opts.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
    this.#listV1 = opts.listObjectsV1 === true;
    this.#uploadParams = uploadParams(opts);
    const endpoint = /^https?:\/\//.test(opts.endpoint) ? opts.endpoint : `${opts.insecure ? 'http' : 'https'}://${opts.endpoint}`;
    const url = new URL(endpoint);
    const virtualHosted = isVirtualHosted(opts.bucketLookup ?? 'auto', url, opts.bucket);
    const http = opts.http ?? {};
    const agentOpts = {
      keepAlive: true,
      maxSockets: http.maxConnsPerHost ? http.maxConnsPerHost : Infinity,
      maxFreeSockets: http.maxIdleConns ?? 100,
      ...(http.idleConnTimeoutMs ? { timeout: http.idleConnTimeoutMs } : {}),
      ...(opts.lookup !== undefined ? { lookup: opts.lookup } : {}),
    };
    const httpAgent = new HttpAgent(agentOpts);
    const httpsAgent = new HttpsAgent({ ...agentOpts, ...tlsConnectOptions(http.tls, 's3: http_config.tls_config'), rejectUnauthorized: !http.insecureSkipVerify });
    const requestTimeoutMs = http.responseHeaderTimeoutMs ?? 120_000;
    const connectTimeoutMs = http.connectTimeoutMs ?? 10_000;
    const config = {
      endpoint,
      region: opts.region || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1',
      forcePathStyle: !virtualHosted,
      credentials: credentials(opts),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // The SDK warns on every failed streaming request; RetryingBucket handles those, so stay quiet.
      logger: SILENT_LOGGER,
      requestHandler: {
        requestTimeout: requestTimeoutMs,
        connectionTimeout: connectTimeoutMs,
        throwOnRequestTimeout: true,
        httpAgent,
        httpsAgent,
      },
    } as const;
    this.#client = new S3Client({ ...config, maxAttempts: 1 });
    this.#multipartClient = new S3Client({ ...config, maxAttempts: opts.multipartPartAttempts ?? 6 });
    // With an explicit endpoint the SDK sends GET <endpoint>/<bucket>/<key>, or GET <bucket>.<endpoint>/<key>
    // virtual-hosted. An endpoint with a path or query of its own is left to the SDK rather than
    // second-guessing how it joins them.
    const origin = virtualHosted ? new URL(`${url.protocol}//${opts.bucket}.${url.host}`) : url;
    this.#lean =
      url.pathname === '/' && !url.search && !url.username
        ? new LeanGetter(this.#client, origin, virtualHosted ? '/' : `/${encodeS3Path(this.#bucket)}/`, url.protocol === 'https:' ? httpsAgent : httpAgent, requestTimeoutMs, connectTimeoutMs)
        : undefined;
    const lean = this.#lean;
    if (lean !== undefined && url.protocol === 'http:') {
      const http1 = new Http1Client(origin, { error: connectionError, maxIdleSockets: agentOpts.maxFreeSockets, ...(opts.lookup !== undefined ? { lookup: opts.lookup } : {}) });
      this.getRangeInto = (name, offset, target) => {
        checkRange(offset, target.length);
        return this.#send((signal) => lean.readInto(http1, name, offset, target, signal), name);
      };
    }
  }

  async *list(dir: string, opts: ListOptions = {}): AsyncIterable<ObjectEntry> {
    if (this.#listV1) {
      yield* this.#listV1Pages(dir, opts);
      return;
    }
    const prefix = dirPrefix(dir);
    let token: string | undefined;
    // Loop on IsTruncated, never on page sizes: some servers ignore MaxKeys for CommonPrefixes.
    do {
      const page: ListObjectsV2CommandOutput = await this.#send(
        (signal) =>
          this.#client.send(
            new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: prefix, Delimiter: opts.recursive ? undefined : '/', ContinuationToken: token }),
            { abortSignal: signal },
          ),
        `list ${prefix}`,
      );
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined || o.Key === prefix) continue;
        yield objectEntry(o.Key, o);
      }
      for (const p of page.CommonPrefixes ?? []) if (p.Prefix) yield { name: p.Prefix };
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** `list` over ListObjects (v1): pages continue after NextMarker, or the last key where a server gives none. */
  async *#listV1Pages(dir: string, opts: ListOptions): AsyncIterable<ObjectEntry> {
    const prefix = dirPrefix(dir);
    let marker: string | undefined;
    let truncated: boolean;
    do {
      const page: ListObjectsCommandOutput = await this.#send(
        (signal) => this.#client.send(new ListObjectsCommand({ Bucket: this.#bucket, Prefix: prefix, Delimiter: opts.recursive ? undefined : '/', Marker: marker }), { abortSignal: signal }),
        `list ${prefix}`,
      );
      let last: string | undefined;
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        last = o.Key;
        if (o.Key === prefix) continue;
        yield objectEntry(o.Key, o);
      }
      for (const p of page.CommonPrefixes ?? []) {
        if (!p.Prefix) continue;
        if (last === undefined || p.Prefix > last) last = p.Prefix;
        yield { name: p.Prefix };
      }
      marker = page.NextMarker ?? last;
      truncated = page.IsTruncated === true && marker !== undefined;
    } while (truncated);
  }

  get(name: string): Promise<Readable> {
    return this.#getObject(name);
  }

  async getRange(name: string, offset: number, length: number): Promise<Readable> {
    checkRange(offset, length);
    if (length === 0) {
      await this.attributes(name);
      return Readable.from([]);
    }
    // Always an absolute range: suffix ranges (bytes=-N) are broken on some S3-compatible servers.
    return this.#getObject(name, `bytes=${offset}-${length === -1 ? '' : offset + length - 1}`);
  }

  async exists(name: string): Promise<boolean> {
    try {
      await this.attributes(name);
      return true;
    } catch (e) {
      if (e instanceof ObjectNotFoundError) return false;
      throw e;
    }
  }

  async attributes(name: string): Promise<ObjectAttributes> {
    const out = await this.#send((signal) => this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: name }), { abortSignal: signal }), name);
    return { size: out.ContentLength ?? 0, lastModified: out.LastModified ?? new Date(0) };
  }

  async upload(name: string, body: UploadBody): Promise<void> {
    const size = body instanceof Uint8Array ? body.length : isBodySource(body) ? body.size : undefined;
    let opened: Readable | undefined;
    const open = () => (body instanceof Uint8Array ? body : (opened = isBodySource(body) ? body.open() : body));
    try {
      if (size !== undefined && (size < this.#partSize || !this.#multipart)) {
        const Body = open();
        await this.#client.send(new PutObjectCommand({ ...this.#uploadParams, Bucket: this.#bucket, Key: name, Body, ContentLength: size }));
        return;
      }
      const Body = open();
      // Parts are aborted here rather than by lib-storage, whose failing abort would hide the real error.
      const upload = new Upload({ client: this.#multipartClient, params: { ...this.#uploadParams, Bucket: this.#bucket, Key: name, Body }, partSize: this.#partSize, queueSize: 4, leavePartsOnError: true });
      try {
        await upload.done();
      } catch (e) {
        if (upload.uploadId) {
          await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: name, UploadId: upload.uploadId })).catch(() => undefined);
        }
        throw e;
      }
    } catch (e) {
      // A failed request does not always consume its body; close the file behind it.
      opened?.destroy();
      throw this.#wrap(e, name);
    }
  }

  async delete(name: string): Promise<void> {
    await this.#send((signal) => this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: name }), { abortSignal: signal }), name);
  }

  async close(): Promise<void> {
    this.#client.destroy();
    this.#multipartClient.destroy();
  }

  async #getObject(name: string, range?: string): Promise<Readable> {
    const lean = this.#lean;
    if (lean) return this.#send((signal) => lean.get(name, range, signal), name);
    const out = await this.#send(
      (signal) => this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: name, ...(range ? { Range: range } : {}) }), { abortSignal: signal }),
      name,
    );
    // A connection that ends before Content-Length fails this stream with ECONNRESET ("aborted"), which
    // RetryingBucket resumes; the fault-proxy tests cut responses in half to keep that true.
    return (out.Body as Readable | undefined) ?? Readable.from([]);
  }

  /**
   * Runs one request under the operation timeout. The timer stops once the response headers are in,
   * so a slow but progressing body read is not cut off.
   */
  async #send<T>(call: (signal: AbortSignal) => Promise<T>, object: string): Promise<T> {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), this.#timeoutMs);
    try {
      return await call(ctl.signal);
    } catch (e) {
      if (ctl.signal.aborted) throw new OperationTimeoutError(`${this.#bucket}/${object}`, this.#timeoutMs);
      throw this.#wrap(e, object);
    } finally {
      clearTimeout(timer);
    }
  }

  #wrap(e: unknown, object: string): unknown {
    const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (err?.name === 'NoSuchKey' || err?.name === 'NotFound' || (err?.$metadata?.httpStatusCode === 404 && err.name !== 'NoSuchBucket')) {
      return new ObjectNotFoundError(this.name, object, { cause: e });
    }
    return e;
  }
}

/**
 * An S3 error answered without the SDK, shaped like the SDK's (name = S3's error code, $metadata;
 * `clockSkewCorrected` where the signing clock was corrected after it, which makes it worth a retry).
 */
class S3ResponseError extends Error {
  readonly $metadata: { httpStatusCode: number; clockSkewCorrected?: boolean };
  readonly $fault: 'client' | 'server';
  /** The server's time (ms) as the error body's ServerTime or the response's Date header gives it; NaN if neither does. */
  readonly serverTime: number;

  constructor(code: string, message: string, status: number, serverTime: number) {
    super(message || code);
    this.name = code;
    this.$metadata = { httpStatusCode: status };
    this.$fault = status >= 500 ? 'server' : 'client';
    this.serverTime = serverTime;
  }
}

/** The codes S3 refuses a request with when it was signed at a time too far from its clock (the SDK's list). */
const CLOCK_SKEW_CODES = new Set(['RequestTimeTooSkewed', 'RequestExpired', 'RequestInTheFuture', 'InvalidSignatureException', 'SignatureDoesNotMatch', 'AuthFailure']);
/** A refusal moves the signing clock only if the server's time says it was off by at least this much. */
const MIN_CLOCK_CORRECTION_MS = 60_000;

/**
 * GetObject signed here (SigV4) and sent with node:http on the SDK client's own keep-alive agents. The
 * store gateway issues many small range reads, and the SDK's middleware stack costs about 1 ms of CPU
 * each. Credentials still come from the SDK client, which caches and refreshes them; region likewise.
 * Requests are signed at the time the SDK client would sign its own, corrected by its estimate of the
 * server's clock (systemClockOffset), and a request refused for its signing time corrects that estimate
 * from the server's time and is retried, as the SDK does: a local clock more than 15 minutes off costs
 * one failed request, not every read.
 */
class LeanGetter {
  readonly #client: S3Client;
  readonly #url: URL;
  readonly #bucketPath: string;
  readonly #agent: HttpAgent;
  readonly #request: typeof httpRequest;
  readonly #requestTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  #signer: Promise<SigV4Signer> | undefined;

  constructor(client: S3Client, url: URL, bucketPath: string, agent: HttpAgent, requestTimeoutMs: number, connectTimeoutMs: number) {
    this.#client = client;
    this.#url = url;
    this.#bucketPath = bucketPath;
    this.#agent = agent;
    this.#request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    this.#requestTimeoutMs = requestTimeoutMs;
    this.#connectTimeoutMs = connectTimeoutMs;
  }

  async get(key: string, range: string | undefined, signal: AbortSignal): Promise<Readable> {
    const { path, headers, clockOffsetMs } = await this.#signedGet(key, range);
    const opts: RequestOptions = {
      method: 'GET',
      protocol: this.#url.protocol,
      hostname: this.#url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: this.#url.port || undefined,
      path,
      headers,
      agent: this.#agent,
      signal,
    };
    const res = await this.#send(opts);
    if (res.statusCode === 200 || res.statusCode === 206) return res;
    throw this.#refused(await responseError(res.statusCode ?? 0, res, res.headers.date), clockOffsetMs);
  }

  /**
   * Bytes [offset, offset + target.length) of `key` into `target` over `http1`; resolves to how many
   * (fewer where the object ends sooner). The socket reads the body straight into `target` (but for the
   * bytes that came with the response head, copied): no response stream, no buffer per piece, no copy.
   */
  async readInto(http1: Http1Client, key: string, offset: number, target: Uint8Array, signal: AbortSignal): Promise<number> {
    if (target.length === 0) return 0;
    const { path, headers, clockOffsetMs } = await this.#signedGet(key, `bytes=${offset}-${offset + target.length - 1}`);
    const { host: _host, ...rest } = headers; // the client writes Host itself, the same value as signed
    const res = await http1.request('GET', path, rest, NO_BODY, signal, target);
    if (res.status !== 206 && res.status !== 200) throw this.#refused(await responseError(res.status, res.body, res.headers.get('date')), clockOffsetMs);
    // A server that ignores Range answers 200 with the whole object: its bytes before `offset` are skipped.
    let skip = res.status === 200 ? offset : 0;
    let n = 0;
    for await (let piece of res.body) {
      if (skip > 0) {
        const k = Math.min(skip, piece.length);
        piece = piece.subarray(k);
        skip -= k;
      }
      const room = target.length - n;
      if (piece.length > room) {
        if (res.status === 206) throw connectionError(`range read of ${key} at offset ${offset} returned more than the ${target.length} bytes asked`);
        target.set(piece.subarray(0, room), n);
        return target.length; // leaving the body closes the connection
      }
      if (piece.buffer !== target.buffer || piece.byteOffset !== target.byteOffset + n) target.set(piece, n);
      n += piece.length;
      res.recycle();
    }
    return n;
  }

  /** The path and headers of a GET, and the clock offset it was signed with. */
  async #signedGet(key: string, range: string | undefined): Promise<{ path: string; headers: Record<string, string>; clockOffsetMs: number }> {
    this.#signer ??= this.#client.config.region().then((r) => new SigV4Signer(r));
    const [signer, creds] = await Promise.all([this.#signer, this.#client.config.credentials()]);
    const path = this.#bucketPath + encodeS3Path(key);
    const clockOffsetMs = this.#client.config.systemClockOffset;
    const headers = signer.sign({ method: 'GET', host: this.#url.host, path, ...(range ? { headers: { range } } : {}) }, creds, new Date(Date.now() + clockOffsetMs));
    return { path, headers, clockOffsetMs };
  }

  /**
   * `err`, after correcting the client's estimate of the server's clock where S3 refused a request signed
   * with `clockOffsetMs` for its time and says a time far from it: then marked as the SDK marks such an
   * error (clockSkewCorrected), for RetryingBucket to send the request again.
   */
  #refused(err: S3ResponseError, clockOffsetMs: number): S3ResponseError {
    if (!CLOCK_SKEW_CODES.has(err.name) || Number.isNaN(err.serverTime)) return err;
    const offset = err.serverTime - Date.now();
    if (Math.abs(offset - clockOffsetMs) < MIN_CLOCK_CORRECTION_MS) return err;
    this.#client.config.systemClockOffset = offset;
    err.$metadata.clockSkewCorrected = true;
    return err;
  }

  /** Like the SDK's handler: the socket idle limit throws TimeoutError, and so does a slow connect. */
  #send(opts: RequestOptions): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = this.#request(opts, resolve);
      req.once('error', reject);
      req.setTimeout(this.#requestTimeoutMs, () => req.destroy(timeoutError(`socket idle for ${this.#requestTimeoutMs} ms`)));
      req.once('socket', (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(() => req.destroy(timeoutError(`no connection within ${this.#connectTimeoutMs} ms`)), this.#connectTimeoutMs);
        socket.once('connect', () => clearTimeout(timer));
        socket.once('close', () => clearTimeout(timer));
      });
      req.end();
    });
  }
}

/**
 * Whether requests name the bucket in the host name: as asked, or under `auto` as minio-go (Thanos' S3
 * client) decides: for AWS, Google Cloud Storage and Alibaba Cloud endpoints, unless a bucket name with
 * dots would not match the endpoint's TLS certificate.
 */
export function isVirtualHosted(lookup: 'auto' | 'path' | 'virtual-hosted', endpoint: URL, bucket: string): boolean {
  if (lookup !== 'auto') return lookup === 'virtual-hosted';
  if (endpoint.protocol === 'https:' && bucket.includes('.')) return false;
  const host = endpoint.hostname;
  return /^s3[.-](.+\.)?amazonaws\.com(\.cn)?$/.test(host) || host === 'storage.googleapis.com' || host.endsWith('aliyuncs.com');
}

const NO_BODY = Buffer.alloc(0);

/** A failed connection or response of the lean HTTP/1.1 client: retried, as the SDK's network errors are. */
function connectionError(message: string): Error {
  return Object.assign(new Error(`s3: ${message}`), { $retryable: true });
}

function timeoutError(message: string): Error {
  const e = new Error(message);
  e.name = 'TimeoutError';
  return e;
}

/**
 * S3's <Error><Code>…</Code><Message>…</Message></Error>; a body-less 404 (HEAD-style) is NotFound as in
 * the SDK. The server's time from the body's <ServerTime> (RequestTimeTooSkewed) or the `date` header.
 */
async function responseError(status: number, res: AsyncIterable<Buffer | string>, date: string | undefined): Promise<S3ResponseError> {
  let body = '';
  try {
    for await (const chunk of res) body += chunk.toString();
  } catch {
    // The status alone still says what failed.
  }
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1] ?? (status === 404 ? 'NotFound' : `Http${status}`);
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? '';
  const serverTime = /<ServerTime>([^<]*)<\/ServerTime>/.exec(body)?.[1] ?? date;
  return new S3ResponseError(code, unescapeXml(message), status, serverTime === undefined ? Number.NaN : Date.parse(serverTime));
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!);
}

/** A listed object as `list` yields it (size and modification time where the listing gives them). */
function objectEntry(name: string, o: { Size?: number | undefined; LastModified?: Date | undefined }): ObjectEntry {
  return { name, ...(o.Size !== undefined ? { size: o.Size } : {}), ...(o.LastModified ? { lastModified: o.LastModified } : {}) };
}

/** What every upload sets from the config: metadata, storage class, server-side encryption. */
function uploadParams(opts: S3Options): Partial<PutObjectCommandInput> {
  const sse = opts.sse;
  return {
    ...(opts.metadata !== undefined ? { Metadata: opts.metadata } : {}),
    ...(opts.storageClass !== undefined ? { StorageClass: opts.storageClass as PutObjectCommandInput['StorageClass'] } : {}),
    ...(sse?.type === 'SSE-S3' ? { ServerSideEncryption: 'AES256' } : {}),
    ...(sse?.type === 'SSE-KMS'
      ? {
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: sse.kmsKeyId,
          ...(sse.kmsEncryptionContext !== undefined ? { SSEKMSEncryptionContext: Buffer.from(JSON.stringify(sse.kmsEncryptionContext)).toString('base64') } : {}),
        }
      : {}),
  };
}

function credentials(opts: S3Options): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined {
  const accessKeyId = opts.accessKey || process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = opts.secretKey || process.env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return undefined;
  const sessionToken = opts.accessKey ? opts.sessionToken : process.env.AWS_SESSION_TOKEN;
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}
