import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { startRedis, startRedisCluster, startSentinel, type RunningRedis, type RunningRedisCluster } from '@strata/testing/redis';
import { freePort, sleep } from '@strata/testing/process';
import { Registry } from 'prom-client';
import { createLogger } from './logger.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_REDIS_CLIENT_CONFIG, RedisClient, type RedisClientConfig } from './redis.js';
import { keySlot } from './rediscluster.js';
import { parseRedisClientConfig } from './redisconfig.js';

let plain: RunningRedis;
let guarded: RunningRedis;
let secure: RunningRedis;

beforeAll(async () => {
  [plain, guarded, secure] = await Promise.all([startRedis(), startRedis({ password: 'sesame' }), startRedis({ tls: true })]);
}, 60_000);

afterAll(async () => {
  await Promise.all([plain, guarded, secure].map((r) => r?.stop()));
});

async function client(cfg: Partial<RedisClientConfig> = {}, registry = new Registry()): Promise<RedisClient> {
  const c = new RedisClient({ ...DEFAULT_REDIS_CLIENT_CONFIG, addr: plain.address, ...cfg }, { name: 'test', registry });
  await c.start();
  return c;
}

async function counter(registry: Registry, name: string, labels: string): Promise<number> {
  const m = new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(await registry.metrics());
  return m === null ? 0 : Number(m[1]);
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; !(await check()); i++) {
    if (i > 300) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('RedisClient against redis-server', () => {
  it('sets and gets values, binary, empty and large ones included, in MGET batches, and leaves out what redis lacks', async () => {
    const registry = new Registry();
    const c = await client({ maxGetMultiBatchSize: 4 }, registry);
    const binary = Buffer.from([0, 13, 10, 36, 45, 49, 13, 10, 42]);
    const large = Buffer.alloc(3 << 20, 7);
    c.setAsync('a', Buffer.from('one'), 60_000);
    c.setAsync('b', binary, 60_000);
    c.setAsync('empty', Buffer.alloc(0), 0);
    c.setAsync('key with spaces\r\n', Buffer.from('ok'), 60_000);
    c.setAsync('large', large, 60_000);
    await c.flush();
    const got = await c.getMulti(['a', 'b', 'empty', 'missing', 'a', 'key with spaces\r\n', 'large']);
    expect([...got.keys()].sort()).toEqual(['a', 'b', 'empty', 'key with spaces\r\n', 'large']);
    expect(got.get('a')?.toString()).toBe('one');
    expect(got.get('b')).toEqual(binary);
    expect(got.get('empty')?.length).toBe(0);
    expect(got.get('large')?.equals(large)).toBe(true);
    // Six distinct keys in batches of four.
    expect(await counter(registry, 'strata_redis_operations_total', 'name="test",operation="getmulti"')).toBe(2);
    // Gets of one turn go out together.
    const together = await Promise.all(['a', 'b', 'missing'].map((k) => c.get(k)));
    expect(together.map((v) => v?.length)).toEqual([3, binary.length, undefined]);
    expect(await counter(registry, 'strata_redis_operations_total', 'name="test",operation="getmulti"')).toBe(3);
    c.stop();
  });

  it('lets values expire after their time to live', async () => {
    const c = await client();
    c.setAsync('short', Buffer.from('v'), 300);
    c.setAsync('long', Buffer.from('v'), 60_000);
    await c.flush();
    expect((await c.getMulti(['short', 'long'])).size).toBe(2);
    await sleep(600);
    expect([...(await c.getMulti(['short', 'long'])).keys()]).toEqual(['long']);
    c.stop();
  });

  it('authenticates and selects its database on every connection', async () => {
    const registry = new Registry();
    const zero = await client({ addr: guarded.address, password: 'sesame' });
    const three = await client({ addr: guarded.address, password: 'sesame', db: 3 });
    zero.setAsync('db', Buffer.from('0'), 60_000);
    three.setAsync('db', Buffer.from('3'), 60_000);
    await Promise.all([zero.flush(), three.flush()]);
    expect((await zero.getMulti(['db'])).get('db')?.toString()).toBe('0');
    expect((await three.getMulti(['db'])).get('db')?.toString()).toBe('3');
    // A wrong password is redis' error, and a miss.
    const wrong = await client({ addr: guarded.address, password: 'open' }, registry);
    expect(await wrong.getMulti(['db'])).toEqual(new Map());
    expect(await counter(registry, 'strata_redis_operation_failures_total', 'name="test",operation="getmulti",reason="server-error"')).toBe(1);
    for (const c of [zero, three, wrong]) c.stop();
  });

  it("talks TLS with the CA, server name and client certificate of Thanos' tls_config", async () => {
    const tls = secure.tls!;
    const yaml = (extra: Record<string, unknown>) => ({ addr: secure.address, tls_enabled: true, tls_config: { ca_file: tls.caFile, cert_file: tls.certFile, key_file: tls.keyFile, ...extra } });
    const c = new RedisClient(parseRedisClientConfig(yaml({}), 'config').client, { name: 'tls' });
    c.setAsync('over-tls', Buffer.from('yes'), 60_000);
    await c.flush();
    expect((await c.getMulti(['over-tls'])).get('over-tls')?.toString()).toBe('yes');
    c.stop();
    // Without the CA the server's certificate is refused, unless told to skip the check.
    const registry = new Registry();
    const untrusted = new RedisClient(parseRedisClientConfig({ addr: secure.address, tls_enabled: true }, 'config').client, { name: 'tls', registry });
    expect(await untrusted.getMulti(['over-tls'])).toEqual(new Map());
    expect(await counter(registry, 'strata_redis_operation_failures_total', 'name="tls",operation="getmulti",reason="network-error"')).toBe(1);
    untrusted.stop();
    const skipping = new RedisClient(parseRedisClientConfig({ addr: secure.address, tls_enabled: true, tls_config: { insecure_skip_verify: true } }, 'config').client, { name: 'tls' });
    expect((await skipping.getMulti(['over-tls'])).size).toBe(1);
    skipping.stop();
  });
});

describe('RedisClient with a single address', () => {
  const slotsAsked = async (node: RunningRedis) =>
    Number(/^cmdstat_cluster\|slots:calls=(\d+)/m.exec((await promisify(execFile)('redis-cli', ['-p', node.address.split(':')[1] as string, 'INFO', 'commandstats'])).stdout)?.[1] ?? 0);

  it('asks its node whether it is a cluster node on first use, once, and takes a standalone server for one', async () => {
    const before = await slotsAsked(plain);
    const c = await client({ maxGetMultiBatchSize: 2 });
    // Not at start: on first use.
    expect(await slotsAsked(plain)).toBe(before);
    // Three batches at once join one question.
    expect(await c.getMulti(['single', 'none-1', 'none-2', 'none-3', 'none-4'])).toEqual(new Map());
    c.setAsync('single', Buffer.from('v'), 60_000);
    await c.flush();
    expect((await c.getMulti(['single'])).get('single')?.toString()).toBe('v');
    expect(await slotsAsked(plain)).toBe(before + 1);
    c.stop();
  });

  it('takes a server down at its first use for a failure, and asks it again on the next', async () => {
    const registry = new Registry();
    const port = await freePort();
    const c = await client({ addr: `127.0.0.1:${port}` }, registry);
    let late: RunningRedis | undefined;
    try {
      expect(await c.getMulti(['k'])).toEqual(new Map());
      expect(await counter(registry, 'strata_redis_operation_failures_total', 'name="test",operation="getmulti",reason="network-error"')).toBe(1);
      late = await startRedis({ port });
      c.setAsync('k', Buffer.from('v'), 60_000);
      await c.flush();
      expect((await c.getMulti(['k'])).get('k')?.toString()).toBe('v');
      expect(await counter(registry, 'strata_redis_operation_failures_total', 'name="test",operation="getmulti",reason="network-error"')).toBe(1);
    } finally {
      c.stop();
      await late?.stop();
    }
  });
});

describe('RedisClient when redis closes connections', () => {
  it('opens a new connection where redis closed the one it kept', async () => {
    const c = await client();
    c.setAsync('kept', Buffer.from('v'), 60_000);
    await c.flush();
    expect((await c.getMulti(['kept'])).size).toBe(1);
    // Redis drops every client connection (as its timeout setting does to idle ones, later).
    const port = plain.address.split(':')[1] as string;
    expect((await promisify(execFile)('redis-cli', ['-p', port, 'CLIENT', 'KILL', 'TYPE', 'normal'])).stdout.trim()).not.toBe('0');
    await sleep(50);
    expect((await c.getMulti(['kept'])).size).toBe(1);
    c.stop();
  });
});

describe('RedisClient with Redis Sentinel', () => {
  const cli = async (address: string, ...args: string[]) => (await promisify(execFile)('redis-cli', ['-h', '127.0.0.1', '-p', address.split(':')[1] as string, ...args])).stdout.trim();

  it('finds the master through the sentinels (asked in turn), and the new master after a failover', async () => {
    const master = await startRedis();
    const replica = await startRedis({ replicaOf: master.address });
    const sentinel = await startSentinel('strata', master.address);
    // The first sentinel named is down: the next one is asked.
    const c = new RedisClient(parseRedisClientConfig({ addr: `127.0.0.1:${await freePort()},${sentinel.address}`, master_name: 'strata' }, 'config').client, { name: 'sentinel' });
    try {
      c.setAsync('k', Buffer.from('before'), 60_000);
      await c.flush();
      expect(await cli(master.address, 'GET', 'k')).toBe('before');
      expect((await c.getMulti(['k'])).get('k')?.toString()).toBe('before');
      // A sentinel that names a replica as the master: the client sees its ROLE and uses no connection to it.
      const replicaPort = replica.address.split(':')[1] as string;
      const lying = createServer((socket) => socket.on('data', () => socket.write(`*2\r\n$9\r\n127.0.0.1\r\n$${replicaPort.length}\r\n${replicaPort}\r\n`)));
      await new Promise<void>((resolve) => lying.listen(0, '127.0.0.1', resolve));
      const registry = new Registry();
      const misled = new RedisClient(parseRedisClientConfig({ addr: `127.0.0.1:${(lying.address() as AddressInfo).port}`, master_name: 'strata' }, 'config').client, { name: 'misled', registry });
      expect(await misled.getMulti(['k'])).toEqual(new Map());
      expect(await counter(registry, 'strata_redis_operation_failures_total', 'name="misled",operation="getmulti",reason="server-error"')).toBe(1);
      misled.stop();
      lying.close();
      // Sentinel learns of the replica from the master's INFO (every 10s) before it can promote it.
      await until('the sentinel to know the synced replica', async () => (await cli(sentinel.address, 'SENTINEL', 'replicas', 'strata')).includes(replica.address.split(':')[1] as string) && (await cli(replica.address, 'INFO', 'replication')).includes('master_link_status:up'));
      expect(await cli(sentinel.address, 'SENTINEL', 'FAILOVER', 'strata')).toBe('OK');
      await until('the replica to be the master', async () => (await cli(sentinel.address, 'SENTINEL', 'get-master-addr-by-name', 'strata')).endsWith(replica.address.split(':')[1] as string));
      await until('the old master to follow it', async () => (await cli(master.address, 'ROLE')).startsWith('slave'));
      // The connection kept to the old master is gone (redis drops its clients as it turns replica; one it kept would fail a write with READONLY and be closed): the next finds the new master.
      await until('a write to reach the new master', async () => {
        c.setAsync('k2', Buffer.from('after'), 60_000);
        await c.flush();
        return (await cli(replica.address, 'GET', 'k2')) === 'after';
      });
      expect((await c.getMulti(['k2'])).get('k2')?.toString()).toBe('after');
    } finally {
      c.stop();
      await Promise.all([sentinel.stop(), replica.stop(), master.stop()]);
    }
  }, 90_000);
});

describe('parseRedisClientConfig', () => {
  it("reads Thanos' keys with Thanos' defaults", () => {
    const { client: cfg, rest } = parseRedisClientConfig(
      { addr: 'redis:6379', username: 'u', password: 'p', db: 2, dial_timeout: '1s', read_timeout: '2s', write_timeout: '500ms', get_multi_batch_size: 10, max_get_multi_concurrency: 5, max_set_multi_concurrency: 7, set_multi_batch_size: 9, max_async_concurrency: 3, max_async_buffer_size: 100, expiration: '1h' },
      'config',
      ['expiration'],
    );
    expect(cfg).toEqual({ ...DEFAULT_REDIS_CLIENT_CONFIG, addr: 'redis:6379', username: 'u', password: 'p', db: 2, dialTimeoutMs: 1_000, timeoutMs: 2_500, maxGetMultiBatchSize: 10, maxGetMultiConcurrency: 5, maxAsyncConcurrency: 3, maxAsyncBufferSize: 100 });
    expect(rest).toEqual({ expiration: '1h' });
    expect(parseRedisClientConfig({ addr: 'r:6379' }, 'config').client).toEqual({ ...DEFAULT_REDIS_CLIENT_CONFIG, addr: 'r:6379' });
  });

  it('refuses what it cannot do, by name, and what is wrong', () => {
    expect(() => parseRedisClientConfig({}, 'config')).toThrow("config.addr: the redis server's host:port is required");
    expect(parseRedisClientConfig({ addr: 'a:1, b:1,c:1', password: 'p' }, 'config').client).toEqual({ ...DEFAULT_REDIS_CLIENT_CONFIG, addr: 'a:1, b:1,c:1', password: 'p' });
    expect(() => parseRedisClientConfig({ addr: 'a:1,b:1', db: 1 }, 'config')).toThrow('config.db: a Redis Cluster (several addresses without master_name) has database 0 only, not 1');
    expect(parseRedisClientConfig({ addr: 'a:1,b:1', db: 0 }, 'config').client.db).toBe(0);
    expect(parseRedisClientConfig({ addr: 's1:26379,s2:26379', master_name: 'm', db: 1 }, 'config').client.db).toBe(1);
    expect(() => new RedisClient({ ...DEFAULT_REDIS_CLIENT_CONFIG, addr: 'a:1,b:1', db: 2 }, { name: 'test' })).toThrow('has database 0 only, not db 2');
    expect(parseRedisClientConfig({ addr: 's1:26379, s2:26379', master_name: 'm' }, 'config').client).toMatchObject({ addr: 's1:26379, s2:26379', masterName: 'm' });
    expect(() => parseRedisClientConfig({ addr: 'a:1', cache_size: '64MB' }, 'config')).toThrow('client-side caching is not supported');
    expect(parseRedisClientConfig({ addr: 'a:1', cache_size: 0 }, 'config').client.addr).toBe('a:1');
    expect(() => parseRedisClientConfig({ addr: 'a:1', addresses: ['x'] }, 'config')).toThrow('unknown or unsupported field "addresses"');
    expect(() => parseRedisClientConfig({ addr: 'a:1', tls_enabled: true, tls_config: { cert_file: '/etc/hostname' } }, 'config')).toThrow('both client key and certificate must be provided');
    expect(() => parseRedisClientConfig({ addr: 'a:1', tls_enabled: true, tls_config: { ca_file: '/nonexistent/ca.crt' } }, 'config')).toThrow('config.tls_config.ca_file');
  });
});

describe('RedisClient with Redis Cluster', () => {
  const port = (node: RunningRedis) => node.address.split(':')[1] as string;
  const keysOn = async (cluster: RunningRedisCluster, node: RunningRedis, pattern: string) => (await cluster.cli(node, 'KEYS', pattern)).split('\n').filter((k) => k !== '');
  /** How many times `node` ran `command` (INFO commandstats). */
  const calls = async (cluster: RunningRedisCluster, node: RunningRedis, command: string) => Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(await cluster.cli(node, 'INFO', 'commandstats'))?.[1] ?? 0);
  /** The failures of `operation`, whatever their reason. */
  const failures = async (registry: Registry, operation: string) =>
    [...(await registry.metrics()).matchAll(new RegExp(`^strata_redis_operation_failures_total\\{name="cluster",operation="${operation}",reason="[^"]*"\\} (\\S+)$`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
  const clusterClient = async (cluster: RunningRedisCluster, registry: Registry) => {
    const c = new RedisClient(parseRedisClientConfig({ addr: cluster.nodes.map((n) => n.address).join(',') }, 'config').client, { name: 'cluster', registry });
    await c.start();
    return c;
  };

  it('computes slots as redis does, hash tags included', () => {
    // The cluster specification's examples, and CRC16/XMODEM's check value.
    expect(keySlot('123456789')).toBe(0x31c3);
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('foo{}{bar}')).not.toBe(keySlot('bar'));
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
    expect(keySlot('foo{bar}{zap}')).toBe(keySlot('bar'));
  });

  it('spreads keys over the masters by slot, hash tags together, and gets them from every node, with AUTH on each', async () => {
    const cluster = await startRedisCluster({ password: 'sesame' });
    const registry = new Registry();
    // The first address is of no node: the next ones are asked for the slot map.
    const c = new RedisClient(parseRedisClientConfig({ addr: [`127.0.0.1:${await freePort()}`, ...cluster.nodes.map((n) => n.address)].join(','), password: 'sesame', get_multi_batch_size: 50 }, 'config').client, { name: 'cluster', registry });
    try {
      await c.start();
      // redis' own slot of keys with and without hash tags, odd ones included.
      for (const key of ['key-1', '{user:7}.series', 'a{}b', '{}{x}', 'a{b', 'a}b{c}', '{{x}}y', 'clé{é}', 'key with spaces']) {
        expect(keySlot(key), key).toBe(Number(await cluster.cli(cluster.nodes[0] as RunningRedis, 'CLUSTER', 'KEYSLOT', key)));
      }
      const keys = Array.from({ length: 300 }, (_, i) => `key-${i}`);
      const tagged = ['{user:7}.postings', '{user:7}.series', '{user:7}.chunks'];
      for (const key of [...keys, ...tagged]) c.setAsync(key, Buffer.from(`value of ${key}`), 60_000);
      await c.flush();
      // Every master holds some of the keys, and each key is on one master only.
      const held = await Promise.all(cluster.nodes.map((n) => keysOn(cluster, n, 'key-*')));
      for (const h of held) expect(h.length).toBeGreaterThan(0);
      expect(held.flat().sort()).toEqual([...keys].sort());
      // Keys with one hash tag are all on one node.
      const tags = await Promise.all(cluster.nodes.map((n) => keysOn(cluster, n, '{user:7}*')));
      expect(tags.filter((t) => t.length > 0)).toEqual([expect.arrayContaining(tagged)]);
      // One get of them all: to each node, its keys in batches of at most 50.
      const before = await counter(registry, 'strata_redis_operations_total', 'name="cluster",operation="getmulti"');
      const got = await c.getMulti([...keys, ...tagged, '{user:7}.missing']);
      expect([...got.keys()].sort()).toEqual([...keys, ...tagged].sort());
      for (const [key, value] of got) expect(value.toString()).toBe(`value of ${key}`);
      const batches = held.map((h, i) => Math.ceil((h.length + ((tags[i] as string[]).length > 0 ? tagged.length + 1 : 0)) / 50)).reduce((a, b) => a + b, 0);
      expect((await counter(registry, 'strata_redis_operations_total', 'name="cluster",operation="getmulti"')) - before).toBe(batches);
      expect(await registry.metrics()).not.toMatch(/^strata_redis_operation_failures_total\{[^}]*\} [1-9]/m);
      // Gets of one turn go out together, to each key's node.
      expect((await Promise.all(['key-1', 'key-2', '{user:7}.chunks', 'missing'].map((k) => c.get(k)))).map((v) => v?.toString())).toEqual(['value of key-1', 'value of key-2', 'value of {user:7}.chunks', undefined]);
    } finally {
      c.stop();
      await cluster.stop();
    }
  }, 60_000);

  it('follows ASK while a slot migrates and MOVED once it has, and then goes to the new master straight', async () => {
    const cluster = await startRedisCluster();
    const registry = new Registry();
    const c = await clusterClient(cluster, registry);
    try {
      const key = 'moving';
      const slot = String(keySlot(key));
      c.setAsync(key, Buffer.from('old'), 60_000);
      await c.flush();
      const holders = await Promise.all(cluster.nodes.map(async (n) => (await cluster.cli(n, 'EXISTS', key)) === '1'));
      const from = holders.indexOf(true);
      const [source, target, third] = [0, 1, 2].map((i) => cluster.nodes[(from + i) % 3] as RunningRedis) as [RunningRedis, RunningRedis, RunningRedis];
      const [sourceId, targetId] = await Promise.all([source, target].map((n) => cluster.cli(n, 'CLUSTER', 'MYID')));
      // The slot's migration begins (as redis-cli --cluster reshard does it).
      expect(await cluster.cli(target, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', sourceId as string)).toBe('OK');
      expect(await cluster.cli(source, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', targetId as string)).toBe('OK');
      // A key of the slot that the source lacks is for the target (ASK): set there, and read from there.
      const added = `{${key}}.added`;
      c.setAsync(added, Buffer.from('added'), 60_000);
      await c.flush();
      expect(await cluster.cli(target, 'CLUSTER', 'GETKEYSINSLOT', slot, '10')).toBe(added);
      expect((await c.getMulti([added])).get(added)?.toString()).toBe('added');
      // Once the key itself has moved, it is read from the target too.
      expect(await cluster.cli(source, 'MIGRATE', '127.0.0.1', port(target), '', '0', '5000', 'KEYS', key)).toBe('OK');
      const asked = await calls(cluster, target, 'asking');
      const mid = await c.getMulti([key, added]);
      expect([...mid].map(([k, v]) => `${k}=${v.toString()}`).sort()).toEqual([`${key}=old`, `${added}=added`]);
      // ASKING before each of the two GETs the source sent on.
      expect(await calls(cluster, target, 'asking')).toBe(asked + 2);
      // The migration ends: the source answers MOVED, which the client follows.
      for (const n of [target, source, third]) expect(await cluster.cli(n, 'CLUSTER', 'SETSLOT', slot, 'NODE', targetId as string)).toBe('OK');
      expect((await c.getMulti([key])).get(key)?.toString()).toBe('old');
      c.setAsync(key, Buffer.from('new'), 60_000);
      await c.flush();
      expect(await cluster.cli(target, 'GET', key)).toBe('new');
      // It reads the slot map again, and from then on asks the target first.
      await until('the key to be read without asking the source', async () => {
        const before = await calls(cluster, source, 'get');
        const value = (await c.getMulti([key])).get(key)?.toString();
        return value === 'new' && (await calls(cluster, source, 'get')) === before;
      });
      expect(await registry.metrics()).not.toMatch(/^strata_redis_operation_failures_total\{[^}]*\} [1-9]/m);
    } finally {
      c.stop();
      await cluster.stop();
    }
  }, 60_000);

  it('takes the keys of a node that is down for misses, still answers those of the others, and reads the slot map again', async () => {
    const cluster = await startRedisCluster();
    const registry = new Registry();
    const c = await clusterClient(cluster, registry);
    try {
      const keys = Array.from({ length: 60 }, (_, i) => `key-${i}`);
      for (const key of keys) c.setAsync(key, Buffer.from(key), 60_000);
      await c.flush();
      expect((await c.getMulti(keys)).size).toBe(keys.length);
      const [lost, ...left] = cluster.nodes as [RunningRedis, ...RunningRedis[]];
      const lostKeys = await keysOn(cluster, lost, '*');
      expect(lostKeys.length).toBeGreaterThan(0);
      const slotReads = async () => (await Promise.all(left.map((n) => calls(cluster, n, 'cluster\\|slots')))).reduce((a, b) => a + b, 0);
      const readsBefore = await slotReads();
      await lost.proc.stop('SIGKILL');
      const got = await c.getMulti(keys);
      expect([...got.keys()].sort()).toEqual(keys.filter((k) => !lostKeys.includes(k)).sort());
      // One failure: the lost node's batch (refused, or cut off on a connection it had kept).
      expect(await failures(registry, 'getmulti')).toBe(1);
      c.setAsync(lostKeys[0] as string, Buffer.from('v'), 60_000);
      await c.flush();
      expect(await failures(registry, 'set')).toBe(1);
      // The nodes left are asked for the slot map; the lost node's slots have no other master, and its keys stay misses.
      await until('a node left to be asked for the slot map', async () => (await slotReads()) > readsBefore);
      expect([...(await c.getMulti(keys)).keys()].sort()).toEqual([...got.keys()].sort());
    } finally {
      c.stop();
      await cluster.stop();
    }
  }, 60_000);

  it("takes a single address of a cluster node for the cluster's seed, as rueidis does, and its node's keys go to it straight once it answered", async () => {
    const cluster = await startRedisCluster({ password: 'sesame' });
    const registry = new Registry();
    const seed = cluster.nodes[1] as RunningRedis;
    const c = new RedisClient(parseRedisClientConfig({ addr: seed.address, password: 'sesame' }, 'config').client, { name: 'cluster', registry });
    try {
      await c.start();
      // Not asked at start: on first use.
      expect(await calls(cluster, seed, 'cluster\\|slots')).toBe(0);
      const keys = Array.from({ length: 300 }, (_, i) => `key-${i}`);
      for (const key of keys) c.setAsync(key, Buffer.from(`value of ${key}`), 60_000);
      await c.flush();
      const held = await Promise.all(cluster.nodes.map((n) => keysOn(cluster, n, 'key-*')));
      for (const h of held) expect(h.length).toBeGreaterThan(0);
      expect(held.flat().sort()).toEqual([...keys].sort());
      const got = await c.getMulti(keys);
      expect([...got.keys()].sort()).toEqual([...keys].sort());
      for (const [key, value] of got) expect(value.toString()).toBe(`value of ${key}`);
      // The other nodes' keys are not sent to the seed first.
      const others = held.filter((_, i) => i !== 1).flat();
      const seedGets = await calls(cluster, seed, 'get');
      expect((await c.getMulti(others)).size).toBe(others.length);
      expect(await calls(cluster, seed, 'get')).toBe(seedGets);
      expect(await registry.metrics()).not.toMatch(/^strata_redis_operation_failures_total\{[^}]*\} [1-9]/m);
    } finally {
      c.stop();
      await cluster.stop();
    }
  }, 60_000);

  it('logs an error and fails every operation, asking no more, when a single address with a db other than 0 is a cluster node', async () => {
    const cluster = await startRedisCluster();
    const registry = new Registry();
    const lines: string[] = [];
    const node = cluster.nodes[0] as RunningRedis;
    const c = new RedisClient(parseRedisClientConfig({ addr: node.address, db: 2 }, 'config').client, { name: 'cluster', registry, logger: createLogger({ write: (l) => lines.push(l) }) });
    try {
      await c.start();
      expect(await c.getMulti(['a', 'b'])).toEqual(new Map());
      c.setAsync('a', Buffer.from('v'), 60_000);
      await c.flush();
      expect(await c.getMulti(['a'])).toEqual(new Map());
      expect(await failures(registry, 'getmulti')).toBe(2);
      expect(await failures(registry, 'set')).toBe(1);
      expect(lines).toEqual([expect.stringMatching(/level=error .*is a node of a Redis Cluster, which has database 0 only, not db 2/)]);
      expect(await calls(cluster, node, 'cluster\\|slots')).toBe(1);
      expect(await Promise.all(cluster.nodes.map((n) => keysOn(cluster, n, '*')))).toEqual([[], [], []]);
    } finally {
      c.stop();
      await cluster.stop();
    }
  }, 60_000);
});
