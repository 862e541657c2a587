import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { newBucket, parseBucketConfig, parseDuration } from './config.js';

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

  it("takes Thanos' documented S3 config as it is: every field, with its defaults", () => {
    const cfg = parseBucketConfig(`type: S3
config:
  bucket: "thanos"
  endpoint: "s3.eu-west-1.amazonaws.com"
  region: ""
  disable_dualstack: false
  aws_sdk_auth: false
  access_key: "ak"
  insecure: false
  signature_version2: false
  secret_key: "sk"
  session_token: ""
  put_user_metadata: {}
  http_config:
    idle_conn_timeout: 1m30s
    response_header_timeout: 2m
    insecure_skip_verify: false
    tls_handshake_timeout: 10s
    expect_continue_timeout: 1s
    max_idle_conns: 100
    max_idle_conns_per_host: 100
    max_conns_per_host: 0
    tls_config:
      ca_file: ""
      cert_file: ""
      key_file: ""
      server_name: ""
      insecure_skip_verify: false
    disable_compression: false
  trace:
    enable: false
  list_objects_version: ""
  bucket_lookup_type: auto
  send_content_md5: true
  disable_multipart: false
  part_size: 67108864
  sse_config:
    type: ""
    kms_key_id: ""
    kms_encryption_context: {}
    encryption_key: ""
  sts_endpoint: ""
  max_retries: 0
prefix: ""
`);
    expect(cfg).toMatchObject({ type: 'S3', s3: { bucket: 'thanos', accessKey: 'ak', partSize: 67108864, http: { insecureSkipVerify: false } } });
    const s3 = (cfg as unknown as { s3: Record<string, unknown> }).s3;
    for (const k of ['sse', 'metadata', 'storageClass', 'listObjectsV1']) expect(s3[k], k).toBeUndefined();
    expect((s3.http as Record<string, unknown>).tls).toBeUndefined();
  });

  it('reads tls_config, put_user_metadata, sse_config and list_objects_version', () => {
    const cfg = parseBucketConfig(`type: S3
config:
  bucket: b
  endpoint: minio:9000
  http_config:
    tls_config: { ca_file: /etc/ca.pem, cert_file: /etc/c.pem, key_file: /etc/k.pem, server_name: minio.local, insecure_skip_verify: true }
  put_user_metadata: { team: obs, X-Amz-Storage-Class: STANDARD_IA }
  sse_config: { type: SSE-KMS, kms_key_id: key-1, kms_encryption_context: { app: strata } }
  bucket_lookup_type: path
  list_objects_version: v1
`);
    expect(cfg).toMatchObject({
      s3: {
        http: { insecureSkipVerify: true, tls: { caFile: '/etc/ca.pem', certFile: '/etc/c.pem', keyFile: '/etc/k.pem', serverName: 'minio.local', insecureSkipVerify: true } },
        metadata: { team: 'obs' },
        storageClass: 'STANDARD_IA',
        sse: { type: 'SSE-KMS', kmsKeyId: 'key-1', kmsEncryptionContext: { app: 'strata' } },
        listObjectsV1: true,
      },
    });
    expect(parseBucketConfig('type: S3\nconfig: { bucket: b, endpoint: e, sse_config: { type: SSE-S3 } }\n')).toMatchObject({ s3: { sse: { type: 'SSE-S3' } } });
  });

  it('refuses what it cannot do, saying so: SigV2, SSE-C, SSE-KMS without a key, header metadata, half a client certificate, unknown bucket lookups', () => {
    const s3 = (more: string) => () => parseBucketConfig(`type: S3\nconfig:\n  bucket: b\n  endpoint: e\n${more}`, 'bucket.yml');
    expect(s3('  signature_version2: true\n')).toThrow(/bucket.yml: config.signature_version2: Strata signs requests with AWS Signature Version 4 only/);
    expect(s3('  sse_config: { type: SSE-C, encryption_key: /k }\n')).toThrow(/SSE-C is not supported/);
    expect(s3('  sse_config: { type: SSE-KMS }\n')).toThrow(/kms_key_id is required for SSE-KMS/);
    expect(s3('  sse_config: { type: AES }\n')).toThrow(/type must be SSE-S3, SSE-KMS or SSE-C/);
    expect(s3('  put_user_metadata: { Content-Type: text/plain }\n')).toThrow(/"Content-Type" is a request header/);
    expect(s3('  http_config: { tls_config: { cert_file: /c.pem } }\n')).toThrow(/cert_file and key_file go together/);
    expect(s3('  bucket_lookup_type: virtual-hosted\n')()).toMatchObject({ s3: { bucketLookup: 'virtual-hosted' } });
    expect(s3('  bucket_lookup_type: dns\n')).toThrow(/bucket_lookup_type must be auto, path or virtual-hosted/);
    expect(s3('  list_objects_version: v3\n')).toThrow(/list_objects_version must be v1 or v2/);
    expect(s3('  trace: { enable: true, verbose: true }\n')).toThrow(/config.trace: unknown or unsupported field "verbose"/);
  });

  it('reads a FILESYSTEM config', () => {
    expect(parseBucketConfig('type: FILESYSTEM\nconfig:\n  directory: /data/bucket\n')).toEqual({ type: 'FILESYSTEM', directory: '/data/bucket', prefix: '' });
  });

  it('makes a bucket of local files, or not, as readers see it through the wrappers', () => {
    const registry = new Registry();
    expect(newBucket(parseBucketConfig('type: FILESYSTEM\nconfig:\n  directory: /data/bucket\nprefix: tenant\n'), { registry }).local).toBe(true);
    expect(newBucket(parseBucketConfig('type: S3\nconfig:\n  bucket: b\n  endpoint: e\n'), { registry }).local).toBeUndefined();
  });

  it('rejects unknown fields, unknown types and missing required fields, naming the config', () => {
    expect(() => parseBucketConfig('type: S3\nconfig:\n  bucket: b\n  endpoint: e\n  storage_class: STANDARD\n', 'bucket.yml')).toThrow(/bucket.yml: config: unknown or unsupported field "storage_class"/);
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
