/**
 * Run by kill.test.ts as a separate process (`tsx upload-child.ts <config-file> <block-dir>`): uploads
 * one block, one chunk file at a time, so the test can kill it midway.
 */
import { uploadBlock } from '@strata/block';
import { bucketFromConfigFile } from '@strata/objstore';

const [configFile, blockDir] = process.argv.slice(2) as [string, string];
const bucket = await bucketFromConfigFile(configFile);
await uploadBlock(bucket, blockDir, { concurrency: 1, onProgress: (e) => process.stdout.write(`uploaded ${e.object}\n`) });
await bucket.close();
process.stdout.write('done\n');
