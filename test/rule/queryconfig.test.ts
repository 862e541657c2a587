// `strata rule --query.config`: queriers with credentials and TLS of their own, as Thanos' ruler takes
// them. A querier serves its HTTP API over HTTPS with basic authentication (`--http.config`); a ruler
// configured with the CA and the password evaluates its rules through it, one found through
// file_sd_configs; one with the wrong password fails them with the querier's 401.
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { get } from 'node:https';
import { join } from 'node:path';
import { start as startQuerier, type Querier } from '@strata/querier';
import { parseQueryConfig, start as startRuler, type Ruler, type RulerConfig } from '@strata/rule';
import { nopLogger } from '@strata/runtime';
import { makeCertificates } from '@strata/testing/certs';
import { sleep, tempDir } from '@strata/testing/process';
import { Labels } from '@strata/tsdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** bcrypt of `s3cret`, as the web configuration's basic_auth_users takes it. */
const HASH = '$2b$04$0E.YGRkhcwAaPE63VSzQ7uX3f9E9ExFAkqm54N48PePy0Ot3MwpWO';
const RULES = `groups:
  - name: g
    interval: 1s
    rules:
      - record: strata_one
        expr: vector(1)
`;

let dir: { path: string; cleanup: () => Promise<void> };
let querier: Querier;
let file: (name: string) => string;
const rulers: Ruler[] = [];

beforeAll(async () => {
  dir = await tempDir('strata-rule-queryconfig-');
  file = await makeCertificates(dir.path, [{ name: 'server', subject: '/CN=127.0.0.1', ext: 'subjectAltName=IP:127.0.0.1' }]);
  querier = await startQuerier({
    httpAddress: '127.0.0.1:0',
    grpcAddress: '127.0.0.1:0',
    endpoints: [],
    httpWebConfig: { tls: { cert: await readFile(file('server.crt')), key: await readFile(file('server.key')), clientAuth: 'NoClientCert' }, basicAuthUsers: { ruler: HASH } },
    logger: nopLogger,
  });
  await writeFile(join(dir.path, 'rules.yml'), RULES);
  await writeFile(join(dir.path, 'queriers.yml'), `- targets: ['${querier.httpAddress}']\n`);
});

afterAll(async () => {
  for (const r of rulers) await r.stop();
  await querier?.stop();
  await dir?.cleanup();
});

/** A ruler asking the queriers `queryConfig` gives; the state of its rule once it has been evaluated. */
async function evaluated(queryConfig: string): Promise<{ health: string; lastError: string }> {
  const config: RulerConfig = {
    ruleFiles: [join(dir.path, 'rules.yml')], evalIntervalMs: 1_000, queryOffsetMs: 0, resendDelayMs: 60_000,
    queryAddresses: [], queryConfigs: parseQueryConfig(queryConfig), queryMethod: 'POST',
    storage: { tsdb: { dir: join(dir.path, `ruler-${rulers.length}`), blockDurationMs: 7_200_000, retentionMs: 0 } },
    alertmanagers: [], alertLabelDrop: [], alertQueryUrl: '', externalLabels: Labels.from({ ruler: 'r' }),
    forOutageToleranceMs: 3_600_000, forGracePeriodMs: 0, restoreIgnoredLabels: [], promqlCompat: 3,
    httpAddress: '127.0.0.1:0', grpcAddress: '127.0.0.1:0', logger: nopLogger,
  };
  const ruler = await startRuler(config);
  rulers.push(ruler);
  for (let i = 0; i < 100; i++) {
    const body = (await (await fetch(`http://${ruler.httpAddress}/api/v1/rules`)).json()) as { data: { groups: { rules: { health: string; lastError: string }[] }[] } };
    const rule = body.data.groups[0]?.rules[0];
    if (rule !== undefined && rule.health !== 'unknown') return rule;
    await sleep(100);
  }
  throw new Error('the rule was not evaluated');
}

describe('strata rule --query.config', () => {
  it('the querier takes no request without the password', async () => {
    const status = await new Promise<number | undefined>((resolve, reject) => {
      get(`https://${querier.httpAddress}/api/v1/query?query=1`, { ca: readFileSync(file('ca.crt')) }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on('error', reject);
    });
    expect(status).toBe(401);
  });

  it('evaluates rules through a querier over HTTPS with basic authentication, found through file_sd_configs', async () => {
    const config = `
- http_config:
    basic_auth: {username: ruler, password: s3cret}
    tls_config: {ca_file: ${file('ca.crt')}}
  file_sd_configs: [{files: [${join(dir.path, 'queriers.yml')}], refresh_interval: 1m}]
  scheme: https
`;
    const rule = await evaluated(config);
    expect(rule.health, rule.lastError).toBe('ok');
  });

  it('fails them with the querier’s answer when the password is wrong', async () => {
    const config = `
- http_config:
    basic_auth: {username: ruler, password: wrong}
    tls_config: {ca_file: ${file('ca.crt')}}
  static_configs: ['${querier.httpAddress}']
  scheme: https
`;
    const rule = await evaluated(config);
    expect(rule.health).toBe('err');
    expect(rule.lastError).toContain('401');
  });
});
