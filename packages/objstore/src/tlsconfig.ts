import { readFileSync } from 'node:fs';
import { configMapping } from './yamlconfig.js';

/** Thanos' `tls_config` of an HTTP client (the S3 config's http_config, the sidecar's Prometheus client): files by path. */
export interface TlsConfig {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  serverName?: string | undefined;
  insecureSkipVerify?: boolean;
}

const TLS_KEYS = new Set(['ca_file', 'cert_file', 'key_file', 'server_name', 'insecure_skip_verify']);

/** Reads a `tls_config` mapping (absent or all defaults: undefined); empty strings, Thanos' defaults, are unset. */
export function parseTlsConfig(v: unknown, what: string): TlsConfig | undefined {
  if (v === undefined || v === null) return undefined;
  const m = configMapping(v, what, TLS_KEYS);
  const path = (x: unknown) => (x === undefined || x === null || x === '' ? undefined : String(x));
  const cfg: TlsConfig = { caFile: path(m.ca_file), certFile: path(m.cert_file), keyFile: path(m.key_file), serverName: path(m.server_name), insecureSkipVerify: m.insecure_skip_verify === true };
  if ((cfg.certFile === undefined) !== (cfg.keyFile === undefined)) throw new Error(`${what}: cert_file and key_file go together`);
  return Object.values(cfg).some((x) => x !== undefined && x !== false) ? cfg : undefined;
}

/** Options for tls.connect or an HTTPS agent, the files read now, so that a wrong path fails at start (`what` names the config in errors). */
export function tlsConnectOptions(cfg: TlsConfig | undefined, what: string): { ca?: Buffer; cert?: Buffer; key?: Buffer; servername?: string; rejectUnauthorized?: boolean } {
  if (cfg === undefined) return {};
  const file = (field: string, path: string | undefined): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (e) {
      throw new Error(`${what}.${field} ${path}: ${(e as Error).message}`);
    }
  };
  const ca = file('ca_file', cfg.caFile);
  const cert = file('cert_file', cfg.certFile);
  const key = file('key_file', cfg.keyFile);
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(cfg.serverName ? { servername: cfg.serverName } : {}), ...(cfg.insecureSkipVerify ? { rejectUnauthorized: false } : {}) };
}
