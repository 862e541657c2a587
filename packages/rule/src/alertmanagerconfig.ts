import { configMapping, parseYamlConfig } from '@strata/objstore';
import { endpointScheme, type HttpEndpoints, parseHttpEndpoints } from './endpointsconfig.js';
import { optDuration, optString } from './yamlfields.js';

/**
 * The Alertmanagers the ruler sends alerts to: Thanos' `--alertmanagers.config(-file)` (pkg/alert's
 * AlertingConfig), or one `--alertmanagers.url` each:
 *
 *   alertmanagers:
 *     - http_config: {basic_auth: {username, password | password_file}, bearer_token | bearer_token_file,
 *                     tls_config: {ca_file, cert_file, key_file, server_name, insecure_skip_verify}}
 *       static_configs: [am-0:9093, dns+alertmanager.monitoring:9093, dnssrv+_web._tcp.am.monitoring]
 *       scheme: http
 *       path_prefix: ""
 *       timeout: 10s
 *       api_version: v2          # or v1 (Alertmanager before 0.27)
 *
 * Alerts go to every address of every entry. `dns+`, `dnssrv+` and `dnssrvnoa+` addresses are looked up
 * again at most every DNS interval, as Thanos' --alertmanagers.sd-dns-interval. Parsed strictly, as
 * Thanos' yaml.UnmarshalStrict; `file_sd_configs` is refused (not supported).
 */
export interface AlertmanagerConfig extends HttpEndpoints {
  timeoutMs: number;
  apiVersion: AlertmanagerApiVersion;
}

export type AlertmanagerApiVersion = 'v1' | 'v2';

/** Thanos' `--alertmanagers.send-timeout` and the config's `timeout` default. */
export const DEFAULT_ALERTMANAGER_TIMEOUT_MS = 10_000;
/** Alertmanager's default port, which Thanos adds to a `dns+` URL without one. */
const DEFAULT_ALERTMANAGER_PORT = 9093;

const ENTRY_KEYS = new Set(['http_config', 'static_configs', 'file_sd_configs', 'scheme', 'path_prefix', 'timeout', 'api_version']);

/** Parses `--alertmanagers.config`; `what` names it (the flag or file) in errors. */
export function parseAlertingConfig(text: string, what = '--alertmanagers.config'): AlertmanagerConfig[] {
  const top = configMapping(parseYamlConfig(text, what) ?? {}, what, new Set(['alertmanagers']));
  const list = top.alertmanagers ?? [];
  if (!Array.isArray(list)) throw new Error(`${what}: alertmanagers: expected a list`);
  return list.map((entry, i) => parseEntry(entry, `${what}: alertmanagers[${i}]`));
}

function parseEntry(v: unknown, what: string): AlertmanagerConfig {
  const m = configMapping(v, what, ENTRY_KEYS);
  const fileSd = m.file_sd_configs;
  if (fileSd !== undefined && fileSd !== null && !(Array.isArray(fileSd) && fileSd.length === 0)) throw new Error(`${what}: file_sd_configs is not supported by Strata: list the addresses in static_configs (dns+ and dnssrv+ names are looked up)`);
  return {
    ...parseHttpEndpoints(m, what),
    timeoutMs: optDuration(m.timeout, `${what}: timeout`) ?? DEFAULT_ALERTMANAGER_TIMEOUT_MS,
    apiVersion: apiVersion(optString(m.api_version, `${what}: api_version`) ?? 'v2', `${what}: api_version`),
  };
}

/**
 * One `--alertmanagers.url`: `http(s)://[user:pass@]host:port[/path]`, the scheme optionally prefixed with
 * `dns+`, `dnssrv+` or `dnssrvnoa+` (e.g. `dnssrv+http://_web._tcp.alertmanager.monitoring`).
 */
export function alertmanagerConfigFromUrl(value: string, timeoutMs = DEFAULT_ALERTMANAGER_TIMEOUT_MS): AlertmanagerConfig {
  const what = `--alertmanagers.url ${JSON.stringify(value)}`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${what}: not a URL`);
  }
  const [, dns, base] = /^(?:(dns|dnssrv|dnssrvnoa)\+)?(.*):$/.exec(url.protocol.toLowerCase()) ?? [];
  if (url.host === '') throw new Error(`${what}: alertmanagers.url contains empty host`);
  let host = url.host;
  // A dns+ name without a port: Thanos looks it up at Alertmanager's default port.
  if (dns === 'dns' && url.port === '') host = `${host}:${DEFAULT_ALERTMANAGER_PORT}`;
  const username = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  return {
    http: username !== '' || password !== '' ? { basicAuth: { username, password } } : {},
    scheme: endpointScheme(base ?? '', what),
    pathPrefix: url.pathname === '/' ? '' : url.pathname,
    staticAddresses: [dns !== undefined ? `${dns}+${host}` : host],
    timeoutMs,
    apiVersion: 'v2',
  };
}

function apiVersion(s: string, what: string): AlertmanagerApiVersion {
  if (s !== 'v1' && s !== 'v2') throw new Error(`${what}: expected Alertmanager API version to be one of [v1 v2] but got ${JSON.stringify(s)}`);
  return s;
}

