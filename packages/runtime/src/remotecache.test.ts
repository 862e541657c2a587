import { startSilentServer } from '@strata/testing/process';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MEMCACHED_CLIENT_CONFIG, MemcachedClient } from './memcached.js';
import { DEFAULT_REDIS_CLIENT_CONFIG, RedisClient } from './redis.js';
import type { RemoteCacheClient } from './remotecache.js';

/** Each remote cache client, made for one server with an answer timeout. */
const CLIENTS: { system: string; make(address: string, timeoutMs: number, registry: Registry): RemoteCacheClient }[] = [
  { system: 'memcached', make: (address, timeoutMs, registry) => new MemcachedClient({ ...DEFAULT_MEMCACHED_CLIENT_CONFIG, addresses: [address], timeoutMs }, { name: 'test', registry }) },
  { system: 'redis', make: (address, timeoutMs, registry) => new RedisClient({ ...DEFAULT_REDIS_CLIENT_CONFIG, addr: address, timeoutMs }, { name: 'test', registry }) },
];

let silent: Awaited<ReturnType<typeof startSilentServer>>;

beforeAll(async () => {
  silent = await startSilentServer();
});

afterAll(() => silent.stop());

describe.each(CLIENTS)('$system client when the server fails', ({ system, make }) => {
  const failures = async (registry: Registry, operation: string, reason: string) => {
    const m = new RegExp(`^strata_${system}_operation_failures_total\\{name="test",operation="${operation}",reason="${reason}"\\} (\\S+)$`, 'm').exec(await registry.metrics());
    return m === null ? 0 : Number(m[1]);
  };

  it('takes a server that is down or does not answer for misses, by reason, without failing the caller', async () => {
    const registry = new Registry();
    const down = make('127.0.0.1:1', 500, registry);
    await down.start();
    expect(await down.getMulti(['a'])).toEqual(new Map());
    down.setAsync('a', Buffer.from('v'), 1_000);
    await down.flush();
    expect(await failures(registry, 'getmulti', 'network-error')).toBe(1);
    expect(await failures(registry, 'set', 'network-error')).toBe(1);
    down.stop();
    const mute = make(silent.address, 100, registry);
    await mute.start();
    const started = Date.now();
    expect(await mute.getMulti(['a'])).toEqual(new Map());
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await failures(registry, 'getmulti', 'timeout')).toBe(1);
    mute.stop();
  });
});
