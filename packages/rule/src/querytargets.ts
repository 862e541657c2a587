/**
 * The queriers a ruler asks (Thanos' `--query`, `--query.sd-files`): static addresses, what `dns+` and
 * `dnssrv+` addresses resolve to (looked up again every `--query.sd-dns-interval`), and the targets of
 * file SD files (read again every `--query.sd-interval`). A lookup or a read that fails keeps what it
 * gave last, and is logged.
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
  readonly resolver?: DnsResolver;
  readonly logger: Logger;
}

interface Cached {
  urls: string[];
  at: number;
}

export class QueryTargets {
  readonly #opts: QueryTargetsOptions;
  readonly #resolved = new Map<string, Cached>();

  constructor(opts: QueryTargetsOptions) {
    if (opts.addresses.length === 0 && (opts.sdFiles ?? []).length === 0) throw new Error('no --query parameter was given');
    this.#opts = opts;
  }

  /** The queriers' base URLs now (`http://host:port`, or the URL given, without a trailing slash). */
  async baseUrls(): Promise<string[]> {
    const out: string[] = [];
    for (const a of this.#opts.addresses) {
      if (isDnsEndpoint(a)) out.push(...(await this.#cached(a, this.#opts.dnsIntervalMs ?? 30_000, async () => (await resolveDnsEndpoint(a, this.#opts.resolver ?? systemResolver)).map(httpUrl))));
      else out.push(httpUrl(a));
    }
    for (const f of this.#opts.sdFiles ?? []) out.push(...(await this.#cached(f, this.#opts.sdIntervalMs ?? 5 * 60_000, async () => (await readSdFile(f)).map(httpUrl))));
    return [...new Set(out)];
  }

  async #cached(key: string, ttlMs: number, look: () => Promise<string[]>): Promise<string[]> {
    const held = this.#resolved.get(key);
    if (held !== undefined && Date.now() - held.at < ttlMs) return held.urls;
    try {
      const urls = await look();
      this.#resolved.set(key, { urls, at: Date.now() });
      return urls;
    } catch (err) {
      this.#opts.logger.warn('looking up queriers failed; using the last answer', { source: key, err: err as Error });
      if (held !== undefined) held.at = Date.now();
      return held?.urls ?? [];
    }
  }
}

function httpUrl(address: string): string {
  return (/^https?:\/\//.test(address) ? address : `http://${address}`).replace(/\/+$/, '');
}
