/**
 * Thanos Receive's hashrings (pkg/receive/hashring.go): which receivers store a tenant's series, and
 * which of them holds which replica. Every receiver computes the same answer from the configuration
 * alone, so the hashrings file is all the cluster has to agree on.
 *
 * The file (`--receive.hashrings-file`, `--receive.hashrings`) is a JSON array of hashrings:
 *
 *   [{ "hashring": "eu", "tenants": ["team-*"], "tenant_matcher_type": "glob",
 *      "endpoints": ["r1:10901", { "address": "r2:10901", "az": "eu-1a" }],
 *      "algorithm": "ketama", "external_labels": { "region": "eu" } }]
 *
 * A tenant writes to the first hashring whose tenants match it (exactly, or as Go's filepath.Match
 * patterns); one without tenants takes every tenant. A series is placed by xxhash64 of its tenant and
 * labels (Thanos' labelpb.HashWithPrefix), so all its samples go where its head already is:
 *
 *   hashmod  replica n on the endpoint (hash + n) mod count, endpoints sorted by address. Adding an
 *            endpoint moves nearly every series to another receiver, which then starts a new head.
 *   ketama   a consistent-hash ring of 1000 points per endpoint: a series goes to the first point at or
 *            after its hash and its replicas to the next distinct endpoints, spread over availability
 *            zones before any zone takes two. Adding an N+1th endpoint moves about 1/(N+1) of them.
 *
 * A bad file is refused whole when it is loaded, naming the hashring and what is wrong, rather than
 * failing writes later. Unknown fields are refused too: a misspelt "tenants" would otherwise quietly
 * make a hashring take every tenant.
 */
import { BadPatternError, matchPattern } from '@strata/runtime';
import { compareStrings, labelsHashWithPrefix, type Label } from '@strata/tsdb';
import xxhash from 'xxhash-wasm';

const { h64 } = await xxhash();

export type HashringAlgorithm = 'hashmod' | 'ketama';
export type TenantMatcherType = 'exact' | 'glob';

export interface HashringEndpoint {
  readonly address: string;
  /** Availability zone, '' if none. */
  readonly az: string;
}

export interface HashringConfig {
  /** `hashring`, '' if unnamed. */
  name: string;
  /** None: every tenant. */
  tenants: string[];
  tenantMatcher: TenantMatcherType;
  endpoints: HashringEndpoint[];
  /** Overrides the algorithm newHashring is given (--receive.hashrings-algorithm). */
  algorithm?: HashringAlgorithm;
  externalLabels: Record<string, string>;
}

export class HashringConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HashringConfigError';
  }
}

/** Fewer endpoints than the replica asked for: Thanos' insufficientNodesError. */
export class InsufficientNodesError extends Error {
  constructor(
    readonly have: number,
    readonly want: number,
  ) {
    super(`insufficient nodes; have ${have}, want ${want}`);
    this.name = 'InsufficientNodesError';
  }
}

export class NoMatchingHashringError extends Error {
  constructor(readonly tenant: string) {
    super('no matching hashring to handle tenant');
    this.name = 'NoMatchingHashringError';
  }
}

export interface Hashring {
  /** The endpoint that holds replica `n` (from 0) of the tenant's series. */
  getN(tenant: string, labels: readonly Label[], n: number): HashringEndpoint;
  /**
   * Replicas 0 to count-1 of the series at once, hashing it once: `out` is filled, cut to `count`
   * and returned, so that a caller that keeps it allocates nothing. Throws as getN(count - 1) would.
   */
  replicas(tenant: string, labels: readonly Label[], count: number, out: HashringEndpoint[]): HashringEndpoint[];
  /** Every hashring's endpoints, sorted by address, each address once. */
  nodes(): HashringEndpoint[];
  /** The `external_labels` of the tenant's hashring, which its TSDB adds to the receiver's (none when no hashring takes it). */
  externalLabels(tenant: string): Readonly<Record<string, string>>;
}

/** Ketama points per endpoint: more spread series more evenly; each takes 8 bytes and 2 a replica. */
const SECTIONS_PER_NODE = 1000;
const HASHRING_FIELDS = ['hashring', 'tenants', 'tenant_matcher_type', 'endpoints', 'algorithm', 'external_labels'];
const ENDPOINT_FIELDS = ['address', 'az', 'capnproto_address'];

/** The hashrings in a hashrings file; throws HashringConfigError saying what is wrong, and where. */
export function parseHashringsConfig(json: string): HashringConfig[] {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (e) {
    throw new HashringConfigError(`hashrings configuration is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(doc)) throw new HashringConfigError(`hashrings configuration must be a JSON array of hashrings, not ${jsonType(doc)}`);
  if (doc.length === 0) throw new HashringConfigError('hashring configuration is empty');
  return doc.map((h: unknown, i) => parseHashring(h, i));
}

function parseHashring(h: unknown, index: number): HashringConfig {
  if (!isObject(h)) throw new HashringConfigError(`hashring ${index} must be an object, not ${jsonType(h)}`);
  const name = optionalString(h['hashring'], `hashring ${index}: "hashring"`);
  const where = hashringName(index, name);
  const unknown = Object.keys(h).filter((k) => !HASHRING_FIELDS.includes(k));
  if (unknown.length > 0) throw new HashringConfigError(`${where}: unknown ${fields(unknown)} (known: ${HASHRING_FIELDS.join(', ')})`);

  const tenants = optionalStrings(h['tenants'], `${where}: "tenants"`);
  const matcher = optionalString(h['tenant_matcher_type'], `${where}: "tenant_matcher_type"`);
  if (matcher !== '' && matcher !== 'exact' && matcher !== 'glob') {
    throw new HashringConfigError(`${where}: "tenant_matcher_type" must be "exact" or "glob", not ${JSON.stringify(matcher)}`);
  }
  const tenantMatcher = matcher === 'glob' ? 'glob' : 'exact';
  if (tenantMatcher === 'glob') checkPatterns(tenants, where);

  const list = h['endpoints'];
  if (!Array.isArray(list)) throw new HashringConfigError(`${where}: "endpoints" must be an array of endpoints, not ${jsonType(list)}`);
  if (list.length === 0) throw new HashringConfigError(`${where}: "endpoints" is empty`);
  const endpoints = list.map((e: unknown, i) => parseEndpoint(e, `${where}: endpoint ${i}`));
  const seen = new Set<string>();
  for (const e of endpoints) {
    if (seen.has(e.address)) throw new HashringConfigError(`${where}: endpoint ${JSON.stringify(e.address)} is listed twice`);
    seen.add(e.address);
  }

  const algorithm = optionalString(h['algorithm'], `${where}: "algorithm"`);
  if (algorithm !== '' && !isAlgorithm(algorithm)) {
    throw new HashringConfigError(`${where}: "algorithm" must be "hashmod" or "ketama", not ${JSON.stringify(algorithm)}`);
  }

  const labels = h['external_labels'] ?? {};
  if (!isObject(labels)) throw new HashringConfigError(`${where}: "external_labels" must be an object of strings, not ${jsonType(labels)}`);
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== 'string') throw new HashringConfigError(`${where}: external label ${JSON.stringify(k)} must be a string, not ${jsonType(v)}`);
  }
  const config: HashringConfig = {
    name,
    tenants,
    tenantMatcher,
    endpoints,
    // fromEntries: a "__proto__" label stays a label.
    externalLabels: Object.fromEntries(Object.entries(labels as Record<string, string>)),
  };
  if (isAlgorithm(algorithm)) config.algorithm = algorithm;
  return config;
}

/** An address, or {"address", "az", "capnproto_address"} (Strata does not speak Cap'n Proto). */
function parseEndpoint(e: unknown, where: string): HashringEndpoint {
  if (typeof e === 'string') {
    if (e === '') throw new HashringConfigError(`${where}: the address is empty`);
    return { address: e, az: '' };
  }
  if (!isObject(e)) throw new HashringConfigError(`${where} must be an address or an object, not ${jsonType(e)}`);
  const unknown = Object.keys(e).filter((k) => !ENDPOINT_FIELDS.includes(k));
  if (unknown.length > 0) throw new HashringConfigError(`${where}: unknown ${fields(unknown)} (known: ${ENDPOINT_FIELDS.join(', ')})`);
  const address = optionalString(e['address'], `${where}: "address"`);
  if (address === '') throw new HashringConfigError(`${where}: "address" is missing or empty`);
  optionalString(e['capnproto_address'], `${where}: "capnproto_address"`);
  return { address, az: optionalString(e['az'], `${where}: "az"`) };
}

/**
 * The hashrings of `configs` as one, as Thanos' multiHashring: each tenant's series go to the first
 * hashring that takes the tenant. `algorithm` is for the hashrings that name none; `replicationFactor`
 * is how many replicas ketama places (getN of a later replica is an error).
 */
export function newHashring(configs: readonly HashringConfig[], algorithm: HashringAlgorithm, replicationFactor: number): Hashring {
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1) {
    throw new HashringConfigError(`the replication factor must be a positive integer, not ${replicationFactor}`);
  }
  if (configs.length === 0) throw new HashringConfigError('hashring configuration is empty');
  const rings = configs.map((c, i): TenantRing => {
    const where = hashringName(i, c.name);
    if (c.endpoints.length === 0) throw new HashringConfigError(`${where}: "endpoints" is empty`);
    const ring = (c.algorithm ?? algorithm) === 'ketama' ? new KetamaRing(c.endpoints, replicationFactor, where) : new HashmodRing(c.endpoints, where);
    return { ring, takes: tenantMatcher(c, where), externalLabels: c.externalLabels };
  });
  return new MultiHashring(rings);
}

interface TenantRing {
  ring: Ring;
  takes: (tenant: string) => boolean;
  externalLabels: Readonly<Record<string, string>>;
}

function tenantMatcher(c: HashringConfig, where: string): (tenant: string) => boolean {
  if (c.tenants.length === 0) return () => true;
  if (c.tenantMatcher === 'exact') {
    const tenants = new Set(c.tenants);
    return (t) => tenants.has(t);
  }
  checkPatterns(c.tenants, where);
  const patterns = [...c.tenants];
  // Only asked once a tenant: MultiHashring keeps the answer.
  return (t) => patterns.some((p) => matchPattern(p, t));
}

class MultiHashring implements Hashring {
  /** Every tenant seen, as Thanos keeps them: tenants are few. */
  private readonly ringOfTenant = new Map<string, TenantRing>();
  private readonly sortedNodes: HashringEndpoint[];

  constructor(private readonly rings: readonly TenantRing[]) {
    const all = rings.flatMap((r) => r.ring.endpoints).sort((a, b) => compareStrings(a.address, b.address));
    this.sortedNodes = all.filter((e, i) => i === 0 || e.address !== all[i - 1].address);
  }

  getN(tenant: string, labels: readonly Label[], n: number): HashringEndpoint {
    const { ring } = this.ringOf(tenant);
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`no replica ${n}`);
    ring.check(n);
    return ring.endpointOf(labelsHashWithPrefix(tenant, labels), n);
  }

  replicas(tenant: string, labels: readonly Label[], count: number, out: HashringEndpoint[]): HashringEndpoint[] {
    const { ring } = this.ringOf(tenant);
    if (!Number.isInteger(count)) throw new RangeError(`not a number of replicas: ${count}`);
    out.length = 0;
    if (count <= 0) return out;
    ring.check(count - 1);
    ring.endpointsOf(labelsHashWithPrefix(tenant, labels), count, out);
    return out;
  }

  nodes(): HashringEndpoint[] {
    return [...this.sortedNodes];
  }

  externalLabels(tenant: string): Readonly<Record<string, string>> {
    try {
      return this.ringOf(tenant).externalLabels;
    } catch (e) {
      if (e instanceof NoMatchingHashringError) return {};
      throw e;
    }
  }

  private ringOf(tenant: string): TenantRing {
    let ring = this.ringOfTenant.get(tenant);
    if (ring === undefined) {
      ring = this.rings.find((r) => r.takes(tenant));
      if (ring === undefined) throw new NoMatchingHashringError(tenant);
      this.ringOfTenant.set(tenant, ring);
    }
    return ring;
  }
}

/** One hashring's placement of series by their hash. */
interface Ring {
  readonly endpoints: readonly HashringEndpoint[];
  /** Throws unless the ring places replica `n`. */
  check(n: number): void;
  endpointOf(hash: bigint, n: number): HashringEndpoint;
  /** Replicas 0 to count-1, pushed onto `out`. */
  endpointsOf(hash: bigint, count: number, out: HashringEndpoint[]): void;
}

const TWO_TO_64 = 1n << 64n;

/** Thanos' simpleHashring. */
class HashmodRing implements Ring {
  readonly endpoints: readonly HashringEndpoint[];
  private readonly count: bigint;
  /** From this hash on, hash + replica can pass 2^64, where Go's uint64 sum wraps. */
  private readonly wrapsFrom: bigint;

  constructor(endpoints: readonly HashringEndpoint[], where: string) {
    if (endpoints.some((e) => e.az !== '')) {
      throw new HashringConfigError(
        `${where}: Hashmod algorithm does not support AZ aware hashring configuration. Either use Ketama or remove AZ configuration.`,
      );
    }
    this.endpoints = [...endpoints].sort((a, b) => compareStrings(a.address, b.address));
    this.count = BigInt(endpoints.length);
    this.wrapsFrom = TWO_TO_64 - this.count + 1n;
  }

  check(n: number): void {
    if (n >= this.endpoints.length) throw new InsufficientNodesError(this.endpoints.length, n + 1);
  }

  endpointOf(hash: bigint, n: number): HashringEndpoint {
    if (hash < this.wrapsFrom) return this.endpoints[(Number(hash % this.count) + n) % this.endpoints.length];
    let sum = hash + BigInt(n);
    if (sum >= TWO_TO_64) sum -= TWO_TO_64;
    return this.endpoints[Number(sum % this.count)];
  }

  endpointsOf(hash: bigint, count: number, out: HashringEndpoint[]): void {
    if (hash >= this.wrapsFrom) {
      for (let n = 0; n < count; n++) out.push(this.endpointOf(hash, n));
      return;
    }
    const first = Number(hash % this.count);
    for (let n = 0; n < count; n++) out.push(this.endpoints[(first + n) % this.endpoints.length]);
  }
}

/** Thanos' ketamaHashring, its sections held in typed arrays rather than an object each. */
class KetamaRing implements Ring {
  readonly endpoints: readonly HashringEndpoint[];
  /** Every section's hash, ascending. */
  private readonly hashes: BigUint64Array;
  /** Section s's replicas' endpoint indexes, at s × replicationFactor on. */
  private readonly replicaEndpoints: Uint16Array | Uint32Array;

  constructor(
    endpoints: readonly HashringEndpoint[],
    private readonly replicationFactor: number,
    where: string,
  ) {
    if (endpoints.length < replicationFactor) {
      throw new HashringConfigError(
        `${where}: ketama: amount of endpoints needs to be larger than replication factor (${endpoints.length} endpoints, replication factor ${replicationFactor})`,
      );
    }
    // Config order, as Thanos: the ring does not depend on it, only which index an endpoint has.
    this.endpoints = [...endpoints];
    const total = endpoints.length * SECTIONS_PER_NODE;
    const unsorted = new BigUint64Array(total);
    endpoints.forEach((e, i) => {
      for (let s = 1; s <= SECTIONS_PER_NODE; s++) unsorted[i * SECTIONS_PER_NODE + s - 1] = h64(`${e.address}:${s}`);
    });
    // Ties (never seen in practice) keep config order.
    const order = new Uint32Array(total).map((_, i) => i);
    order.sort((a, b) => {
      const x = unsorted[a];
      const y = unsorted[b];
      return x < y ? -1 : x > y ? 1 : a - b;
    });
    this.hashes = new BigUint64Array(total);
    const owners = new Uint32Array(total);
    order.forEach((at, s) => {
      this.hashes[s] = unsorted[at];
      owners[s] = Math.floor(at / SECTIONS_PER_NODE);
    });
    this.replicaEndpoints = placeReplicas(owners, endpoints, replicationFactor);
  }

  check(n: number): void {
    if (n >= this.endpoints.length) throw new InsufficientNodesError(this.endpoints.length, n + 1);
    // Thanos indexes past its replicas and panics.
    if (n >= this.replicationFactor) {
      throw new RangeError(`ketama hashring places ${this.replicationFactor} replicas of a series, not replica ${n + 1}`);
    }
  }

  endpointOf(hash: bigint, n: number): HashringEndpoint {
    return this.endpoints[this.replicaEndpoints[this.sectionOf(hash) * this.replicationFactor + n]];
  }

  endpointsOf(hash: bigint, count: number, out: HashringEndpoint[]): void {
    const at = this.sectionOf(hash) * this.replicationFactor;
    for (let n = 0; n < count; n++) out.push(this.endpoints[this.replicaEndpoints[at + n]]);
  }

  /** The first section whose hash is at least `hash`, past the last the first. */
  private sectionOf(hash: bigint): number {
    const hashes = this.hashes;
    let lo = 0;
    let hi = hashes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (hashes[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo === hashes.length ? 0 : lo;
  }
}

/**
 * Thanos' calculateSectionReplicas: each section's replicas are the endpoints of it and the sections
 * after it, each endpoint once, passing over one whose zone holds more replicas than the emptiest zone.
 * Where no endpoint is left that keeps zones even (zones of 1, 1 and 3 endpoints, 5 replicas), Thanos
 * loops forever; here, after a whole turn of the ring, the rest go to the next endpoints, zones aside.
 */
function placeReplicas(owners: Uint32Array, endpoints: readonly HashringEndpoint[], replicationFactor: number): Uint16Array | Uint32Array {
  const total = owners.length;
  const zones = [...new Set(endpoints.map((e) => e.az))];
  const zoneOf = Uint32Array.from(endpoints, (e) => zones.indexOf(e.az));
  const perZone = new Int32Array(zones.length);
  const taken = new Uint8Array(endpoints.length);
  const replicas = endpoints.length <= 0x10000 ? new Uint16Array(total * replicationFactor) : new Uint32Array(total * replicationFactor);
  for (let s = 0; s < total; s++) {
    const first = s * replicationFactor;
    perZone.fill(0);
    let placed = 0;
    let passed = 0;
    for (let j = s; placed < replicationFactor; j = j + 1 === total ? 0 : j + 1) {
      const e = owners[j];
      const zone = zoneOf[e];
      const unzoned = passed >= total;
      if (taken[e] === 0 && (unzoned || zones.length === 1 || perZone[zone] <= leastOf(perZone))) {
        taken[e] = 1;
        perZone[zone]++;
        replicas[first + placed++] = e;
        passed = 0;
      } else passed++;
    }
    for (let r = first; r < first + replicationFactor; r++) taken[replicas[r]] = 0;
  }
  return replicas;
}

function leastOf(counts: Int32Array): number {
  let least = counts[0];
  for (let i = 1; i < counts.length; i++) if (counts[i] < least) least = counts[i];
  return least;
}

function checkPatterns(patterns: readonly string[], where: string): void {
  for (const p of patterns) {
    try {
      matchPattern(p, '');
    } catch (e) {
      if (!(e instanceof BadPatternError)) throw e;
      throw new HashringConfigError(`${where}: tenant pattern ${JSON.stringify(p)} is malformed: ${e.message}`);
    }
  }
}

function isAlgorithm(s: string): s is HashringAlgorithm {
  return s === 'hashmod' || s === 'ketama';
}

function hashringName(index: number, name: string): string {
  return name === '' ? `hashring ${index}` : `hashring ${index} (${JSON.stringify(name)})`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A string field; absent, null (as Go reads it) or '' are ''. */
function optionalString(v: unknown, what: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new HashringConfigError(`${what} must be a string, not ${jsonType(v)}`);
  return v;
}

function optionalStrings(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw new HashringConfigError(`${what} must be an array of strings`);
  return [...(v as string[])];
}

function fields(names: readonly string[]): string {
  return `${names.length === 1 ? 'field' : 'fields'} ${names.map((n) => JSON.stringify(n)).join(', ')}`;
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}
