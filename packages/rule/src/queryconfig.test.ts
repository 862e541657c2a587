import { describe, expect, it } from 'vitest';
import { parseQueryConfig } from './queryconfig.js';

describe('parseQueryConfig', () => {
  it("reads Thanos' query configuration: credentials, TLS, static and file SD targets, scheme and path prefix", () => {
    const config = parseQueryConfig(`
- http_config:
    basic_auth: {username: ruler, password_file: /secrets/p}
    tls_config: {ca_file: /certs/ca.pem, server_name: query.internal}
  static_configs: [query-0:10902, dnssrv+_http._tcp.query.monitoring]
  file_sd_configs:
    - files: [/etc/q1.yml]
      refresh_interval: 5m
    - files: [/etc/q2.json]
      refresh_interval: 30s
  scheme: https
  path_prefix: /thanos/
- static_configs: [query-b:10902]
`);
    expect(config).toEqual([
      {
        http: { basicAuth: { username: 'ruler', passwordFile: '/secrets/p' }, tls: { caFile: '/certs/ca.pem', serverName: 'query.internal', insecureSkipVerify: false } },
        scheme: 'https',
        pathPrefix: '/thanos',
        staticAddresses: ['query-0:10902', 'dnssrv+_http._tcp.query.monitoring'],
        sdFiles: ['/etc/q1.yml', '/etc/q2.json'],
        sdIntervalMs: 30_000,
      },
      { http: {}, scheme: 'http', pathPrefix: '', staticAddresses: ['query-b:10902'], sdFiles: [] },
    ]);
    expect(parseQueryConfig('')).toEqual([]);
  });

  it.each([
    ['static_configs: [a:1]', 'expected a list of query endpoint configurations'],
    ['- static_configs: [a:1]\n  timeout: 10s', 'timeout'],
    ['- static_configs: [a:1]\n  scheme: ftp', 'scheme must be http or https'],
    ['- scheme: http', 'names no querier'],
    ['- file_sd_configs: [{files: [], refresh_interval: 1m, extra: 1}]', 'extra'],
    ['- file_sd_configs: [{files: a.yml}]', 'files must be a list of paths'],
    ['- static_configs: [a:1]\n  http_config: {bearer_token: t, basic_auth: {username: u}}', 'http_config'],
  ])('refuses %j, naming the problem', (text, problem) => {
    expect(() => parseQueryConfig(text)).toThrow(problem);
  });
});
