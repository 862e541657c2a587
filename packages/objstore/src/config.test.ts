import { describe, expect, it } from 'vitest';
import { parseBucketConfig, parseDuration } from './config.js';

describe('parseBucketConfig', () => {
  it('reads an S3 config with Thanos field names', () => {
    const cfg = parseBucketConfig(`type: s3
config:
  bucket: blocks
  endpoint: minio:9000
  access_key: ak
  secret_key: sk
  insecure: true
  part_size: 16777216
  http_config:
    response_header_timeout: 1m30s
    idle_conn_timeout: 90s
prefix: tenant/a
`);
    expect(cfg).toMatchObject({ type: 'S3', prefix: 'tenant/a', s3: { bucket: 'blocks', endpoint: 'minio:9000', accessKey: 'ak', secretKey: 'sk', insecure: true, partSize: 16777216, http: { responseHeaderTimeoutMs: 90_000, idleConnTimeoutMs: 90_000 } } });
  });

  it('reads a FILESYSTEM config', () => {
    expect(parseBucketConfig('type: FILESYSTEM\nconfig:\n  directory: /data/bucket\n')).toEqual({ type: 'FILESYSTEM', directory: '/data/bucket', prefix: '' });
  });

  it('rejects unknown fields, unknown types and missing required fields, naming the config', () => {
    expect(() => parseBucketConfig('type: S3\nconfig:\n  bucket: b\n  endpoint: e\n  sse_config: {}\n', 'bucket.yml')).toThrow(/bucket.yml: config: unknown or unsupported field "sse_config"/);
    expect(() => parseBucketConfig('type: GCS\nconfig: {}\n')).toThrow(/unsupported bucket type "GCS"/);
    expect(() => parseBucketConfig('type: S3\nconfig:\n  endpoint: e\n')).toThrow(/config.bucket is required/);
    expect(() => parseBucketConfig('type: FILESYSTEM\nconfig: {}\n')).toThrow(/config.directory is required/);
    expect(() => parseBucketConfig('type: S3\nconfig:\n  bucket: b\n  endpoint: e\n  http_config:\n    idle_conn_timeout: soon\n')).toThrow(/idle_conn_timeout: invalid duration/);
  });
});

describe('parseDuration', () => {
  it('parses Go and Prometheus durations', () => {
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('48h')).toBe(172_800_000);
    expect(parseDuration('2d')).toBe(172_800_000);
    expect(parseDuration('0')).toBe(0);
    expect(() => parseDuration('5 minutes')).toThrow(/invalid duration/);
  });
});
