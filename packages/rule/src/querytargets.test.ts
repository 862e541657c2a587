import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nopLogger, type DnsResolver } from '@strata/runtime';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QueryTargets } from './querytargets.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-query-targets-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** A resolver answering `answers` in turn (an Error fails that lookup). */
function resolver(answers: (string[] | Error)[]): DnsResolver & { lookups: number } {
  const r = {
    lookups: 0,
    lookup: async (): Promise<string[]> => {
      const a = answers[Math.min(r.lookups++, answers.length - 1)];
      if (a instanceof Error) throw a;
      return a as string[];
    },
    resolveSrv: async () => [],
  };
  return r;
}

describe('QueryTargets', () => {
  it('gives static addresses as URLs, with their scheme and path prefix kept', async () => {
    const t = new QueryTargets({ addresses: ['querier:10902', 'https://q.example.com/prefix/'], logger: nopLogger });
    expect(await t.baseUrls()).toEqual(['http://querier:10902', 'https://q.example.com/prefix']);
  });

  it('asks host:port targets with the scheme and path prefix of their --query.config entry', async () => {
    const t = new QueryTargets({ addresses: ['querier:10902'], scheme: 'https', pathPrefix: '/thanos', logger: nopLogger });
    expect(await t.baseUrls()).toEqual(['https://querier:10902/thanos']);
  });

  it('reads file SD targets, again only after the SD interval, keeping the last targets when a read fails', async () => {
    const file = join(dir, 'queriers.yml');
    await writeFile(file, '- targets: ["a:10902", "b:10902"]\n');
    const t = new QueryTargets({ addresses: [], sdFiles: [file], sdIntervalMs: 0, logger: nopLogger });
    expect(await t.baseUrls()).toEqual(['http://a:10902', 'http://b:10902']);
    await writeFile(file, '[{"targets": ["c:10902"]}]');
    expect(await t.baseUrls()).toEqual(['http://c:10902']);
    await writeFile(file, 'targets: nope');
    expect(await t.baseUrls()).toEqual(['http://c:10902']);
    const cached = new QueryTargets({ addresses: [], sdFiles: [file], sdIntervalMs: 60_000, logger: nopLogger });
    await writeFile(file, '- targets: ["d:1"]\n');
    expect(await cached.baseUrls()).toEqual(['http://d:1']);
    await writeFile(file, '- targets: ["e:1"]\n');
    expect(await cached.baseUrls()).toEqual(['http://d:1']);
  });

  it('looks dns+ addresses up once per DNS interval, keeping the last answer when a lookup fails', async () => {
    const dns = resolver([['10.0.0.1'], new Error('SERVFAIL'), ['10.0.0.2']]);
    const once = new QueryTargets({ addresses: ['dns+querier:10902'], dnsIntervalMs: 60_000, resolver: dns, logger: nopLogger });
    expect(await once.baseUrls()).toEqual(['http://10.0.0.1:10902']);
    expect(await once.baseUrls()).toEqual(['http://10.0.0.1:10902']);
    expect(dns.lookups).toBe(1);
    const every = new QueryTargets({ addresses: ['dns+querier:10902'], dnsIntervalMs: 0, resolver: dns, logger: nopLogger });
    expect(await every.baseUrls()).toEqual([]);
    expect(await every.baseUrls()).toEqual(['http://10.0.0.2:10902']);
  });

  it('tells when no querier is given, and gives gRPC addresses as they are', async () => {
    expect(new QueryTargets({ addresses: [], logger: nopLogger }).none).toBe(true);
    const grpc = new QueryTargets({ addresses: ['querier:10901'], logger: nopLogger });
    expect([grpc.none, await grpc.addresses()]).toEqual([false, ['querier:10901']]);
  });
});
