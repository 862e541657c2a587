import { compareStrings, type Label } from '@strata/tsdb';
import xxhash from 'xxhash-wasm';
import { describe, expect, it } from 'vitest';
import {
  type HashringConfig,
  HashringConfigError,
  type HashringEndpoint,
  InsufficientNodesError,
  newHashring,
  NoMatchingHashringError,
  parseHashringsConfig,
} from './hashring.js';

const { h64Raw } = await xxhash();

/** Thanos' labelpb.HashWithPrefix computed here from bytes built by hand. */
function seriesHash(tenant: string, labels: readonly Label[]): bigint {
  const parts = [tenant, ...labels.flatMap((l) => [l.name, l.value])];
  return h64Raw(Buffer.concat(parts.flatMap((p) => [Buffer.from(p, 'utf8'), Buffer.from([0xff])])), 0n);
}

const ring = (endpoints: (string | HashringEndpoint)[], more: Partial<HashringConfig> = {}): HashringConfig => ({
  name: '',
  tenants: [],
  tenantMatcher: 'exact',
  endpoints: endpoints.map((e) => (typeof e === 'string' ? { address: e, az: '' } : e)),
  externalLabels: {},
  ...more,
});

const series = (i: number): Label[] => [
  { name: '__name__', value: 'http_requests_total' },
  { name: 'instance', value: `10.0.${i >> 8}.${i & 255}:9090` },
  { name: 'job', value: 'api' },
];

const addresses = (n: number) => Array.from({ length: n }, (_, i) => `receive-${i}.receive:10901`);

describe('parseHashringsConfig', () => {
  it('reads endpoints as addresses or objects, and defaults what is left out', () => {
    const configs = parseHashringsConfig(
      JSON.stringify([
        { endpoints: ['a:1', { address: 'b:1' }, { address: 'c:1', az: 'z1', capnproto_address: 'c:2' }] },
        {
          hashring: 'eu',
          tenants: ['t1', 'team-*'],
          tenant_matcher_type: 'glob',
          endpoints: ['d:1'],
          algorithm: 'ketama',
          external_labels: { region: 'eu' },
        },
        { hashring: null, tenants: null, tenant_matcher_type: '', endpoints: ['e:1'], algorithm: '', external_labels: null },
      ]),
    );
    expect(configs[0]).toEqual({
      name: '',
      tenants: [],
      tenantMatcher: 'exact',
      endpoints: [
        { address: 'a:1', az: '' },
        { address: 'b:1', az: '' },
        { address: 'c:1', az: 'z1' },
      ],
      externalLabels: {},
    });
    expect(configs[0]).not.toHaveProperty('algorithm');
    expect(configs[1]).toMatchObject({ name: 'eu', tenants: ['t1', 'team-*'], tenantMatcher: 'glob', algorithm: 'ketama' });
    expect(configs[1].externalLabels).toEqual({ region: 'eu' });
    expect(configs[2]).toEqual({ name: '', tenants: [], tenantMatcher: 'exact', endpoints: [{ address: 'e:1', az: '' }], externalLabels: {} });
  });

  it('keeps a "__proto__" external label a label', () => {
    const [config] = parseHashringsConfig('[{"endpoints": ["a:1"], "external_labels": {"__proto__": "x", "a": "b"}}]');
    expect(Object.entries(config.externalLabels)).toEqual([
      ['__proto__', 'x'],
      ['a', 'b'],
    ]);
    expect(Object.getPrototypeOf(config.externalLabels)).toBe(Object.prototype);
  });

  it.each([
    ['[{"endpoints": ["a:1"]', /not valid JSON/],
    ['{"endpoints": ["a:1"]}', /must be a JSON array of hashrings, not an object/],
    ['null', /must be a JSON array of hashrings, not null/],
    ['[]', /^hashring configuration is empty$/],
    ['["a:1"]', /^hashring 0 must be an object, not string "a:1"$/],
    ['[{"endpoints": ["a:1"]}, {"hashring": "eu", "tenant": ["x"], "endpoint": [], "endpoints": ["b:1"]}]', /^hashring 1 \("eu"\): unknown fields "tenant", "endpoint" \(known: hashring, tenants/],
    ['[{"endpoints": ["a:1"], "Algorithm": "ketama"}]', /^hashring 0: unknown field "Algorithm"/],
    ['[{"hashring": 1, "endpoints": ["a:1"]}]', /^hashring 0: "hashring" must be a string, not number 1$/],
    ['[{"hashring": "eu", "tenants": "t1", "endpoints": ["a:1"]}]', /^hashring 0 \("eu"\): "tenants" must be an array of strings$/],
    ['[{"tenants": ["t1", 2], "endpoints": ["a:1"]}]', /^hashring 0: "tenants" must be an array of strings$/],
    ['[{"tenant_matcher_type": "regex", "tenants": ["t"], "endpoints": ["a:1"]}]', /^hashring 0: "tenant_matcher_type" must be "exact" or "glob", not "regex"$/],
    ['[{"tenant_matcher_type": "glob", "tenants": ["ok-*", "team-[a"], "endpoints": ["a:1"]}]', /^hashring 0: tenant pattern "team-\[a" is malformed: syntax error in pattern$/],
    ['[{"hashring": "eu"}]', /^hashring 0 \("eu"\): "endpoints" must be an array of endpoints, not nothing$/],
    ['[{"endpoints": "a:1"}]', /^hashring 0: "endpoints" must be an array of endpoints, not string "a:1"$/],
    ['[{"endpoints": []}]', /^hashring 0: "endpoints" is empty$/],
    ['[{"endpoints": ["a:1", ""]}]', /^hashring 0: endpoint 1: the address is empty$/],
    ['[{"endpoints": [7]}]', /^hashring 0: endpoint 0 must be an address or an object, not number 7$/],
    ['[{"endpoints": [{"az": "z1"}]}]', /^hashring 0: endpoint 0: "address" is missing or empty$/],
    ['[{"endpoints": [{"address": "a:1", "zone": "z1"}]}]', /^hashring 0: endpoint 0: unknown field "zone" \(known: address, az, capnproto_address\)$/],
    ['[{"endpoints": [{"address": "a:1", "az": 1}]}]', /^hashring 0: endpoint 0: "az" must be a string, not number 1$/],
    ['[{"endpoints": ["a:1", {"address": "a:1"}]}]', /^hashring 0: endpoint "a:1" is listed twice$/],
    ['[{"endpoints": ["a:1"], "algorithm": "consistent"}]', /^hashring 0: "algorithm" must be "hashmod" or "ketama", not "consistent"$/],
    ['[{"endpoints": ["a:1"], "external_labels": ["a"]}]', /^hashring 0: "external_labels" must be an object of strings, not an array$/],
    ['[{"endpoints": ["a:1"], "external_labels": {"a": 1}}]', /^hashring 0: external label "a" must be a string, not number 1$/],
  ])('refuses %s', (json, message) => {
    expect(() => parseHashringsConfig(json)).toThrow(HashringConfigError);
    expect(() => parseHashringsConfig(json)).toThrow(message);
  });
});

describe('newHashring', () => {
  it('refuses what the algorithms cannot place, naming the hashring', () => {
    expect(() => newHashring([ring(['a:1', 'b:1'], { name: 'eu' })], 'ketama', 3)).toThrow(
      'hashring 0 ("eu"): ketama: amount of endpoints needs to be larger than replication factor (2 endpoints, replication factor 3)',
    );
    expect(() => newHashring([ring(['a:1']), ring([{ address: 'b:1', az: 'z1' }])], 'hashmod', 1)).toThrow(
      'hashring 1: Hashmod algorithm does not support AZ aware hashring configuration. Either use Ketama or remove AZ configuration.',
    );
    // A hashring's own algorithm overrides the one given.
    expect(() => newHashring([ring([{ address: 'b:1', az: 'z1' }], { algorithm: 'ketama' })], 'hashmod', 1)).not.toThrow();
    expect(() => newHashring([ring(['a:1'], { tenants: ['[x'], tenantMatcher: 'glob' })], 'hashmod', 1)).toThrow(HashringConfigError);
    expect(() => newHashring([], 'hashmod', 1)).toThrow('hashring configuration is empty');
    expect(() => newHashring([ring(['a:1'])], 'hashmod', 0)).toThrow('the replication factor must be a positive integer, not 0');
  });

  it('lists every hashring’s endpoints sorted by address, each once', () => {
    const h = newHashring([ring(['c:1', 'a:1'], { tenants: ['t'] }), ring(['b:1', 'a:1'])], 'hashmod', 1);
    expect(h.nodes().map((e) => e.address)).toEqual(['a:1', 'b:1', 'c:1']);
  });

  it('says how many nodes are missing for a replica past the endpoints, as Thanos', () => {
    const hashmod = newHashring([ring(['a:1', 'b:1'])], 'hashmod', 2);
    expect(() => hashmod.getN('t', series(1), 2)).toThrow(new InsufficientNodesError(2, 3));
    expect(() => hashmod.getN('t', series(1), 2)).toThrow('insufficient nodes; have 2, want 3');
    expect(() => hashmod.replicas('t', series(1), 3, [])).toThrow('insufficient nodes; have 2, want 3');
    const ketama = newHashring([ring(['a:1', 'b:1', 'c:1'])], 'ketama', 2);
    expect(() => ketama.getN('t', series(1), 3)).toThrow('insufficient nodes; have 3, want 4');
    // Beyond the replication factor Thanos' ketama panics.
    expect(() => ketama.getN('t', series(1), 2)).toThrow(RangeError);
    expect(() => ketama.getN('t', series(1), -1)).toThrow(RangeError);
    expect(() => hashmod.getN('t', series(1), 0.5)).toThrow(RangeError);
  });
});

describe('hashmod', () => {
  const endpoints = ['r2:1', 'r0:1', 'r1:1'];
  const sorted = [...endpoints].sort(compareStrings);
  const h = newHashring([ring(endpoints)], 'hashmod', 3);

  it("places replica n of a series on the sorted endpoints' (hash of tenant and labels + n) mod count", () => {
    const cases: [string, Label[]][] = [
      ['default-tenant', series(1)],
      ['team-ä', [{ name: 'a', value: '€' }]],
      ['', []],
    ];
    for (const [tenant, labels] of cases) {
      const hash = seriesHash(tenant, labels);
      for (let n = 0; n < 3; n++) {
        expect(h.getN(tenant, labels, n).address).toBe(sorted[Number((hash + BigInt(n)) % 3n)]);
      }
    }
  });

  it('spreads series evenly, whatever order the endpoints are listed in', () => {
    const counts = new Map<string, number>();
    const other = newHashring([ring([...sorted].reverse())], 'hashmod', 1);
    for (let i = 0; i < 3000; i++) {
      const e = h.getN('t', series(i), 0).address;
      counts.set(e, (counts.get(e) ?? 0) + 1);
      expect(other.getN('t', series(i), 0).address).toBe(e);
    }
    for (const e of sorted) expect(counts.get(e)).toBeGreaterThan(900);
  });

  it('places the replicas replicas() lists as getN does, into the array it is given', () => {
    const out: HashringEndpoint[] = [{ address: 'stale', az: '' }, { address: 'stale', az: '' }, { address: 'stale', az: '' }, { address: 'stale', az: '' }];
    for (let i = 0; i < 100; i++) {
      expect(h.replicas('t', series(i), 3, out)).toBe(out);
      expect(out).toEqual([0, 1, 2].map((n) => h.getN('t', series(i), n)));
    }
    expect(h.replicas('t', series(1), 0, out)).toEqual([]);
  });
});

/** Thanos' ketama ring without zones, built here from its description: a series' replicas by its hash. */
function ketamaReplicas(endpoints: string[], rf: number): (hash: bigint) => string[] {
  const sections = endpoints.flatMap((address) =>
    Array.from({ length: 1000 }, (_, i) => ({ address, hash: h64Raw(Buffer.from(`${address}:${i + 1}`), 0n) })),
  );
  sections.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
  return (hash) => {
    let at = sections.findIndex((s) => s.hash >= hash);
    if (at < 0) at = 0;
    const replicas: string[] = [];
    for (let j = at; replicas.length < rf; j = (j + 1) % sections.length) {
      if (!replicas.includes(sections[j].address)) replicas.push(sections[j].address);
    }
    return replicas;
  };
}

describe('ketama', () => {
  it('places a series on the first section at or after its hash, and its replicas on the next distinct endpoints', () => {
    const endpoints = addresses(5);
    const h = newHashring([ring(endpoints)], 'ketama', 3);
    const replicasOf = ketamaReplicas(endpoints, 3);
    const out: HashringEndpoint[] = [];
    for (let i = 0; i < 1000; i++) {
      const expected = replicasOf(seriesHash('t', series(i)));
      expect([0, 1, 2].map((n) => h.getN('t', series(i), n).address)).toEqual(expected);
      expect(h.replicas('t', series(i), 3, out).map((e) => e.address)).toEqual(expected);
    }
  });

  it('places series the same whatever order the endpoints are listed in', () => {
    const endpoints = addresses(4);
    const a = newHashring([ring(endpoints)], 'ketama', 2);
    const b = newHashring([ring([...endpoints].reverse())], 'ketama', 2);
    for (let i = 0; i < 500; i++) {
      for (let n = 0; n < 2; n++) expect(b.getN('t', series(i), n).address).toBe(a.getN('t', series(i), n).address);
    }
  });

  it('spreads a series’ replicas over the zones first', () => {
    const endpoints = ['a', 'b', 'c', 'd', 'e', 'f'].map((x, i) => ({ address: `${x}:10901`, az: `zone-${i % 3}` }));
    const h = newHashring([ring(endpoints)], 'ketama', 3);
    const out: HashringEndpoint[] = [];
    const primaries = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      h.replicas('t', series(i), 3, out);
      expect(new Set(out.map((e) => e.az)).size).toBe(3);
      expect(new Set(out.map((e) => e.address)).size).toBe(3);
      primaries.add(out[0].address);
    }
    expect(primaries.size).toBe(6);
  });

  it('places every replica where the zones cannot stay even (where Thanos would loop forever)', () => {
    // Zones of 1, 1 and 3 endpoints and 5 replicas: the last zone must take 3.
    const zones = ['z1', 'z2', 'z3', 'z3', 'z3'];
    const h = newHashring([ring(zones.map((az, i) => ({ address: `r${i}:1`, az })))], 'ketama', 5);
    const out: HashringEndpoint[] = [];
    for (let i = 0; i < 200; i++) expect(new Set(h.replicas('t', series(i), 5, out).map((e) => e.address)).size).toBe(5);
  });

  it('moves about a quarter of the series when a fourth endpoint joins; hashmod moves most', () => {
    const moved = (algorithm: 'hashmod' | 'ketama') => {
      const before = newHashring([ring(addresses(3))], algorithm, 1);
      const after = newHashring([ring(addresses(4))], algorithm, 1);
      let count = 0;
      for (let i = 0; i < 10_000; i++) if (before.getN('t', series(i), 0).address !== after.getN('t', series(i), 0).address) count++;
      return count / 10_000;
    };
    const ketama = moved('ketama');
    expect(ketama).toBeGreaterThan(0.18);
    expect(ketama).toBeLessThan(0.32);
    expect(moved('hashmod')).toBeGreaterThan(0.6);
  });
});

describe('tenants', () => {
  const configs = [
    ring(['exact:1'], { tenants: ['a', 'team-*'] }),
    ring(['glob:1'], { tenants: ['team-*', 'x?'], tenantMatcher: 'glob' }),
    ring(['default:1'], { tenants: [] }),
    ring(['later-default:1']),
  ];
  const h = newHashring(configs, 'hashmod', 1);
  const at = (tenant: string) => h.getN(tenant, series(1), 0).address;

  it('go to the first hashring that takes them: exactly, by glob, or one without tenants', () => {
    expect(at('a')).toBe('exact:1');
    expect(at('team-*')).toBe('exact:1');
    expect(at('team-a')).toBe('glob:1');
    expect(at('xy')).toBe('glob:1');
    expect(at('xyz')).toBe('default:1');
    expect(at('b')).toBe('default:1');
    // Again, from the tenants remembered.
    expect(at('team-a')).toBe('glob:1');
    expect(at('b')).toBe('default:1');
  });

  it('are refused where no hashring takes them', () => {
    const strict = newHashring(configs.slice(0, 2), 'hashmod', 1);
    expect(() => strict.getN('b', series(1), 0)).toThrow(new NoMatchingHashringError('b'));
    expect(() => strict.getN('b', series(1), 0)).toThrow('no matching hashring to handle tenant');
    expect(() => strict.replicas('b', series(1), 1, [])).toThrow(NoMatchingHashringError);
    expect(strict.getN('team-b', series(1), 0).address).toBe('glob:1');
  });

  it('take the external labels of their hashring, none where no hashring takes them', () => {
    const labelled = newHashring([ring(['eu:1'], { tenants: ['eu-*'], tenantMatcher: 'glob', externalLabels: { region: 'eu' } }), ring(['us:1'], { tenants: ['us'] })], 'hashmod', 1);
    expect(labelled.externalLabels('eu-a')).toEqual({ region: 'eu' });
    expect(labelled.externalLabels('us')).toEqual({});
    expect(labelled.externalLabels('elsewhere')).toEqual({});
  });

  it('and their series hash differently in the same hashring', () => {
    const shared = newHashring([ring(addresses(8))], 'ketama', 1);
    let differ = 0;
    for (let i = 0; i < 100; i++) if (shared.getN('t1', series(i), 0).address !== shared.getN('t2', series(i), 0).address) differ++;
    expect(differ).toBeGreaterThan(50);
  });
});
