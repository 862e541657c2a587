import { startMemcached, type RunningMemcached } from '@strata/testing/memcached';
import { sleep } from '@strata/testing/process';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jumpHash, MemcachedClient, DEFAULT_MEMCACHED_CLIENT_CONFIG, type MemcachedClientConfig } from './memcached.js';

let servers: RunningMemcached[] = [];

beforeAll(async () => {
  servers = await Promise.all([startMemcached(), startMemcached()]);
}, 30_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

async function client(cfg: Partial<MemcachedClientConfig> = {}, registry = new Registry()): Promise<MemcachedClient> {
  const c = new MemcachedClient({ ...DEFAULT_MEMCACHED_CLIENT_CONFIG, addresses: [servers[0]!.address], ...cfg }, { name: 'test', registry });
  await c.start();
  return c;
}

/** A counter's value for the labels given, from the registry's text. */
async function counter(registry: Registry, name: string, labels: string): Promise<number> {
  const m = new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(await registry.metrics());
  return m === null ? 0 : Number(m[1]);
}

describe('MemcachedClient against memcached', () => {
  it('sets and gets values, binary ones and empty ones included, and leaves out what memcached lacks', async () => {
    const c = await client();
    const binary = Buffer.from([0, 13, 10, 255, 69, 78, 68, 13, 10]);
    c.setAsync('a', Buffer.from('one'), 60_000);
    c.setAsync('b', binary, 60_000);
    c.setAsync('empty', Buffer.alloc(0), 0);
    await c.flush();
    const got = await c.getMulti(['a', 'b', 'empty', 'missing', 'a']);
    expect([...got.keys()].sort()).toEqual(['a', 'b', 'empty']);
    expect(got.get('a')?.toString()).toBe('one');
    expect(got.get('b')).toEqual(binary);
    expect(got.get('empty')?.length).toBe(0);
    c.stop();
  });

  it('spreads keys over its servers by jump hash and gets them back in batches, from each server its own', async () => {
    const registry = new Registry();
    const both = await client({ addresses: servers.map((s) => s.address), maxGetMultiBatchSize: 3 }, registry);
    const keys = Array.from({ length: 40 }, (_, i) => `spread-${i}`);
    for (const k of keys) both.setAsync(k, Buffer.from(k.toUpperCase()), 60_000);
    await both.flush();
    const all = await both.getMulti(keys);
    expect(keys.every((k) => all.get(k)?.toString() === k.toUpperCase())).toBe(true);
    // Each server alone holds a share: together all of them, none twice.
    const shares = await Promise.all(
      servers.map(async (s) => {
        const one = await client({ addresses: [s.address] });
        const held = [...(await one.getMulti(keys)).keys()];
        one.stop();
        return held;
      }),
    );
    expect(shares[0]!.length).toBeGreaterThan(5);
    expect(shares[1]!.length).toBeGreaterThan(5);
    expect([...shares[0]!, ...shares[1]!].sort()).toEqual([...keys].sort());
    // 40 keys over two servers in batches of 3: at least 14 get commands.
    expect(await counter(registry, 'strata_memcached_operations_total', 'name="test",operation="getmulti"')).toBeGreaterThanOrEqual(14);
    both.stop();
  });

  it('sends the gets made in one turn as one multi-get, each caller answered with its own key', async () => {
    const registry = new Registry();
    const c = await client({}, registry);
    for (let i = 0; i < 10; i++) c.setAsync(`turn-${i}`, Buffer.from(`v${i}`), 60_000);
    await c.flush();
    const before = await counter(registry, 'strata_memcached_operations_total', 'name="test",operation="getmulti"');
    const keys = [...Array.from({ length: 12 }, (_, i) => `turn-${i}`), 'turn-3'];
    const got = await Promise.all(keys.map((k) => c.get(k)));
    expect(got.map((v) => v?.toString())).toEqual([...Array.from({ length: 10 }, (_, i) => `v${i}`), undefined, undefined, 'v3']);
    expect((await counter(registry, 'strata_memcached_operations_total', 'name="test",operation="getmulti"')) - before).toBe(1);
    c.stop();
  });

  it('skips values over max_item_size and keys memcached would refuse, counting them', async () => {
    const registry = new Registry();
    const c = await client({ maxItemSize: 100 }, registry);
    c.setAsync('large', Buffer.alloc(101), 60_000);
    c.setAsync('has space', Buffer.from('x'), 60_000);
    c.setAsync('k'.repeat(251), Buffer.from('x'), 60_000);
    await c.flush();
    expect(await c.getMulti(['large', 'has space'])).toEqual(new Map());
    expect(await counter(registry, 'strata_memcached_operation_skipped_total', 'name="test",operation="set",reason="max-item-size"')).toBe(1);
    expect(await counter(registry, 'strata_memcached_operation_skipped_total', 'name="test",operation="set",reason="malformed-key"')).toBe(2);
    expect(await counter(registry, 'strata_memcached_operation_skipped_total', 'name="test",operation="getmulti",reason="malformed-key"')).toBe(1);
    c.stop();
  });

  it('drops sets beyond max_async_buffer_size instead of queueing without bound', async () => {
    const registry = new Registry();
    const c = await client({ maxAsyncConcurrency: 1, maxAsyncBufferSize: 2 }, registry);
    for (let i = 0; i < 10; i++) c.setAsync(`q${i}`, Buffer.from('v'), 60_000);
    await c.flush();
    // One sent at once, two queued behind it; the other seven dropped.
    expect(await counter(registry, 'strata_memcached_operation_skipped_total', 'name="test",operation="set",reason="async-buffer-full"')).toBe(7);
    expect((await c.getMulti(Array.from({ length: 10 }, (_, i) => `q${i}`))).size).toBe(3);
    c.stop();
  });

  it('lets values expire after their time to live', async () => {
    const c = await client();
    c.setAsync('short', Buffer.from('v'), 1_000);
    c.setAsync('long', Buffer.from('v'), 60_000);
    await c.flush();
    expect((await c.getMulti(['short', 'long'])).size).toBe(2);
    await sleep(2_100);
    expect([...(await c.getMulti(['short', 'long'])).keys()]).toEqual(['long']);
    c.stop();
  });
});

describe('MemcachedClient when memcached closes connections', () => {
  it('opens a new connection where memcached closed the one it kept', async () => {
    // memcached closes connections idle for a second (as a deployment's idle_timeout does, later).
    const closing = await startMemcached({ args: ['-o', 'idle_timeout=1'] });
    try {
      const c = await client({ addresses: [closing.address] });
      c.setAsync('kept', Buffer.from('v'), 60_000);
      await c.flush();
      expect((await c.getMulti(['kept'])).size).toBe(1);
      await sleep(3_000);
      expect((await c.getMulti(['kept'])).size).toBe(1);
      c.stop();
    } finally {
      await closing.stop();
    }
  });
});

describe('jumpHash', () => {
  it('moves only the keys the new bucket takes when a bucket is added, about 1/n of them', () => {
    const keys = Array.from({ length: 2_000 }, (_, i) => BigInt.asUintN(64, BigInt(i) * 0x9e3779b97f4a7c15n));
    for (const n of [1, 2, 5, 9]) {
      let moved = 0;
      for (const k of keys) {
        const before = jumpHash(k, n);
        const after = jumpHash(k, n + 1);
        expect(before).toBeLessThan(n);
        if (after !== before) {
          expect(after).toBe(n);
          moved++;
        }
      }
      expect(moved / keys.length).toBeGreaterThan(0.5 / (n + 1));
      expect(moved / keys.length).toBeLessThan(1.5 / (n + 1));
    }
  });
});
