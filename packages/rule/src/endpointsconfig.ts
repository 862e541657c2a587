import { configMapping } from '@strata/objstore';
import { parsePrometheusHttpClientConfig, type PrometheusHttpClientConfig } from '@strata/sidecar';
import { stringify } from 'yaml';
import { optString } from './yamlfields.js';

/**
 * The fields Thanos' HTTP endpoint configurations share (pkg/httpconfig: the ruler's `--query.config`
 * entries, pkg/alert: its `--alertmanagers.config` entries), parsed from an entry's YAML mapping `m`:
 *
 *   http_config: {basic_auth: {username, password | password_file}, bearer_token | bearer_token_file,
 *                 tls_config: {ca_file, cert_file, key_file, server_name, insecure_skip_verify}}
 *   static_configs: [host:port, dns+host:port, dnssrv+_name._tcp.domain]
 *   scheme: http
 *   path_prefix: ""
 */
export interface HttpEndpoints {
  http: PrometheusHttpClientConfig;
  scheme: 'http' | 'https';
  /** Prepended to the API path. */
  pathPrefix: string;
  /** `host:port`, or a DNS discovery name (`dns+host:port`, `dnssrv+name`, `dnssrvnoa+name`). */
  staticAddresses: string[];
}

export function parseHttpEndpoints(m: Readonly<Record<string, unknown>>, what: string): HttpEndpoints {
  const statics = m.static_configs ?? [];
  if (!Array.isArray(statics) || !statics.every((a) => typeof a === 'string' && a !== '')) throw new Error(`${what}: static_configs must be a list of host:port addresses`);
  const http = m.http_config === undefined || m.http_config === null ? {} : parsePrometheusHttpClientConfig(stringify(configMapping(m.http_config, `${what}: http_config`)), `${what}: http_config`);
  return {
    http,
    scheme: endpointScheme(optString(m.scheme, `${what}: scheme`) ?? 'http', `${what}: scheme`),
    pathPrefix: (optString(m.path_prefix, `${what}: path_prefix`) ?? '').replace(/\/+$/, ''),
    staticAddresses: statics as string[],
  };
}

export function endpointScheme(s: string, what: string): 'http' | 'https' {
  if (s !== 'http' && s !== 'https') throw new Error(`${what}: scheme must be http or https (optionally after dns+, dnssrv+ or dnssrvnoa+), not ${JSON.stringify(s)}`);
  return s;
}
