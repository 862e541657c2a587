import type { Command } from 'commander';
import { bucketFromConfigFile, newBucket, parseBucketConfig, type Bucket, type NewBucketOptions } from '@strata/objstore';

/** Thanos' object store flags: `--objstore.*`, `--objstore-to.*` for the target of `tools bucket replicate`, `--objstore-backup.*` for `tools bucket verify --repair`'s backups. */
export type ObjstoreFlags = 'objstore' | 'objstore-to' | 'objstore-backup';

/** Adds `--<flags>.config-file` and `--<flags>.config` (the same YAML inline, as Thanos takes it in Kubernetes manifests). */
export function withObjstoreFlags(cmd: Command, flags: ObjstoreFlags, what: string): Command {
  return cmd
    .option(`--${flags}.config-file <path>`, `${what}: object store configuration file (YAML, Thanos format: type S3 or FILESYSTEM)`)
    .option(`--${flags}.config <yaml>`, `${what}: the same configuration inline, instead of --${flags}.config-file`);
}

/** The bucket the flags configure; undefined when neither flag is given. */
export async function bucketFromFlags(o: Record<string, unknown>, flags: ObjstoreFlags, opts: NewBucketOptions = {}): Promise<Bucket | undefined> {
  // Commander's attribute names: `objstore-to` → `objstoreTo`.
  const key = flags.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const file = o[`${key}.configFile`] as string | undefined;
  const inline = o[`${key}.config`] as string | undefined;
  if (file !== undefined && inline !== undefined) throw new Error(`give only one of --${flags}.config-file and --${flags}.config`);
  if (inline !== undefined) return newBucket(parseBucketConfig(inline, `--${flags}.config`), opts);
  return file === undefined ? undefined : bucketFromConfigFile(file, opts);
}

/** The bucket the flags configure; an error naming both flags when neither is given. */
export async function requiredBucketFromFlags(o: Record<string, unknown>, flags: ObjstoreFlags, opts: NewBucketOptions = {}): Promise<Bucket> {
  const b = await bucketFromFlags(o, flags, opts);
  if (b === undefined) throw new Error(`no object store: give --${flags}.config-file or --${flags}.config`);
  return b;
}
