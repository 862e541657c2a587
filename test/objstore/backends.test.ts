import { FilesystemBucket, InMemoryBucket, newBucket, parseBucketConfig } from '@strata/objstore';
import { tempDir } from '@strata/testing/process';
import { startS3rver } from '@strata/testing/s3';
import { bucketContract } from './contract.js';

bucketContract('in-memory', async () => ({ bucket: new InMemoryBucket(), teardown: async () => {} }));

bucketContract('filesystem', async () => {
  const dir = await tempDir();
  return { bucket: new FilesystemBucket(dir.path), teardown: dir.cleanup };
});

bucketContract('s3rver (from objstore YAML config, with prefix)', async () => {
  const s3 = await startS3rver();
  const bucket = newBucket(parseBucketConfig(s3.configYaml({ prefix: 'tenant-a' })));
  return { bucket, teardown: () => s3.stop() };
});

bucketContract('s3rver with multipart uploads (5 MiB parts)', async () => {
  const s3 = await startS3rver();
  const bucket = newBucket(parseBucketConfig(s3.configYaml({ partSize: 5 * 1024 * 1024 })));
  return { bucket, teardown: () => s3.stop() };
});
