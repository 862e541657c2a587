import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, sleep, startProcess, tempDir, waitForPort, type Managed } from './process.js';
import { makeCertificates } from './certs.js';

export interface RunningRedis {
  /** `127.0.0.1:port`: plain TCP, or TLS when started with `tls`. */
  readonly address: string;
  /** With `tls`: the CA that signed the server's certificate (for 127.0.0.1), and a client certificate and key it signed. */
  readonly tls?: { caFile: string; certFile: string; keyFile: string };
  readonly proc: Managed;
  stop(): Promise<void>;
}

/**
 * Starts Debian's redis-server on 127.0.0.1 at a port the OS picked, without persistence, and waits
 * until it takes connections. `password`: its requirepass; `tls`: TLS only, with a CA, a server and
 * a client certificate made by openssl for it; `replicaOf`: a replica of that `host:port`; `cluster`:
 * with cluster mode enabled (a node of no cluster yet; see startRedisCluster); `port`: at this one
 * (where a client was already pointed).
 */
export async function startRedis(opts: { password?: string; tls?: boolean; replicaOf?: string; cluster?: boolean; port?: number } = {}): Promise<RunningRedis> {
  const port = opts.port ?? (await freePort());
  const dir = await tempDir('strata-redis-');
  const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir.path, ...(opts.password !== undefined ? ['--requirepass', opts.password] : [])];
  if (opts.replicaOf !== undefined) args.push('--replicaof', ...opts.replicaOf.split(':'));
  // Each node writes its view of the cluster to a file of its own. Without full coverage, the nodes
  // left serve their slots when one is down, as a test of a node failing needs.
  if (opts.cluster === true) args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(dir.path, 'nodes.conf'), '--cluster-require-full-coverage', 'no');
  let tls: RunningRedis['tls'];
  if (opts.tls === true) {
    tls = await certificates(dir.path);
    args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', join(dir.path, 'server.crt'), '--tls-key-file', join(dir.path, 'server.key'), '--tls-ca-cert-file', tls.caFile, '--tls-auth-clients', 'optional');
  } else {
    args.push('--port', String(port));
  }
  const proc = startProcess('redis-server', args, { logFile: join(dir.path, 'redis.log') });
  await waitForPort(port, proc, 'redis-server');
  return {
    address: `127.0.0.1:${port}`,
    ...(tls !== undefined ? { tls } : {}),
    proc,
    async stop() {
      await proc.stop();
      await dir.cleanup();
    },
  };
}

/** A CA, and a server certificate for 127.0.0.1 and a client certificate it signed, in `dir`. */
async function certificates(dir: string): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  const file = await makeCertificates(dir, [
    { name: 'server', subject: '/CN=127.0.0.1', ext: 'subjectAltName=IP:127.0.0.1' },
    { name: 'client', subject: '/CN=strata', ext: 'extendedKeyUsage=clientAuth' },
  ]);
  return { caFile: file('ca.crt'), certFile: file('client.crt'), keyFile: file('client.key') };
}

/**
 * Starts a redis-server in Sentinel mode watching `master` as `name` (quorum 1, the master taken down
 * after 1s without an answer), and waits until it takes connections.
 */
export async function startSentinel(name: string, master: string): Promise<RunningRedis> {
  const port = await freePort();
  const dir = await tempDir('strata-sentinel-');
  // A sentinel rewrites its configuration file as it learns the group: it must have one of its own.
  const conf = join(dir.path, 'sentinel.conf');
  const [host, masterPort] = master.split(':');
  await writeFile(conf, `bind 127.0.0.1\nport ${port}\ndir ${dir.path}\nsentinel monitor ${name} ${host} ${masterPort} 1\nsentinel down-after-milliseconds ${name} 1000\nsentinel failover-timeout ${name} 10000\n`);
  const proc = startProcess('redis-server', [conf, '--sentinel'], { logFile: join(dir.path, 'sentinel.log') });
  await waitForPort(port, proc, 'redis-server --sentinel');
  return {
    address: `127.0.0.1:${port}`,
    proc,
    async stop() {
      await proc.stop();
      await dir.cleanup();
    },
  };
}

export interface RunningRedisCluster {
  /** The masters, each owning a third of the slots (redis-cli's split). */
  readonly nodes: readonly RunningRedis[];
  /** Runs `redis-cli` against `node` (with the cluster's password) and resolves with its output, trimmed. */
  cli(node: RunningRedis, ...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts a Redis Cluster of three masters without replicas (`password`: each node's requirepass), made
 * with `redis-cli --cluster create`, and waits until every node says the cluster is ok.
 */
export async function startRedisCluster(opts: { password?: string } = {}): Promise<RunningRedisCluster> {
  const nodes: RunningRedis[] = [];
  const auth = opts.password !== undefined ? ['--no-auth-warning', '-a', opts.password] : [];
  const run = async (args: string[]) => (await promisify(execFile)('redis-cli', [...auth, ...args])).stdout.trim();
  const cli = (node: RunningRedis, ...args: string[]) => run(['-h', '127.0.0.1', '-p', node.address.split(':')[1] as string, ...args]);
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    for (let i = 0; i < 3; i++) nodes.push(await startRedis({ cluster: true, ...(opts.password !== undefined ? { password: opts.password } : {}) }));
    await run(['--cluster', 'create', ...nodes.map((n) => n.address), '--cluster-replicas', '0', '--cluster-yes']);
    for (let i = 0; ; i++) {
      const states = await Promise.all(nodes.map((n) => cli(n, 'CLUSTER', 'INFO')));
      if (states.every((s) => s.includes('cluster_state:ok'))) break;
      if (i > 300) throw new Error(`the redis cluster is not ok after 30s: ${states.join('\n')}`);
      await sleep(100);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { nodes, cli, stop };
}
