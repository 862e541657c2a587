import { promises as dns } from 'node:dns';

/**
 * DNS service discovery, as Thanos reads `--endpoint` values and memcached `addresses` with a prefix:
 * `dns+host:port` (every A/AAAA address of host, at port), `dnssrv+name` (every target of the SRV record
 * name at its port, by its addresses) and `dnssrvnoa+name` (the SRV targets by name, not looked up).
 * Kubernetes' headless services answer both kinds, one address per pod.
 */
export interface DnsResolver {
  /** The addresses of a host name. */
  lookup(host: string): Promise<string[]>;
  resolveSrv(name: string): Promise<{ name: string; port: number }[]>;
}

/** The system's: host names as the system resolves them (/etc/hosts included), SRV records from its DNS servers. */
export const systemResolver: DnsResolver = {
  lookup: async (host) => (await dns.lookup(host, { all: true })).map((a) => a.address),
  resolveSrv: (name) => dns.resolveSrv(name),
};

const PREFIXES = ['dns+', 'dnssrv+', 'dnssrvnoa+'] as const;

/** Whether an `--endpoint` value is found by DNS. */
export function isDnsEndpoint(value: string): boolean {
  return PREFIXES.some((p) => value.startsWith(p));
}

/**
 * The `host:port` addresses a `dns+`, `dnssrv+` or `dnssrvnoa+` endpoint stands for now. A name without
 * such records stands for none (a service scaled to zero), as in Thanos; other failures throw.
 */
export async function resolveDnsEndpoint(value: string, given: DnsResolver): Promise<string[]> {
  const resolver: DnsResolver = { lookup: (host) => orNone(given.lookup(host)), resolveSrv: (name) => orNone(given.resolveSrv(name)) };
  if (value.startsWith('dns+')) {
    const hostPort = value.slice('dns+'.length);
    const colon = hostPort.lastIndexOf(':');
    const port = Number(hostPort.slice(colon + 1));
    if (colon < 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`${value}: dns+ needs host:port`);
    const host = hostPort.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    return (await resolver.lookup(host)).map((ip) => join(ip, port));
  }
  const noA = value.startsWith('dnssrvnoa+');
  const name = value.slice(noA ? 'dnssrvnoa+'.length : 'dnssrv+'.length);
  const records = await resolver.resolveSrv(name);
  if (noA) return records.map((r) => join(r.name, r.port));
  const out: string[] = [];
  for (const addresses of await Promise.all(records.map(async (r) => (await resolver.lookup(r.name)).map((ip) => join(ip, r.port))))) out.push(...addresses);
  return out;
}

async function orNone<T>(answer: Promise<T[]>): Promise<T[]> {
  try {
    return await answer;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') return [];
    throw e;
  }
}

function join(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
