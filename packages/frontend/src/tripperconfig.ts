import { configMapping, parseTlsConfig, parseYamlConfig, type TlsConfig } from '@strata/objstore';
import { configDuration, wholeNumber } from '@strata/runtime';

/**
 * How the frontend's HTTP client reaches the downstream querier: Thanos'
 * `--query-frontend.downstream-tripper-config(-file)`, the settings of Go's http.Transport it names,
 * with Thanos' defaults where the file says nothing.
 */
export interface DownstreamTransport {
  /** idle_conn_timeout: how long an idle connection is kept (default 90s). */
  idleConnTimeoutMs: number;
  /** response_header_timeout: how long a request may wait for its answer's head (0: as long as it takes). */
  responseHeaderTimeoutMs: number;
  /** tls_handshake_timeout: how long connecting may take, the TLS handshake included (default 10s). */
  tlsHandshakeTimeoutMs: number;
  /**
   * Connections kept alive between requests: max_idle_conns_per_host, and max_idle_conns where it is
   * lower (there is one host). Go's default of 2 per host is why Thanos recommends raising it to 100;
   * here 100 is the default.
   */
  maxIdleConns: number;
  /** max_conns_per_host: requests sent at once, each on a connection of its own; more wait (0: no bound). */
  maxConnsPerHost: number;
  /** tls_config: CA, client certificate, server name for an https: downstream URL. */
  tls?: TlsConfig;
}

export const DEFAULT_DOWNSTREAM_TRANSPORT: DownstreamTransport = { idleConnTimeoutMs: 90_000, responseHeaderTimeoutMs: 0, tlsHandshakeTimeoutMs: 10_000, maxIdleConns: 100, maxConnsPerHost: 0 };

const KEYS = new Set(['idle_conn_timeout', 'response_header_timeout', 'tls_handshake_timeout', 'expect_continue_timeout', 'max_idle_conns', 'max_idle_conns_per_host', 'max_conns_per_host', 'tls_config']);

/**
 * Parses the YAML; unknown keys are refused, as Thanos parses it strictly. `expect_continue_timeout` is
 * accepted and has nothing to act on: requests are never sent with `Expect: 100-continue`.
 */
export function parseDownstreamTransport(text: string, what = 'downstream tripper config'): DownstreamTransport {
  const cfg = configMapping(parseYamlConfig(text, what) ?? {}, what, KEYS);
  const given = (key: string) => cfg[key] !== undefined && cfg[key] !== null;
  // As Thanos: a duration of 0 keeps the default.
  const duration = (key: string, fallback: number) => (given(key) ? configDuration(cfg[key], `${what}: ${key}`) : 0) || fallback;
  const count = (key: string) => (given(key) ? wholeNumber(cfg[key], `${what}: ${key}`) : undefined);
  const d = DEFAULT_DOWNSTREAM_TRANSPORT;
  duration('expect_continue_timeout', 0);
  const idle = [count('max_idle_conns'), count('max_idle_conns_per_host')].filter((n): n is number => n !== undefined);
  const tls = parseTlsConfig(cfg.tls_config, `${what}: tls_config`);
  return {
    idleConnTimeoutMs: duration('idle_conn_timeout', d.idleConnTimeoutMs),
    responseHeaderTimeoutMs: duration('response_header_timeout', d.responseHeaderTimeoutMs),
    tlsHandshakeTimeoutMs: duration('tls_handshake_timeout', d.tlsHandshakeTimeoutMs),
    maxIdleConns: idle.length > 0 ? Math.min(...idle) : d.maxIdleConns,
    maxConnsPerHost: count('max_conns_per_host') ?? d.maxConnsPerHost,
    ...(tls !== undefined ? { tls } : {}),
  };
}
