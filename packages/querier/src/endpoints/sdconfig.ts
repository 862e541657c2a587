/**
 * Thanos' endpoint configuration (`--endpoint.sd-config`, `--endpoint.sd-config-file`), which Thanos
 * 0.42 recommends over the `--endpoint*` flags:
 *
 *     default_client_config: {}          # as client_config, for every endpoint; the flags' otherwise
 *     endpoints:
 *       - address: store-gateway:10901   # host:port, or dns+ / dnssrv+ / dnssrvnoa+ to look it up
 *         strict: false                  # as --endpoint-strict (static addresses only)
 *         group: false                   # as --endpoint-group
 *         service_config: ''             # a group's gRPC service config (JSON): its load balancing policy, round_robin (default) or pick_first
 *         client_config:                 # this endpoint's gRPC client; default_client_config otherwise
 *           server_name: ''
 *           compression: none            # none or snappy (also gzip, deflate); the --grpc-compression flag when absent
 *           tls_config: { enabled, insecure_skip_verify, cert_file, key_file, ca_file, min_version }
 *
 * Thanos 0.38–0.41 called `client_config` `grpc_client_config` and its `compression` `compression_type`:
 * both names are read. TLS as Thanos' endpointset.go resolves it, against `default_client_config` where
 * the file has one (as the Thanos operator writes it), itself resolved against the flags:
 * - no `tls_config` field and no `server_name`: the defaults (the querier's --grpc-client-tls-* flags);
 * - `enabled` unset: TLS if a file or `insecure_skip_verify` is given, else as the defaults say; the
 *   fields not given are the defaults';
 * - `enabled: true`: TLS with the fields given only (system roots without `ca_file`);
 * - `enabled: false`: plain text.
 * A file given is re-read on every reload, so that a rotated certificate is used from the next
 * connection on: an endpoint whose client options changed is connected anew.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { SecureVersion } from 'node:tls';
import { configMapping, parseYamlConfig } from '@strata/objstore';
import { FileWatch, isDnsEndpoint, type Logger } from '@strata/runtime';
import { parseTlsVersion, type ClientTLS, type Compression, type StoreClientOptions } from '@strata/storeapi';
import { Gauge, type Registry } from 'prom-client';

export interface EndpointSpec {
  /** host:port; a dns+/dnssrv+/dnssrvnoa+ name; or, for a group, the DNS name of its members. */
  readonly address: string;
  /** Queried even while its Info call fails (Thanos' strict endpoints). */
  readonly strict: boolean;
  /** Replicas behind one name, each call to one of them (Thanos' endpoint groups). */
  readonly group: boolean;
  /** How a group's calls pick a member (its service_config's load balancing policy; default round_robin). */
  readonly balancing?: GroupBalancing;
  /** Its client's TLS and compression. */
  readonly client: StoreClientOptions;
  /** What identifies `client`'s contents ('' for the querier's defaults): a changed key means a new connection. */
  readonly clientKey: string;
}

/**
 * gRPC's load balancing policies a group takes: round_robin, a call to each member in turn (Thanos' default
 * for groups), or pick_first, every call to the first member that answers.
 */
export type GroupBalancing = 'round_robin' | 'pick_first';

/** Where the configured endpoints come from besides the flags; read on every refresh of the endpoint set. */
export interface EndpointConfigSource {
  specs(): readonly EndpointSpec[];
}

const TOP_KEYS = new Set(['endpoints', 'default_client_config']);
const ENDPOINT_KEYS = new Set(['address', 'strict', 'group', 'service_config', 'client_config', 'grpc_client_config']);
const CLIENT_KEYS = new Set(['tls_config', 'server_name', 'compression', 'compression_type']);
const TLS_KEYS = new Set(['enabled', 'insecure_skip_verify', 'cert_file', 'key_file', 'ca_file', 'min_version']);
const COMPRESSIONS: ReadonlySet<string> = new Set<Compression>(['none', 'snappy', 'gzip', 'deflate']);

/**
 * The endpoints of a configuration's text (`what` names it in errors), their clients resolved against
 * `defaults` (the --grpc-client-* and --grpc-compression flags). Files named in it are read now.
 */
export async function parseEndpointConfig(text: string, what: string, defaults: StoreClientOptions): Promise<EndpointSpec[]> {
  const doc = parseYamlConfig(text, what);
  if (doc === null || doc === undefined) return [];
  const top = configMapping(doc, what, TOP_KEYS);
  const list = top.endpoints ?? [];
  if (!Array.isArray(list)) throw new Error(`${what}: endpoints must be a list`);
  const fileDefaults = top.default_client_config === undefined || top.default_client_config === null ? { client: defaults, clientKey: '' } : await parseClient(top.default_client_config, `${what}: default_client_config`, defaults);
  return Promise.all(list.map((e, i) => parseEndpoint(e, `${what}: endpoints[${i}]`, fileDefaults)));
}

/** An endpoint of the file, its client resolved against `defaults` (the file's default_client_config, or the flags' with key ''). */
async function parseEndpoint(v: unknown, what: string, defaults: { client: StoreClientOptions; clientKey: string }): Promise<EndpointSpec> {
  const m = configMapping(v, what, ENDPOINT_KEYS);
  const address = m.address;
  if (typeof address !== 'string' || address.trim() === '') throw new Error(`${what}: address must be a host:port or a dns+/dnssrv+/dnssrvnoa+ name`);
  const strict = flag(m.strict, `${what}.strict`);
  const group = flag(m.group, `${what}.group`);
  // Thanos' validation of the same combinations, in its words.
  if (strict && !group && isDnsEndpoint(address)) throw new Error(`${what}: ${address} is a dynamically specified endpoint i.e. it uses SD and that is not permitted under strict mode`);
  if (!group && m.service_config !== undefined && m.service_config !== null && m.service_config !== '') throw new Error(`${what}: ${address} service_config is only valid for endpoint groups`);
  if (m.client_config !== undefined && m.grpc_client_config !== undefined) throw new Error(`${what}: give client_config or its older name grpc_client_config, not both`);
  const raw = m.client_config ?? m.grpc_client_config;
  const { client, clientKey } = raw === undefined || raw === null ? defaults : await parseClient(raw, `${what}.client_config`, defaults.client);
  const balancing = group ? groupBalancing(m.service_config, `${what}.service_config`) : undefined;
  // Another policy is another connection.
  return { address: address.trim(), strict, group, client, clientKey: balancing === 'pick_first' ? `${clientKey}|pick_first` : clientKey, ...(balancing !== undefined ? { balancing } : {}) };
}

/**
 * The load balancing policy of a group's gRPC service config (JSON, as gRPC takes it):
 * `loadBalancingConfig`'s first entry, else `loadBalancingPolicy`, else round_robin as Thanos' groups.
 * Its other settings (retries, timeouts per method) are gRPC's, which Strata's client does not take: a
 * call that cannot reach a member goes to the next one.
 */
function groupBalancing(v: unknown, what: string): GroupBalancing {
  if (v === undefined || v === null || v === '') return 'round_robin';
  if (typeof v !== 'string') throw new Error(`${what} must be a JSON string`);
  let cfg: unknown;
  try {
    cfg = JSON.parse(v);
  } catch (e) {
    throw new Error(`${what}: invalid JSON: ${(e as Error).message}`);
  }
  if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg)) throw new Error(`${what} must be a JSON object`);
  const { loadBalancingConfig, loadBalancingPolicy } = cfg as { loadBalancingConfig?: unknown; loadBalancingPolicy?: unknown };
  const first = Array.isArray(loadBalancingConfig) && loadBalancingConfig[0] !== null && typeof loadBalancingConfig[0] === 'object' ? Object.keys(loadBalancingConfig[0] as object)[0] : undefined;
  const policy = first ?? loadBalancingPolicy ?? 'round_robin';
  if (policy !== 'round_robin' && policy !== 'pick_first') throw new Error(`${what}: load balancing policy ${JSON.stringify(policy)} is not supported: round_robin or pick_first`);
  return policy;
}

async function parseClient(v: unknown, what: string, defaults: StoreClientOptions): Promise<{ client: StoreClientOptions; clientKey: string }> {
  const m = configMapping(v, what, CLIENT_KEYS);
  if (m.compression !== undefined && m.compression_type !== undefined) throw new Error(`${what}: give compression or its older name compression_type, not both`);
  const compressionGiven = m.compression ?? m.compression_type;
  let compression = defaults.compression;
  if (compressionGiven !== undefined && compressionGiven !== null && compressionGiven !== '') {
    if (typeof compressionGiven !== 'string' || !COMPRESSIONS.has(compressionGiven)) throw new Error(`${what}: invalid compression: ${String(compressionGiven)}, must be 'none' or 'snappy' (or gzip, deflate)`);
    compression = compressionGiven as Compression;
  }
  const serverName = optionalString(m.server_name, `${what}.server_name`);
  const t = m.tls_config === undefined || m.tls_config === null ? {} : configMapping(m.tls_config, `${what}.tls_config`, TLS_KEYS);
  const given = (k: string) => t[k] !== undefined && t[k] !== null;
  const minVersion = tlsVersion(t.min_version, `${what}.tls_config.min_version`);
  let tls: ClientTLS | undefined;
  if (![...TLS_KEYS].some(given) && serverName === undefined) {
    tls = defaults.tls;
  } else {
    const files = ['cert_file', 'key_file', 'ca_file', 'insecure_skip_verify'].some(given);
    const enabled = given('enabled') ? flag(t.enabled, `${what}.tls_config.enabled`) : files || defaults.tls !== undefined;
    // Fields not given fall back to the flags' only while `enabled` is left to them.
    const fallback = given('enabled') ? undefined : defaults.tls;
    tls = enabled ? await tlsConfig(t, `${what}.tls_config`, { serverName, minVersion }, fallback) : undefined;
  }
  const client: StoreClientOptions = { ...(tls !== undefined ? { tls } : {}), ...(compression !== undefined ? { compression } : {}) };
  return { client, clientKey: clientKeyOf(client) };
}

async function tlsConfig(
  t: Record<string, unknown>,
  what: string,
  given: { serverName: string | undefined; minVersion: SecureVersion | undefined },
  fallback: ClientTLS | undefined,
): Promise<ClientTLS> {
  const file = async (field: string): Promise<Buffer | undefined> => {
    const path = optionalString(t[field], `${what}.${field}`);
    if (path === undefined) return undefined;
    try {
      return await readFile(path);
    } catch (e) {
      throw new Error(`${what}.${field} ${path}: ${(e as Error).message}`);
    }
  };
  const [ca, cert, key] = await Promise.all([file('ca_file'), file('cert_file'), file('key_file')]);
  const skipVerify = t.insecure_skip_verify !== undefined && t.insecure_skip_verify !== null ? flag(t.insecure_skip_verify, `${what}.insecure_skip_verify`) : fallback?.skipVerify;
  const minVersion = given.minVersion ?? fallback?.minVersion;
  const out: ClientTLS = {
    ...((ca ?? fallback?.ca) !== undefined ? { ca: ca ?? fallback?.ca } : {}),
    ...((cert ?? fallback?.cert) !== undefined ? { cert: cert ?? fallback?.cert } : {}),
    ...((key ?? fallback?.key) !== undefined ? { key: key ?? fallback?.key } : {}),
    ...(given.serverName !== undefined ? { serverName: given.serverName } : {}),
    ...(skipVerify === true ? { skipVerify } : {}),
    ...(minVersion !== undefined ? { minVersion } : {}),
  };
  if ((out.cert === undefined) !== (out.key === undefined)) throw new Error(`${what}: cert_file and key_file go together`);
  return out;
}

/** The contents of client options as a short string: equal keys, equal options. */
function clientKeyOf(c: StoreClientOptions): string {
  const h = createHash('sha256');
  h.update(`${c.compression ?? ''}\0`);
  const t = c.tls;
  if (t !== undefined) {
    h.update(`tls\0${t.serverName ?? ''}\0${t.skipVerify === true}\0${t.minVersion ?? ''}\0`);
    for (const b of [t.ca, t.cert, t.key]) h.update(`${b?.length ?? -1}\0`).update(b ?? '');
  }
  return h.digest('base64url');
}

function tlsVersion(v: unknown, what: string): SecureVersion | undefined {
  // An unquoted 1.3 is a YAML number, which Thanos' string field takes as written.
  const name = optionalString(typeof v === 'number' ? v.toFixed(1) : v, what);
  return name === undefined ? undefined : parseTlsVersion(name, what);
}

function flag(v: unknown, what: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new Error(`${what} must be true or false`);
  return v;
}

function optionalString(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new Error(`${what} must be a string`);
  return v;
}

export interface EndpointConfigFileOptions {
  /** The file (--endpoint.sd-config-file), watched and re-read; or */
  path?: string;
  /** its content given inline (--endpoint.sd-config), read once. */
  content?: string;
  /** The querier's client options, which the config's endpoints fall back to. */
  defaults: StoreClientOptions;
  /** How often the file is read again besides when it is seen to change (--endpoint.sd-config-reload-interval). */
  reloadIntervalMs: number;
  /** Called after the endpoints changed. */
  onChange?: () => void;
  logger: Logger;
  registry?: Registry;
}

/** File-system notifications within this long are one change (Thanos' reloader debounces by 1s). */
const DEBOUNCE_MS = 1_000;

/**
 * The endpoint configuration, read at start (an error there stops the querier) and, from a file, again
 * when it changes and every reload interval (Kubernetes swaps a mounted ConfigMap through symlinks,
 * which notifications may miss). A reload that fails keeps the endpoints before it and is logged, as
 * Thanos does.
 */
export class EndpointConfigFile implements EndpointConfigSource {
  readonly #opts: EndpointConfigFileOptions;
  readonly #what: string;
  readonly #metrics: { success: Gauge; timestamp: Gauge } | undefined;
  #specs: readonly EndpointSpec[] = [];
  #fingerprint = '';
  #watch: FileWatch | undefined;
  #loading: Promise<void> | undefined;
  #closed = false;

  private constructor(opts: EndpointConfigFileOptions) {
    this.#opts = opts;
    this.#what = opts.path !== undefined ? `--endpoint.sd-config-file ${opts.path}` : '--endpoint.sd-config';
    this.#metrics =
      opts.registry === undefined
        ? undefined
        : {
            success: new Gauge({ name: 'strata_query_endpoint_config_last_reload_successful', help: 'Whether the last reload of the endpoint configuration succeeded (1) or failed (0).', registers: [opts.registry], aggregator: 'min' }),
            timestamp: new Gauge({ name: 'strata_query_endpoint_config_last_reload_success_timestamp_seconds', help: 'When the endpoint configuration was last read successfully.', registers: [opts.registry], aggregator: 'max' }),
          };
  }

  static async open(opts: EndpointConfigFileOptions): Promise<EndpointConfigFile> {
    if ((opts.path === undefined) === (opts.content === undefined)) throw new Error('the endpoint configuration needs a path or a content, not both');
    const cfg = new EndpointConfigFile(opts);
    await cfg.#load();
    if (opts.path !== undefined) cfg.#follow(opts.path);
    return cfg;
  }

  specs(): readonly EndpointSpec[] {
    return this.#specs;
  }

  /** Reads the file again now; resolves when done (a failure is logged, not thrown). */
  reload(): Promise<void> {
    this.#loading ??= this.#load()
      .catch((e: unknown) => {
        this.#metrics?.success.set(0);
        this.#opts.logger.error('failed to reload endpoint config; keeping the endpoints before it', { err: e as Error });
      })
      .finally(() => (this.#loading = undefined));
    return this.#loading;
  }

  close(): void {
    this.#closed = true;
    this.#watch?.close();
  }

  async #load(): Promise<void> {
    const text = this.#opts.content ?? (await readFile(this.#opts.path as string, 'utf8'));
    const specs = await parseEndpointConfig(text, this.#what, this.#opts.defaults);
    this.#metrics?.success.set(1);
    this.#metrics?.timestamp.set(Date.now() / 1000);
    const fingerprint = JSON.stringify(specs.map((s) => [s.address, s.strict, s.group, s.clientKey]));
    if (fingerprint === this.#fingerprint || this.#closed) return;
    const first = this.#fingerprint === '';
    this.#specs = specs;
    this.#fingerprint = fingerprint;
    this.#opts.logger.info(first ? 'endpoint config loaded' : 'endpoint config reloaded', { source: this.#what, endpoints: specs.length });
    if (!first) this.#opts.onChange?.();
  }

  #follow(path: string): void {
    const name = basename(path);
    this.#watch = new FileWatch({
      dirs: [dirname(path)],
      // The file, or Kubernetes' `..data` symlink swapped under it.
      relevant: (_dir, changed) => changed === null || changed === name || changed.startsWith('..'),
      debounceMs: DEBOUNCE_MS,
      intervalMs: this.#opts.reloadIntervalMs,
      onChange: () => void this.reload(),
      onWatchError: (_dir, err) => this.#opts.logger.warn('cannot watch the endpoint config; reading it every reload interval only', { path, err }),
    });
  }
}
