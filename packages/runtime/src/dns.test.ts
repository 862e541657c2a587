import { describe, expect, it } from 'vitest';
import { isDnsEndpoint, resolveDnsEndpoint, type DnsResolver } from './dns.js';

const resolver: DnsResolver = {
  lookup: async (host) => ({ 'store.svc': ['10.0.0.1', '10.0.0.2'], 'store-0.store.svc': ['10.0.0.1'], 'v6.svc': ['fd00::1'] })[host] ?? [],
  resolveSrv: async (name) => (name === '_grpc._tcp.store.svc' ? [{ name: 'store-0.store.svc', port: 10901 }, { name: 'v6.svc', port: 10902 }] : []),
};

describe('DNS endpoints', () => {
  it("resolves Thanos' dns+, dnssrv+ and dnssrvnoa+ endpoints", async () => {
    expect(await resolveDnsEndpoint('dns+store.svc:10901', resolver)).toEqual(['10.0.0.1:10901', '10.0.0.2:10901']);
    expect(await resolveDnsEndpoint('dnssrv+_grpc._tcp.store.svc', resolver)).toEqual(['10.0.0.1:10901', '[fd00::1]:10902']);
    expect(await resolveDnsEndpoint('dnssrvnoa+_grpc._tcp.store.svc', resolver)).toEqual(['store-0.store.svc:10901', 'v6.svc:10902']);
    expect(await resolveDnsEndpoint('dnssrv+_grpc._tcp.none.svc', resolver)).toEqual([]);
  });

  it('takes a name without records for no addresses, and fails on other errors', async () => {
    const failing = (code: string): DnsResolver => ({ lookup: () => Promise.reject(Object.assign(new Error(code), { code })), resolveSrv: () => Promise.reject(Object.assign(new Error(code), { code })) });
    for (const code of ['ENOTFOUND', 'ENODATA']) {
      expect(await resolveDnsEndpoint('dns+gone.svc:1', failing(code))).toEqual([]);
      expect(await resolveDnsEndpoint('dnssrv+_grpc._tcp.gone.svc', failing(code))).toEqual([]);
    }
    await expect(resolveDnsEndpoint('dnssrv+_grpc._tcp.store.svc', failing('ETIMEOUT'))).rejects.toThrow('ETIMEOUT');
  });

  it('tells DNS endpoints from addresses, and needs a port with dns+', async () => {
    expect(['dns+a:1', 'dnssrv+a', 'dnssrvnoa+a', 'a:1', 'dnsx+a:1'].map(isDnsEndpoint)).toEqual([true, true, true, false, false]);
    await expect(resolveDnsEndpoint('dns+store.svc', resolver)).rejects.toThrow('dns+store.svc: dns+ needs host:port');
  });
});
