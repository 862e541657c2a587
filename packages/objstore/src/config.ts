import { readFile } from 'node:fs/promises';
import type { Registry } from 'prom-client';
import type { Bucket } from './bucket.js';
import { FilesystemBucket } from './filesystem.js';
import { InstrumentedBucket } from './metrics.js';
import { PrefixedBucket } from './prefixed.js';
import { DEFAULT_RETRY_POLICY, RetryingBucket, type RetryPolicy } from './retry.js';
import { S3Bucket, type S3Options } from './s3.js';
import { parseTlsConfig } from './tlsconfig.js';
import { configMapping, parseYamlConfig } from './yamlconfig.js';

/** Thanos' objstore config (`--objstore.config-file`), after validation. */
export type BucketConfig = { type: 'S3'; s3: S3Options; prefix: string; maxRetries?: number } | { type: 'FILESYSTEM'; directory: string; prefix: string };

/**
 * Every key of Thanos' S3 config, so that a config written for Thanos (its docs show them all, with their
 * defaults) works as it is. Accepted without effect: `disable_dualstack` (no dual-stack endpoint is
 * used), `aws_sdk_auth` and `sts_endpoint` (without keys the SDK's credential chain is used anyway),
 * `send_content_md5` (uploads are checked as the SDK checks them), `trace`, and http_config's
 * `expect_continue_timeout`, `max_idle_conns_per_host` and `disable_compression`.
 */
const S3_KEYS = new Set([
  'bucket', 'endpoint', 'region', 'access_key', 'secret_key', 'session_token', 'insecure', 'part_size', 'disable_multipart', 'max_retries', 'http_config',
  'disable_dualstack', 'aws_sdk_auth', 'sts_endpoint', 'signature_version2', 'put_user_metadata', 'trace', 'list_objects_version', 'bucket_lookup_type', 'send_content_md5', 'sse_config',
]);
const HTTP_KEYS = new Set([
  'idle_conn_timeout', 'response_header_timeout', 'tls_handshake_timeout', 'max_conns_per_host', 'max_idle_conns', 'max_idle_conns_per_host', 'insecure_skip_verify', 'expect_continue_timeout',
  'tls_config', 'disable_compression',
]);
const SSE_KEYS = new Set(['type', 'kms_key_id', 'kms_encryption_context', 'encryption_key']);

/**
 * Parses the YAML config. Like Thanos it is strict: an unknown key is an error rather than a
 * silently ignored setting. `what` names the config (usually its file) in errors.
 */
export function parseBucketConfig(text: string, what = 'objstore config'): BucketConfig {
  const top = configMapping(parseYamlConfig(text, what), what, new Set(['type', 'config', 'prefix']));
  const type = String(top.type ?? '').toUpperCase();
  const prefix = top.prefix === undefined || top.prefix === null ? '' : String(top.prefix);
  const cfg = configMapping(top.config ?? {}, `${what}: config`);
  if (type === 'FILESYSTEM') {
    configMapping(cfg, `${what}: config`, new Set(['directory']));
    if (typeof cfg.directory !== 'string' || cfg.directory === '') throw new Error(`${what}: config.directory is required for type FILESYSTEM`);
    return { type: 'FILESYSTEM', directory: cfg.directory, prefix };
  }
  if (type !== 'S3') throw new Error(`${what}: unsupported bucket type ${JSON.stringify(top.type)} (supported: S3, FILESYSTEM)`);
  configMapping(cfg, `${what}: config`, S3_KEYS);
  const http = configMapping(cfg.http_config ?? {}, `${what}: config.http_config`, HTTP_KEYS);
  const tls = parseTlsConfig(http.tls_config, `${what}: config.http_config.tls_config`);
  configMapping(cfg.trace ?? {}, `${what}: config.trace`, new Set(['enable']));
  if (cfg.signature_version2 === true) throw new Error(`${what}: config.signature_version2: Strata signs requests with AWS Signature Version 4 only; remove the field or set it to false`);
  const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
  const lookup = str(cfg.bucket_lookup_type) || 'auto';
  if (lookup !== 'auto' && lookup !== 'path' && lookup !== 'virtual-hosted') throw new Error(`${what}: config.bucket_lookup_type must be auto, path or virtual-hosted, not ${JSON.stringify(lookup)}`);
  const listVersion = str(cfg.list_objects_version) || 'v2';
  if (listVersion !== 'v1' && listVersion !== 'v2') throw new Error(`${what}: config.list_objects_version must be v1 or v2, not ${JSON.stringify(listVersion)}`);
  const s3: S3Options = {
    bucket: str(cfg.bucket) ?? '',
    endpoint: str(cfg.endpoint) ?? '',
    bucketLookup: lookup,
    region: str(cfg.region),
    accessKey: str(cfg.access_key),
    secretKey: str(cfg.secret_key),
    sessionToken: str(cfg.session_token),
    insecure: cfg.insecure === true,
    disableMultipart: cfg.disable_multipart === true,
    partSize: cfg.part_size === undefined ? undefined : Number(cfg.part_size),
    http: {
      responseHeaderTimeoutMs: optDuration(http.response_header_timeout, `${what}: http_config.response_header_timeout`),
      connectTimeoutMs: optDuration(http.tls_handshake_timeout, `${what}: http_config.tls_handshake_timeout`),
      idleConnTimeoutMs: optDuration(http.idle_conn_timeout, `${what}: http_config.idle_conn_timeout`),
      maxConnsPerHost: http.max_conns_per_host === undefined ? undefined : Number(http.max_conns_per_host),
      maxIdleConns: http.max_idle_conns === undefined ? undefined : Number(http.max_idle_conns),
      insecureSkipVerify: http.insecure_skip_verify === true || tls?.insecureSkipVerify === true,
      ...(tls !== undefined ? { tls } : {}),
    },
    ...(listVersion === 'v1' ? { listObjectsV1: true } : {}),
    ...putUserMetadata(cfg.put_user_metadata, `${what}: config.put_user_metadata`),
    ...sseConfig(cfg.sse_config, `${what}: config.sse_config`),
  };
  if (!s3.bucket) throw new Error(`${what}: config.bucket is required for type S3`);
  if (!s3.endpoint) throw new Error(`${what}: config.endpoint is required for type S3`);
  if (s3.partSize !== undefined && !(Number.isSafeInteger(s3.partSize) && s3.partSize > 0)) throw new Error(`${what}: config.part_size must be a positive integer`);
  const maxRetries = cfg.max_retries === undefined ? undefined : Number(cfg.max_retries);
  return { type: 'S3', s3, prefix, ...(maxRetries ? { maxRetries } : {}) };
}

export interface NewBucketOptions {
  /** Where the strata_objstore_* metrics go (default: prom-client's global registry). */
  registry?: Registry;
  retry?: RetryPolicy;
}

/** The bucket a config describes, with retries (S3), the prefix applied, and metrics. */
export function newBucket(config: BucketConfig, opts: NewBucketOptions = {}): Bucket {
  let bucket: Bucket;
  if (config.type === 'FILESYSTEM') {
    bucket = new FilesystemBucket(config.directory);
  } else {
    const policy = opts.retry ?? (config.maxRetries ? { ...DEFAULT_RETRY_POLICY, maxAttempts: config.maxRetries + 1 } : DEFAULT_RETRY_POLICY);
    bucket = new RetryingBucket(new S3Bucket(config.s3), policy);
  }
  if (config.prefix !== '') bucket = new PrefixedBucket(bucket, config.prefix);
  return new InstrumentedBucket(bucket, opts.registry);
}

/** Reads `--objstore.config-file` and opens the bucket. */
export async function bucketFromConfigFile(path: string, opts: NewBucketOptions = {}): Promise<Bucket> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`objstore config file ${path}: ${(e as Error).message}`);
  }
  return newBucket(parseBucketConfig(text, path), opts);
}

/** Go-style durations: "90s", "1m30s", "500ms", "2h". */
export function parseDuration(s: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/y;
  if (s === '0') return 0;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) throw new Error(`invalid duration ${JSON.stringify(s)}`);
    total += Number(m[1]) * (units[m[2] as string] as number);
    pos = re.lastIndex;
  }
  if (s === '') throw new Error('empty duration');
  return total;
}

function optDuration(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  try {
    return parseDuration(String(v));
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
}

/**
 * Thanos' put_user_metadata: plain keys become object metadata (x-amz-meta-…); `X-Amz-Storage-Class`
 * (as minio-go takes it) the storage class. Other header names are refused rather than dropped.
 */
function putUserMetadata(v: unknown, what: string): Pick<S3Options, 'metadata' | 'storageClass'> {
  const metadata: Record<string, string> = {};
  let storageClass: string | undefined;
  for (const [k, value] of Object.entries(configMapping(v ?? {}, what))) {
    if (k.toLowerCase() === 'x-amz-storage-class') storageClass = String(value);
    else if (/^x-amz-|^(content-|cache-control$|expires$)/i.test(k)) throw new Error(`${what}: ${JSON.stringify(k)} is a request header, which Strata does not set (only X-Amz-Storage-Class and metadata keys)`);
    else metadata[k] = String(value);
  }
  return { ...(Object.keys(metadata).length > 0 ? { metadata } : {}), ...(storageClass !== undefined ? { storageClass } : {}) };
}

/** Thanos' sse_config: SSE-S3 or SSE-KMS on every upload; SSE-C (a key on every read) is refused. */
function sseConfig(v: unknown, what: string): Pick<S3Options, 'sse'> {
  const sse = configMapping(v ?? {}, what, SSE_KEYS);
  const type = sse.type === undefined || sse.type === null ? '' : String(sse.type);
  if (type === '') return {};
  if (type === 'SSE-S3') return { sse: { type } };
  if (type === 'SSE-KMS') {
    if (typeof sse.kms_key_id !== 'string' || sse.kms_key_id === '') throw new Error(`${what}: kms_key_id is required for SSE-KMS`);
    const context = sse.kms_encryption_context === undefined || sse.kms_encryption_context === null ? undefined : configMapping(sse.kms_encryption_context, `${what}: kms_encryption_context`);
    return { sse: { type, kmsKeyId: sse.kms_key_id, ...(context !== undefined ? { kmsEncryptionContext: Object.fromEntries(Object.entries(context).map(([k, x]) => [k, String(x)])) } : {}) } };
  }
  if (type === 'SSE-C') throw new Error(`${what}: SSE-C is not supported (every read would have to send the key); use SSE-S3 or SSE-KMS`);
  throw new Error(`${what}: type must be SSE-S3, SSE-KMS or SSE-C, not ${JSON.stringify(type)}`);
}
