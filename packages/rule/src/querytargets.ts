/**
 * The queriers a ruler asks (Thanos' `--query`, `--query.sd-files`; `--grpc-query-endpoint`): static
 * addresses, what `dns+` and `dnssrv+` addresses resolve to (looked up again every
 * `--query.sd-dns-interval`), and the targets of file SD files (read again every `--query.sd-interval`).
 * A lookup or a read that fails keeps what it gave last, and is logged.
 */
import { readSdFile } from '@strata/querier';
import { isDnsEndpoint, resolveDnsEndpoint, systemResolver, type DnsResolver, type Logger } from '@strata/runtime';

export interface QueryTargetsOptions {
  /** `host:port`, `http(s)://host:port[/prefix]`, `dns+host:port` or `dnssrv+_name._tcp.domain`. */
  readonly addresses: readonly string[];
  /** Prometheus' file SD files (YAML or JSON target groups) listing `host:port` targets. */
  readonly sdFiles?: readonly string[];
  readonly dnsIntervalMs?: number;
  readonly sdIntervalMs?: number;
  /** How a `host:port` target is asked over HTTP (`--query.config`'s scheme and path_prefix); default http, no prefix. */
  readonly scheme?: 'http' | 'https';
  readonly pathPrefix?: string;
  readonly resolver?: DnsResolver;
  readonly logger: Logger;
}

interface Cached {
  addresses: string[];
  at: number;
}

export class QueryTargets {
  readonly #opts: QueryTargetsOptions;
  readonly #resolved = new Map<string, Cached>();

  constructor(opts: QueryTargetsOptions) {
    this.#opts = opts;
  }

  /** Whether no querier is given at all. */
  get none(): boolean {
    return this.#opts.addresses.length === 0 && (this.#opts.sdFiles ?? []).length === 0;
  }

  /** The queriers' base URLs now (`<scheme>://host:port<path prefix>`, or the URL given, without a trailing slash). */
  async baseUrls(): Promise<string[]> {
    const { scheme = 'http', pathPrefix = '' } = this.#opts;
    const url = (a: string) => (/^https?:\/\//.test(a) ? a : `${scheme}://${a}${pathPrefix}`).replace(/\/+$/, '');
    return [...new Set((await this.addresses()).map(url))];
  }

  /** The queriers' addresses now, as given (`host:port` or a URL) or looked up (`host:port`). */
  async addresses(): Promise<string[]> {
    const out: string[] = [];
    for (const a of this.#opts.addresses) {
      if (isDnsEndpoint(a)) out.push(...(await this.#cached(a, this.#opts.dnsIntervalMs ?? 30_000, () => resolveDnsEndpoint(a, this.#opts.resolver ?? systemResolver))));
      else out.push(a);
    }
    for (const f of this.#opts.sdFiles ?? []) out.push(...(await this.#cached(f, this.#opts.sdIntervalMs ?? 5 * 60_000, () => readSdFile(f))));
    return [...new Set(out)];
  }

  async #cached(key: string, ttlMs: number, look: () => Promise<string[]>): Promise<string[]> {
    const held = this.#resolved.get(key);
    if (held !== undefined && Date.now() - held.at < ttlMs) return held.addresses;
    try {
      const addresses = await look();
      this.#resolved.set(key, { addresses, at: Date.now() });
      return addresses;
    } catch (err) {
      this.#opts.logger.warn('looking up queriers failed; using the last answer', { source: key, err: err as Error });
      if (held !== undefined) held.at = Date.now();
      return held?.addresses ?? [];
    }
  }
}
