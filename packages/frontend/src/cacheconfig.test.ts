import { DEFAULT_MEMCACHED_CLIENT_CONFIG, DEFAULT_REDIS_CLIENT_CONFIG } from '@strata/runtime';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RESPONSE_CACHE_BYTES, parseResponseCacheConfig } from './cacheconfig.js';

describe('response cache config', () => {
  it("reads Thanos' IN-MEMORY config, its size by default 1 GiB", () => {
    expect(parseResponseCacheConfig('type: IN-MEMORY')).toEqual({ type: 'IN-MEMORY', maxBytes: DEFAULT_RESPONSE_CACHE_BYTES });
    expect(parseResponseCacheConfig('type: in-memory\nconfig: {max_size: 512MB, max_size_items: 0, validity: 0s}')).toEqual({ type: 'IN-MEMORY', maxBytes: 512 * 1024 ** 2 });
  });

  it("reads Thanos' MEMCACHED config with its client's keys and defaults, and expiration (24h unless given)", () => {
    expect(parseResponseCacheConfig('type: MEMCACHED\nconfig: {addresses: ["dns+memcached:11211"]}')).toEqual({
      type: 'REMOTE',
      cache: { type: 'MEMCACHED', client: { ...DEFAULT_MEMCACHED_CLIENT_CONFIG, addresses: ['dns+memcached:11211'] } },
      expirationMs: 24 * 3_600_000,
    });
    const full = `type: MEMCACHED
config:
  addresses: [a:11211, b:11211]
  timeout: 1s
  max_idle_connections: 50
  max_async_concurrency: 5
  max_async_buffer_size: 100
  max_get_multi_concurrency: 10
  max_get_multi_batch_size: 20
  max_item_size: 2MiB
  dns_provider_update_interval: 30s
  expiration: 6h
  auto_discovery: false
`;
    expect(parseResponseCacheConfig(full)).toEqual({
      type: 'REMOTE',
      cache: {
        type: 'MEMCACHED',
        client: {
        addresses: ['a:11211', 'b:11211'],
        timeoutMs: 1000,
        maxIdleConnections: 50,
        maxAsyncConcurrency: 5,
        maxAsyncBufferSize: 100,
        maxGetMultiConcurrency: 10,
        maxGetMultiBatchSize: 20,
        maxItemSize: 2 * 1024 ** 2,
        dnsProviderUpdateIntervalMs: 30_000,
        },
      },
      expirationMs: 6 * 3_600_000,
    });
  });

  it("reads Thanos' REDIS config with its client's keys and defaults, and expiration", () => {
    expect(parseResponseCacheConfig('type: REDIS\nconfig: {addr: "redis:6379", password: pw, expiration: 1h}')).toEqual({
      type: 'REMOTE',
      cache: { type: 'REDIS', client: { ...DEFAULT_REDIS_CLIENT_CONFIG, addr: 'redis:6379', password: 'pw' } },
      expirationMs: 3_600_000,
    });
  });

  it('refuses what it cannot do, saying which key', () => {
    const what = '--query-range.response-cache-config';
    expect(() => parseResponseCacheConfig('type: REDIS_CLUSTER\nconfig: {addr: r:6379}', what)).toThrow(`${what}: unsupported cache type "REDIS_CLUSTER" (supported: IN-MEMORY, MEMCACHED, REDIS)`);
    expect(() => parseResponseCacheConfig('type: REDIS\nconfig: {addr: "r:6379,s:6379", db: 1}', what)).toThrow(`${what}: config.db: a Redis Cluster (several addresses without master_name) has database 0 only, not 1`);
    expect(() => parseResponseCacheConfig('type: MEMCACHED\nconfig: {timeout: 1s}', what)).toThrow(`${what}: config.addresses: a list of memcached addresses`);
    expect(() => parseResponseCacheConfig('type: MEMCACHED\nconfig: {addresses: [a:1], auto_discovery: true}', what)).toThrow(/auto_discovery: AWS ElastiCache auto discovery is not supported/);
    expect(() => parseResponseCacheConfig('type: MEMCACHED\nconfig: {addresses: [a:1], timeout: soon}', what)).toThrow(`${what}: config.timeout: invalid duration "soon"`);
    expect(() => parseResponseCacheConfig('type: MEMCACHED\nconfig: {addresses: [a:1], max_idle_connections: -1}', what)).toThrow(/max_idle_connections: want a whole number/);
    expect(() => parseResponseCacheConfig('type: MEMCACHED\nconfig: {addresses: [a:1], max_async_concurrency: 0}', what)).toThrow(/max_async_concurrency: must be positive/);
    expect(() => parseResponseCacheConfig('type: MEMCACHED\nconfig: {addresses: [a:1], servers: [b]}', what)).toThrow(/servers/);
  });
});
