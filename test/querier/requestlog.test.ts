// Thanos' --request.logging-config on a real `strata query` process: its HTTP requests and the StoreAPI
// calls it serves logged with Thanos' field names, and a configuration Thanos refuses failing the start.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { labelNamesRequest, seriesRequest, StoreClient } from '@strata/storeapi';
import { CLI_SOURCE, startCliComponent, startProcess, tempDir, TSX_CHILD_ENV } from '@strata/testing/process';
import { describe, expect, it } from 'vitest';

const CONFIG = `
http:
  options: {level: DEBUG, decision: {log_start: false, log_end: true}}
grpc:
  options: {level: INFO, decision: {log_start: true, log_end: true}}
  config: [{service: thanos.Store, method: Series}, {service: thanos.Store, method: LabelNames}]
`;

describe('strata query --request.logging-config', () => {
  it('logs HTTP requests and the listed StoreAPI calls', async () => {
    const dir = await tempDir('strata-requestlog-');
    const querier = await startCliComponent(dir.path, 'query', ['query', '--log.level=debug', '--log.format=json', `--request.logging-config=${CONFIG}`]);
    const client = new StoreClient(querier.grpc);
    try {
      expect((await fetch(`${querier.http}/api/v1/query?query=1`)).status).toBe(200);
      expect((await fetch(`${querier.http}/api/v1/query?query=sum(`)).status).toBe(400);
      await client.info();
      await client.labelNames(labelNamesRequest({ start: 0, end: 1000 }));
      for await (const frame of client.series(seriesRequest({ minTime: 0, maxTime: 1000, matchers: [{ type: 0, name: '__name__', value: 'up' }] }))) expect(frame).toBeDefined();
      await querier.proc.stop();
      const lines = (await readFile(querier.proc.logFile, 'utf8'))
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const http = lines.filter((l) => l.protocol === 'http' && String(l['http.method']).startsWith('GET /api/v1/query'));
      expect(http.map((l) => [l.level, l.msg, l['http.method'], l['http.status_code'], l['http.handler']])).toEqual([
        ['debug', 'finished call', 'GET /api/v1/query?query=1', 200, '/api/v1/query'],
        ['debug', 'finished call', 'GET /api/v1/query?query=sum(', 400, '/api/v1/query'],
      ]);
      // Info is not listed; Series and LabelNames are, each logged as it starts and as it ends.
      const grpc = lines.filter((l) => l.protocol === 'grpc');
      expect(grpc.map((l) => [l.msg, l['grpc.service'], l['grpc.method'], l['grpc.method_type'], l['grpc.code']])).toEqual([
        ['started call', 'thanos.Store', 'LabelNames', 'unary', undefined],
        ['finished call', 'thanos.Store', 'LabelNames', 'unary', 'OK'],
        ['started call', 'thanos.Store', 'Series', 'server_stream', undefined],
        ['finished call', 'thanos.Store', 'Series', 'server_stream', 'OK'],
      ]);
      for (const l of grpc) expect(l['peer.address']).toMatch(/127\.0\.0\.1:\d+$/);
    } finally {
      client.close();
      await querier.proc.stop();
      await dir.cleanup();
    }
  }, 60_000);

  it("takes Thanos' older --log.request.decision in its terms", async () => {
    const dir = await tempDir('strata-requestlog-');
    const querier = await startCliComponent(dir.path, 'query', ['query', '--log.level=debug', '--log.format=json', '--log.request.decision=LogFinishCall']);
    const client = new StoreClient(querier.grpc);
    try {
      expect((await fetch(`${querier.http}/api/v1/query?query=1`)).status).toBe(200);
      await client.labelNames(labelNamesRequest({ start: 0, end: 1000 }));
      await querier.proc.stop();
      const finished = (await readFile(querier.proc.logFile, 'utf8'))
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.msg === 'finished call' || l.msg === 'started call');
      expect(finished.map((l) => [l.msg, l.protocol, l['http.method'] ?? l['grpc.method']])).toEqual(
        expect.arrayContaining([['finished call', 'http', 'GET /api/v1/query?query=1'], ['finished call', 'grpc', 'LabelNames']]),
      );
      expect(finished.filter((l) => l.msg === 'started call')).toEqual([]);
    } finally {
      client.close();
      await querier.proc.stop();
      await dir.cleanup();
    }
  }, 60_000);

  it('refuses a configuration Thanos refuses, before it serves', async () => {
    const dir = await tempDir('strata-requestlog-');
    try {
      for (const [flag, error] of [
        ['--request.logging-config=options: {decision: {log_end: true}}', '--request.logging-config: options.level: required when a decision is given'],
        ['--log.request.decision=Sometimes', '--log.request.decision must be NoLogCall, LogFinishCall, LogStartAndFinishCall, not Sometimes'],
      ]) {
        const proc = startProcess(process.execPath, ['--import', 'tsx', CLI_SOURCE, 'query', flag as string, '--http-address=127.0.0.1:0', '--grpc-address=127.0.0.1:0'], {
          logFile: join(dir.path, 'query.log'),
          env: { ...process.env, ...TSX_CHILD_ENV },
        });
        const code = await new Promise<number | null>((resolve) => proc.child.once('exit', (c) => resolve(c)));
        expect(code).toBe(1);
        expect(await readFile(proc.logFile, 'utf8')).toContain(error);
      }
    } finally {
      await dir.cleanup();
    }
  }, 60_000);
});
