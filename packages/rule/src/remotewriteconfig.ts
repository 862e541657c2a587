import { createHash } from 'node:crypto';
import type { Relabeler } from '@strata/block';
import { configMapping, parseTlsConfig, parseYamlConfig } from '@strata/objstore';
import type { PrometheusHttpClientConfig } from '@strata/sidecar';
import { parseRelabelConfigs } from '@strata/block';
import { optBool, optDuration, optPositiveInt, optString } from './yamlfields.js';

/**
 * `--remote-write.config(-file)` of the stateless ruler: Prometheus' `remote_write` section, as Thanos
 * reads it (Prometheus 2.42's config.RemoteWriteConfig):
 *
 *   remote_write:
 *     - url: http://receive:19291/api/v1/receive
 *       name: receive              # default: 6 hex digits of a hash of the entry
 *       remote_timeout: 30s
 *       headers: {X-Scope-OrgID: team-a}
 *       basic_auth: {username: u, password: p | password_file: f}
 *       authorization: {type: Bearer, credentials: t | credentials_file: f}
 *       bearer_token: t | bearer_token_file: f
 *       tls_config: {ca_file, cert_file, key_file, server_name, insecure_skip_verify}
 *       write_relabel_configs: [<relabel rule>…]
 *       queue_config: {capacity: 2500, max_samples_per_send: 500, batch_send_deadline: 5s,
 *                      min_backoff: 30ms, max_backoff: 5s, retry_on_http_429: false, max_shards, min_shards}
 *
 * Parsed strictly: an unknown field is an error. Accepted without effect: `max_shards` and `min_shards`
 * (one sender per endpoint), `metadata_config` (a ruler has no metric metadata), `send_exemplars` (rules
 * produce none), `follow_redirects` and `enable_http2`. Native histogram results are sent only with
 * `send_native_histograms`, as Prometheus sends them. Refused with a
 * message: OAuth2, SigV4, Azure AD and proxies.
 */
export interface RemoteWriteConfig {
  url: string;
  /** The `remote_name` label of the metrics. */
  name: string;
  remoteTimeoutMs: number;
  /** Sent with every request. */
  headers: Record<string, string>;
  /** Credentials and TLS; authorization `type: Bearer` and `bearer_token*` both become the bearer token. */
  http: PrometheusHttpClientConfig;
  writeRelabel: Relabeler;
  queue: RemoteWriteQueueConfig;
  /** `send_native_histograms`: whether native histogram samples are sent (else left out). */
  sendNativeHistograms: boolean;
}

export interface RemoteWriteQueueConfig {
  /** Samples waiting to be sent at most; past it the oldest are dropped. */
  capacity: number;
  maxSamplesPerSend: number;
  /** How long a sample may wait for a batch to fill. */
  batchSendDeadlineMs: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  /** Whether a 429 answer is retried (after its Retry-After, if any) rather than dropped. */
  retryOnHttp429: boolean;
}

/** Prometheus 2.42's config.DefaultQueueConfig. */
export const DEFAULT_REMOTE_WRITE_QUEUE: Readonly<RemoteWriteQueueConfig> = {
  capacity: 2500,
  maxSamplesPerSend: 500,
  batchSendDeadlineMs: 5_000,
  minBackoffMs: 30,
  maxBackoffMs: 5_000,
  retryOnHttp429: false,
};
const DEFAULT_REMOTE_TIMEOUT_MS = 30_000;

const HTTP_CLIENT_KEYS = ['basic_auth', 'authorization', 'bearer_token', 'bearer_token_file', 'tls_config', 'follow_redirects', 'enable_http2'];
const UNSUPPORTED = new Set(['oauth2', 'sigv4', 'azuread', 'proxy_url', 'no_proxy', 'proxy_from_environment', 'proxy_connect_header']);
const ENTRY_KEYS = new Set(['url', 'name', 'remote_timeout', 'headers', 'write_relabel_configs', 'send_exemplars', 'send_native_histograms', 'queue_config', 'metadata_config', ...HTTP_CLIENT_KEYS, ...UNSUPPORTED]);
const QUEUE_KEYS = new Set(['capacity', 'max_shards', 'min_shards', 'max_samples_per_send', 'batch_send_deadline', 'min_backoff', 'max_backoff', 'retry_on_http_429']);
const METADATA_KEYS = new Set(['send', 'send_interval', 'max_samples_per_send']);
const BASIC_AUTH_KEYS = new Set(['username', 'password', 'password_file']);
const AUTHORIZATION_KEYS = new Set(['type', 'credentials', 'credentials_file']);
/** Headers Prometheus' remote write sets itself, and refuses in `headers`. */
const RESERVED_HEADERS = new Set([
  'authorization', 'host', 'content-encoding', 'content-length', 'content-type', 'user-agent', 'connection', 'keep-alive',
  'proxy-authenticate', 'proxy-authorization', 'www-authenticate', 'retry-after', 'x-prometheus-remote-write-version',
]);

/** Parses the YAML (`remote_write:` and nothing else); `what` names it (the flag or file) in errors. */
export function parseRemoteWriteConfig(text: string, what = '--remote-write.config'): RemoteWriteConfig[] {
  const top = configMapping(parseYamlConfig(text, what) ?? {}, what, new Set(['remote_write']));
  const list = top.remote_write ?? [];
  if (!Array.isArray(list)) throw new Error(`${what}: remote_write: expected a list`);
  const configs = list.map((entry, i) => parseEntry(entry, `${what}: remote_write[${i}]`));
  const names = new Set<string>();
  for (const c of configs) {
    if (names.has(c.name)) throw new Error(`${what}: found multiple remote write configs with name ${JSON.stringify(c.name)}`);
    names.add(c.name);
  }
  return configs;
}

function parseEntry(v: unknown, what: string): RemoteWriteConfig {
  const m = configMapping(v, what, ENTRY_KEYS);
  for (const key of Object.keys(m)) if (UNSUPPORTED.has(key)) throw new Error(`${what}: ${key} is not supported by Strata`);
  const url = optString(m.url, `${what}: url`);
  if (url === undefined) throw new Error(`${what}: url for remote_write is empty`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`${what}: url ${JSON.stringify(url)} is not a valid URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`${what}: url ${JSON.stringify(url)}: scheme must be http or https`);
  for (const key of ['send_exemplars', 'follow_redirects', 'enable_http2']) optBool(m[key], `${what}: ${key}`);
  const metadata = configMapping(m.metadata_config ?? {}, `${what}: metadata_config`, METADATA_KEYS);
  optBool(metadata.send, `${what}: metadata_config.send`);
  optDuration(metadata.send_interval, `${what}: metadata_config.send_interval`);
  optPositiveInt(metadata.max_samples_per_send, `${what}: metadata_config.max_samples_per_send`);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(configMapping(m.headers ?? {}, `${what}: headers`))) {
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw new Error(`${what}: headers: ${name} is a reserved header; it cannot be changed`);
    headers[name] = optString(value, `${what}: headers.${name}`) ?? '';
  }
  return {
    url,
    name: optString(m.name, `${what}: name`) ?? defaultName(v),
    remoteTimeoutMs: optDuration(m.remote_timeout, `${what}: remote_timeout`) ?? DEFAULT_REMOTE_TIMEOUT_MS,
    headers,
    http: parseHttpClient(m, what),
    writeRelabel: parseRelabelConfigs(m.write_relabel_configs, `${what}: write_relabel_configs`),
    queue: parseQueue(m.queue_config, `${what}: queue_config`),
    sendNativeHistograms: optBool(m.send_native_histograms, `${what}: send_native_histograms`) ?? false,
  };
}

/** Prometheus' common HTTPClientConfig: at most one way to authenticate. */
function parseHttpClient(m: Record<string, unknown>, what: string): PrometheusHttpClientConfig {
  const out: PrometheusHttpClientConfig = {};
  const ways: string[] = [];
  if (m.basic_auth !== undefined && m.basic_auth !== null) {
    const b = configMapping(m.basic_auth, `${what}: basic_auth`, BASIC_AUTH_KEYS);
    const username = optString(b.username, `${what}: basic_auth.username`) ?? '';
    const password = optString(b.password, `${what}: basic_auth.password`);
    const passwordFile = optString(b.password_file, `${what}: basic_auth.password_file`);
    if (password !== undefined && passwordFile !== undefined) throw new Error(`${what}: at most one of basic_auth password & password_file must be configured`);
    out.basicAuth = { username, ...(password !== undefined ? { password } : {}), ...(passwordFile !== undefined ? { passwordFile } : {}) };
    ways.push('basic_auth');
  }
  if (m.authorization !== undefined && m.authorization !== null) {
    const a = configMapping(m.authorization, `${what}: authorization`, AUTHORIZATION_KEYS);
    const type = optString(a.type, `${what}: authorization.type`) ?? 'Bearer';
    if (type.toLowerCase() === 'basic') throw new Error(`${what}: authorization type cannot be set to "basic", use "basic_auth" instead`);
    if (type !== 'Bearer') throw new Error(`${what}: authorization type ${JSON.stringify(type)} is not supported by Strata (only Bearer)`);
    const credentials = optString(a.credentials, `${what}: authorization.credentials`);
    const credentialsFile = optString(a.credentials_file, `${what}: authorization.credentials_file`);
    if (credentials !== undefined && credentialsFile !== undefined) throw new Error(`${what}: at most one of authorization credentials & credentials_file must be configured`);
    if (credentials !== undefined) out.bearerToken = credentials;
    if (credentialsFile !== undefined) out.bearerTokenFile = credentialsFile;
    ways.push('authorization');
  }
  const bearerToken = optString(m.bearer_token, `${what}: bearer_token`);
  const bearerTokenFile = optString(m.bearer_token_file, `${what}: bearer_token_file`);
  if (bearerToken !== undefined && bearerTokenFile !== undefined) throw new Error(`${what}: at most one of bearer_token & bearer_token_file must be configured`);
  if (bearerToken !== undefined) out.bearerToken = bearerToken;
  if (bearerTokenFile !== undefined) out.bearerTokenFile = bearerTokenFile;
  if (bearerToken !== undefined || bearerTokenFile !== undefined) ways.push('bearer_token');
  if (ways.length > 1) throw new Error(`${what}: at most one of ${ways.join(', ')} must be configured`);
  const tls = parseTlsConfig(m.tls_config, `${what}: tls_config`);
  if (tls !== undefined) out.tls = tls;
  return out;
}

function parseQueue(v: unknown, what: string): RemoteWriteQueueConfig {
  const m = configMapping(v ?? {}, what, QUEUE_KEYS);
  optPositiveInt(m.max_shards, `${what}: max_shards`);
  optPositiveInt(m.min_shards, `${what}: min_shards`);
  const d = DEFAULT_REMOTE_WRITE_QUEUE;
  const q: RemoteWriteQueueConfig = {
    capacity: optPositiveInt(m.capacity, `${what}: capacity`) ?? d.capacity,
    maxSamplesPerSend: optPositiveInt(m.max_samples_per_send, `${what}: max_samples_per_send`) ?? d.maxSamplesPerSend,
    batchSendDeadlineMs: optDuration(m.batch_send_deadline, `${what}: batch_send_deadline`) ?? d.batchSendDeadlineMs,
    minBackoffMs: optDuration(m.min_backoff, `${what}: min_backoff`) ?? d.minBackoffMs,
    maxBackoffMs: optDuration(m.max_backoff, `${what}: max_backoff`) ?? d.maxBackoffMs,
    retryOnHttp429: optBool(m.retry_on_http_429, `${what}: retry_on_http_429`) ?? d.retryOnHttp429,
  };
  if (q.batchSendDeadlineMs <= 0) throw new Error(`${what}: batch_send_deadline must be positive`);
  if (q.minBackoffMs > q.maxBackoffMs) throw new Error(`${what}: min_backoff must not be greater than max_backoff`);
  return q;
}

/** Prometheus names an unnamed queue by the first 6 hex digits of its config's hash; this one hashes the entry as written. */
function defaultName(entry: unknown): string {
  return createHash('md5').update(JSON.stringify(entry)).digest('hex').slice(0, 6);
}
