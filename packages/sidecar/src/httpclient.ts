import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { configMapping, parseTlsConfig, parseYamlConfig, tlsConnectOptions, type TlsConfig } from '@strata/objstore';

/**
 * How the sidecar reaches a Prometheus that asks clients to authenticate or serves HTTPS (its
 * `--web.config.file`): Thanos' `--prometheus.http-client(-file)` YAML, e.g.
 * `basic_auth: {username: strata, password_file: /secrets/password}`,
 * `tls_config: {ca_file: /certs/ca.pem, server_name: prometheus.internal}`. Secrets in files are read
 * for every request, so that a rotated token or password takes effect without a restart.
 */
export interface PrometheusHttpClientConfig {
  basicAuth?: { username: string; password?: string; passwordFile?: string };
  bearerToken?: string;
  bearerTokenFile?: string;
  tls?: TlsConfig;
}

const KEYS = new Set(['basic_auth', 'bearer_token', 'bearer_token_file', 'proxy_url', 'tls_config', 'transport_config']);
const BASIC_AUTH_KEYS = new Set(['username', 'password', 'password_file']);
/** Thanos' transport_config: connection pool and timeout tuning, accepted without effect. */
const TRANSPORT_KEYS = new Set(['max_idle_conns', 'max_idle_conns_per_host', 'idle_conn_timeout', 'response_header_timeout', 'expect_continue_timeout', 'max_conns_per_host', 'disable_compression', 'tls_handshake_timeout']);

/** Parses the YAML; like Thanos it is strict: an unknown field is an error. */
export function parsePrometheusHttpClientConfig(text: string, what = '--prometheus.http-client'): PrometheusHttpClientConfig {
  const top = configMapping(parseYamlConfig(text, what) ?? {}, what, KEYS);
  const str = (v: unknown) => (v === undefined || v === null || v === '' ? undefined : String(v));
  if (str(top.proxy_url) !== undefined) throw new Error(`${what}: proxy_url is not supported: reach Prometheus directly`);
  configMapping(top.transport_config ?? {}, `${what}: transport_config`, TRANSPORT_KEYS);
  const basic = configMapping(top.basic_auth ?? {}, `${what}: basic_auth`, BASIC_AUTH_KEYS);
  const username = str(basic.username);
  const password = str(basic.password);
  const passwordFile = str(basic.password_file);
  if (username === undefined && (password !== undefined || passwordFile !== undefined)) throw new Error(`${what}: basic_auth needs a username`);
  if (password !== undefined && passwordFile !== undefined) throw new Error(`${what}: basic_auth takes password or password_file, not both`);
  const bearerToken = str(top.bearer_token);
  const bearerTokenFile = str(top.bearer_token_file);
  if ([username, bearerToken, bearerTokenFile].filter((x) => x !== undefined).length > 1) throw new Error(`${what}: give one of basic_auth, bearer_token and bearer_token_file`);
  const tls = parseTlsConfig(top.tls_config, `${what}: tls_config`);
  return {
    ...(username !== undefined ? { basicAuth: { username, ...(password !== undefined ? { password } : {}), ...(passwordFile !== undefined ? { passwordFile } : {}) } } : {}),
    ...(bearerToken !== undefined ? { bearerToken } : {}),
    ...(bearerTokenFile !== undefined ? { bearerTokenFile } : {}),
    ...(tls !== undefined ? { tls } : {}),
  };
}

/** The Authorization header a request carries now (files read again), or undefined. */
export function authorization(cfg: PrometheusHttpClientConfig): string | undefined {
  const read = (path: string) => readFileSync(path, 'utf8').trim();
  if (cfg.basicAuth !== undefined) {
    const { username, password, passwordFile } = cfg.basicAuth;
    const secret = passwordFile !== undefined ? read(passwordFile) : (password ?? '');
    return `Basic ${Buffer.from(`${username}:${secret}`).toString('base64')}`;
  }
  const token = cfg.bearerTokenFile !== undefined ? read(cfg.bearerTokenFile) : cfg.bearerToken;
  return token !== undefined ? `Bearer ${token}` : undefined;
}

/** tls.connect's options for the configuration's tls_config (its files read now). */
export function prometheusTlsOptions(cfg: PrometheusHttpClientConfig): ConnectionOptions {
  return tlsConnectOptions(cfg.tls, '--prometheus.http-client: tls_config');
}
