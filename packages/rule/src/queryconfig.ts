import { configMapping, parseYamlConfig } from '@strata/objstore';
import { type HttpEndpoints, parseHttpEndpoints } from './endpointsconfig.js';
import { optDuration } from './yamlfields.js';

/**
 * The queriers a ruler asks over HTTP, as Thanos' `--query.config(-file)` gives them (pkg/httpconfig's
 * Config list), each entry with the credentials and TLS of its own:
 *
 *   - http_config: {basic_auth: …, bearer_token(_file): …, tls_config: …}
 *     static_configs: [query-0:10902, dnssrv+_http._tcp.query.monitoring]
 *     file_sd_configs: [{files: [/etc/strata/queriers.yml], refresh_interval: 5m}]
 *     scheme: http
 *     path_prefix: ""
 *
 * Parsed strictly, as Thanos' yaml.UnmarshalStrict.
 */
export interface QueryEndpointConfig extends HttpEndpoints {
  /** Prometheus' file SD files listing `host:port` targets, read again every `sdIntervalMs`. */
  sdFiles: string[];
  sdIntervalMs?: number;
}

const ENTRY_KEYS = new Set(['http_config', 'static_configs', 'file_sd_configs', 'scheme', 'path_prefix']);
const FILE_SD_KEYS = new Set(['files', 'refresh_interval']);

/** Parses `--query.config`; `what` names it (the flag or file) in errors. */
export function parseQueryConfig(text: string, what = '--query.config'): QueryEndpointConfig[] {
  const list = parseYamlConfig(text, what) ?? [];
  if (!Array.isArray(list)) throw new Error(`${what}: expected a list of query endpoint configurations`);
  return list.map((entry, i) => {
    const at = `${what}: [${i}]`;
    const m = configMapping(entry, at, ENTRY_KEYS);
    const fileSd = m.file_sd_configs ?? [];
    if (!Array.isArray(fileSd)) throw new Error(`${at}: file_sd_configs: expected a list`);
    const sdFiles: string[] = [];
    let sdIntervalMs: number | undefined;
    for (const [j, sd] of fileSd.entries()) {
      const f = configMapping(sd, `${at}: file_sd_configs[${j}]`, FILE_SD_KEYS);
      const files = f.files ?? [];
      if (!Array.isArray(files) || !files.every((x) => typeof x === 'string' && x !== '')) throw new Error(`${at}: file_sd_configs[${j}]: files must be a list of paths`);
      sdFiles.push(...(files as string[]));
      // One refresh interval per entry: the shortest given.
      const interval = optDuration(f.refresh_interval, `${at}: file_sd_configs[${j}]: refresh_interval`);
      if (interval !== undefined && interval > 0) sdIntervalMs = Math.min(sdIntervalMs ?? Infinity, interval);
    }
    const endpoints = parseHttpEndpoints(m, at);
    if (endpoints.staticAddresses.length === 0 && sdFiles.length === 0) throw new Error(`${at}: no static_configs or file_sd_configs: the entry names no querier`);
    return { ...endpoints, sdFiles, ...(sdIntervalMs !== undefined ? { sdIntervalMs } : {}) };
  });
}
