import { configMapping, parseBytes, parseYamlConfig } from '@strata/objstore';
import { configDuration, parseRemoteCacheConfig, type RemoteCacheConfig } from '@strata/runtime';

/**
 * Thanos' caching bucket config (`--store.caching-bucket.config(-file)`), after validation: the
 * IN-MEMORY backend's bounds (or the MEMCACHED or REDIS client), and how GetRange of `chunks/*` objects is
 * cached. Sizes in bytes, durations in ms.
 */
export interface CachingBucketConfig {
  /** type: MEMCACHED or REDIS: the pieces are kept there, by this client. */
  remote?: RemoteCacheConfig;
  /** config.max_size: bytes the cache may hold (default 250 MiB, as Thanos' in-memory cache; in memcached or redis, theirs). */
  maxSize: number;
  /** config.max_item_size: larger items are not cached (default 125 MiB; in memcached, the client's max_item_size, 1 MiB). */
  maxItemSize: number;
  /** chunk_subrange_size: chunk objects are cached in aligned pieces of this many bytes (default 16000). */
  chunkSubrangeSize: number;
  /** max_chunks_get_range_requests: bucket reads one GetRange may make for its missing pieces (default 3; 0 = one per run of missing pieces). */
  maxChunksGetRangeRequests: number;
  /** chunk_subrange_ttl: how long a piece stays valid (default 24h). */
  chunkSubrangeTtlMs: number;
}

const TOP_KEYS = new Set([
  'type',
  'config',
  'chunk_subrange_size',
  'max_chunks_get_range_requests',
  'chunk_subrange_ttl',
  // Thanos also caches chunk object sizes and block metadata with these. Accepted so a Thanos config
  // works as is, but not needed here: segment sizes come from meta.json and the store keeps metas on
  // local disk already.
  'chunk_object_attrs_ttl',
  'blocks_iter_ttl',
  'metafile_exists_ttl',
  'metafile_doesnt_exist_ttl',
  'metafile_content_ttl',
  'metafile_max_size',
]);
const IGNORED_DURATIONS = ['chunk_object_attrs_ttl', 'blocks_iter_ttl', 'metafile_exists_ttl', 'metafile_doesnt_exist_ttl', 'metafile_content_ttl'];

/**
 * Parses the YAML, e.g.
 * `type: IN-MEMORY`, `config: {max_size: 512MiB, max_item_size: 16MiB}`, `chunk_subrange_size: 16000`,
 * `max_chunks_get_range_requests: 3`, `chunk_subrange_ttl: 24h`. Strict like Thanos: an unknown key
 * is an error. `type: MEMCACHED` takes Thanos' memcached client keys under `config`, `type: REDIS` its redis client's.
 */
export function parseCachingBucketConfig(text: string, what = 'caching bucket config'): CachingBucketConfig {
  const top = configMapping(parseYamlConfig(text, what), what, TOP_KEYS);
  const type = String(top.type ?? '').toUpperCase();
  if (type !== 'IN-MEMORY' && type !== 'MEMCACHED' && type !== 'REDIS') throw new Error(`${what}: unsupported cache type ${JSON.stringify(top.type)} (supported: IN-MEMORY, MEMCACHED, REDIS)`);
  const remote = type !== 'IN-MEMORY' ? parseRemoteCacheConfig(type, top.config ?? {}, `${what}: config`).cache : undefined;
  const bytes = (v: unknown, field: string, dflt: number) => (v === undefined || v === null ? dflt : parseBytes(String(v), `${what}: ${field}`));
  const count = (v: unknown, field: string, dflt: number) => {
    if (v === undefined || v === null) return dflt;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${what}: ${field} must be a non-negative integer, not ${JSON.stringify(v)}`);
    return n;
  };
  const duration = (v: unknown, field: string, dflt: number) => (v === undefined || v === null ? dflt : configDuration(v, `${what}: ${field}`));
  // memcached and redis bound what they hold themselves; their items, by the client's max_item_size.
  const backend = remote !== undefined ? undefined : configMapping(top.config ?? {}, `${what}: config`, new Set(['max_size', 'max_item_size']));
  const out: CachingBucketConfig = {
    ...(remote !== undefined ? { remote } : {}),
    maxSize: backend !== undefined ? bytes(backend.max_size, 'config.max_size', 250 * 1024 * 1024) : Number.MAX_SAFE_INTEGER,
    maxItemSize: backend !== undefined ? bytes(backend.max_item_size, 'config.max_item_size', 125 * 1024 * 1024) : (remote as RemoteCacheConfig).client.maxItemSize,
    chunkSubrangeSize: bytes(top.chunk_subrange_size, 'chunk_subrange_size', 16_000),
    maxChunksGetRangeRequests: count(top.max_chunks_get_range_requests, 'max_chunks_get_range_requests', 3),
    chunkSubrangeTtlMs: duration(top.chunk_subrange_ttl, 'chunk_subrange_ttl', 24 * 3_600_000),
  };
  for (const k of IGNORED_DURATIONS) duration(top[k], k, 0);
  bytes(top.metafile_max_size, 'metafile_max_size', 0);
  if (out.maxItemSize > out.maxSize) throw new Error(`${what}: config.max_item_size (${out.maxItemSize}) cannot be bigger than config.max_size (${out.maxSize})`);
  if (out.chunkSubrangeSize < 1) throw new Error(`${what}: chunk_subrange_size must be at least 1`);
  if (out.chunkSubrangeSize > out.maxItemSize) throw new Error(`${what}: chunk_subrange_size (${out.chunkSubrangeSize}) is bigger than config.max_item_size (${out.maxItemSize}): nothing could be cached`);
  if (out.chunkSubrangeTtlMs <= 0) throw new Error(`${what}: chunk_subrange_ttl must be positive`);
  return out;
}
