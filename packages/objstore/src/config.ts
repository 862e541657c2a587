import { readFile } from 'node:fs/promises';
import type { Registry } from 'prom-client';
import { parse as parseYaml } from 'yaml';
import type { Bucket } from './bucket.js';
import { FilesystemBucket } from './filesystem.js';
import { InstrumentedBucket } from './metrics.js';
import { PrefixedBucket } from './prefixed.js';
import { DEFAULT_RETRY_POLICY, RetryingBucket, type RetryPolicy } from './retry.js';
import { S3Bucket, type S3Options } from './s3.js';

/** Thanos' objstore config (`--objstore.config-file`), after validation. */
export type BucketConfig = { type: 'S3'; s3: S3Options; prefix: string; maxRetries?: number } | { type: 'FILESYSTEM'; directory: string; prefix: string };

const S3_KEYS = new Set(['bucket', 'endpoint', 'region', 'access_key', 'secret_key', 'session_token', 'insecure', 'part_size', 'disable_multipart', 'max_retries', 'http_config']);
const HTTP_KEYS = new Set(['idle_conn_timeout', 'response_header_timeout', 'tls_handshake_timeout', 'max_conns_per_host', 'max_idle_conns', 'max_idle_conns_per_host', 'insecure_skip_verify', 'expect_continue_timeout']);

/**
 * Parses the YAML config. Like Thanos it is strict: an unknown key is an error rather than a
 * silently ignored setting. `what` names the config (usually its file) in errors.
 */
export function parseBucketConfig(text: string, what = 'objstore config'): BucketConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new Error(`${what}: invalid YAML: ${(e as Error).message}`);
  }
  const top = asMap(doc, what);
  checkKeys(top, new Set(['type', 'config', 'prefix']), what);
  const type = String(top.type ?? '').toUpperCase();
  const prefix = top.prefix === undefined || top.prefix === null ? '' : String(top.prefix);
  const cfg = asMap(top.config ?? {}, `${what}: config`);
  if (type === 'FILESYSTEM') {
    checkKeys(cfg, new Set(['directory']), `${what}: config`);
    if (typeof cfg.directory !== 'string' || cfg.directory === '') throw new Error(`${what}: config.directory is required for type FILESYSTEM`);
    return { type: 'FILESYSTEM', directory: cfg.directory, prefix };
  }
  if (type !== 'S3') throw new Error(`${what}: unsupported bucket type ${JSON.stringify(top.type)} (supported: S3, FILESYSTEM)`);
  checkKeys(cfg, S3_KEYS, `${what}: config`);
  const http = asMap(cfg.http_config ?? {}, `${what}: config.http_config`);
  checkKeys(http, HTTP_KEYS, `${what}: config.http_config`);
  const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
  const s3: S3Options = {
    bucket: str(cfg.bucket) ?? '',
    endpoint: str(cfg.endpoint) ?? '',
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
      insecureSkipVerify: http.insecure_skip_verify === true,
    },
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

function asMap(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what}: expected a mapping`);
  return v as Record<string, unknown>;
}

function checkKeys(m: Record<string, unknown>, allowed: Set<string>, what: string): void {
  for (const k of Object.keys(m)) if (!allowed.has(k)) throw new Error(`${what}: unknown or unsupported field ${JSON.stringify(k)}`);
}
