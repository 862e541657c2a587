import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { configMapping, parseYamlConfig } from '@strata/objstore';
import type { ClientAuthType, WebConfig } from '@strata/runtime';

const TLS_KEYS = new Set(['cert_file', 'key_file', 'client_auth_type', 'client_ca_file', 'min_version', 'max_version', 'cipher_suites', 'curve_preferences', 'prefer_server_cipher_suites', 'client_allowed_sans']);
const CLIENT_AUTH: readonly ClientAuthType[] = ['NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'];
const MIN_VERSIONS = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;

/**
 * Reads `--http.config`: the web configuration of Prometheus' exporter-toolkit, as Thanos and Prometheus
 * take it: `tls_server_config` (cert_file, key_file, client_auth_type, client_ca_file, min_version),
 * `basic_auth_users` (bcrypt hashes) and `http_server_config.headers`. Files are relative to the
 * configuration's directory, as in exporter-toolkit. `max_version`, `cipher_suites`, `curve_preferences`,
 * `prefer_server_cipher_suites` and `http2` are accepted without effect (Node's defaults apply).
 */
export async function loadWebConfig(path: string): Promise<WebConfig> {
  const what = `--http.config ${path}`;
  const text = await readFile(path, 'utf8').catch((e: unknown) => {
    throw new Error(`${what}: ${(e as Error).message}`);
  });
  const top = configMapping(parseYamlConfig(text, what) ?? {}, what, new Set(['tls_server_config', 'http_server_config', 'basic_auth_users']));
  const file = async (field: string, p: unknown) => {
    const at = resolve(dirname(path), String(p));
    return readFile(at).catch((e: unknown) => {
      throw new Error(`${what}: tls_server_config.${field} ${at}: ${(e as Error).message}`);
    });
  };
  const out: WebConfig = {};
  if (top.tls_server_config !== undefined && top.tls_server_config !== null) {
    const tls = configMapping(top.tls_server_config, `${what}: tls_server_config`, TLS_KEYS);
    if (!tls.cert_file || !tls.key_file) throw new Error(`${what}: tls_server_config needs cert_file and key_file`);
    const clientAuth = (tls.client_auth_type || 'NoClientCert') as ClientAuthType;
    if (!CLIENT_AUTH.includes(clientAuth)) throw new Error(`${what}: tls_server_config.client_auth_type must be one of ${CLIENT_AUTH.join(', ')}`);
    if ((clientAuth === 'VerifyClientCertIfGiven' || clientAuth === 'RequireAndVerifyClientCert') && !tls.client_ca_file) throw new Error(`${what}: client_auth_type ${clientAuth} needs client_ca_file`);
    const minVersion = tls.min_version ? MIN_VERSIONS[String(tls.min_version) as keyof typeof MIN_VERSIONS] : undefined;
    if (tls.min_version && minVersion === undefined) throw new Error(`${what}: tls_server_config.min_version must be one of ${Object.keys(MIN_VERSIONS).join(', ')}`);
    out.tls = {
      cert: await file('cert_file', tls.cert_file),
      key: await file('key_file', tls.key_file),
      ...(tls.client_ca_file ? { clientCA: await file('client_ca_file', tls.client_ca_file) } : {}),
      clientAuth,
      ...(minVersion !== undefined ? { minVersion } : {}),
    };
  }
  const server = configMapping(top.http_server_config ?? {}, `${what}: http_server_config`, new Set(['http2', 'headers']));
  if (server.headers !== undefined && server.headers !== null) out.headers = Object.fromEntries(Object.entries(configMapping(server.headers, `${what}: http_server_config.headers`)).map(([k, v]) => [k, String(v)]));
  if (top.basic_auth_users !== undefined && top.basic_auth_users !== null) {
    const users = Object.entries(configMapping(top.basic_auth_users, `${what}: basic_auth_users`)).map(([u, h]) => [u, String(h)] as const);
    for (const [u, h] of users) if (!/^\$2[abxy]?\$\d\d\$/.test(h)) throw new Error(`${what}: basic_auth_users.${u} must be a bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\\n')`);
    out.basicAuthUsers = Object.fromEntries(users);
  }
  return out;
}
