// PrometheusClient against a Prometheus that takes connections and never answers: which timeout ends
// which request.
import { startSilentServer } from '@strata/testing/process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrometheusClient } from './promclient.js';

describe('PrometheusClient against a Prometheus that does not answer', () => {
  let silent: Awaited<ReturnType<typeof startSilentServer>>;
  beforeAll(async () => {
    silent = await startSilentServer();
  });
  afterAll(async () => {
    await silent?.stop();
  });

  it('gives up on the requests for configuration, flags and lowest timestamp after --prometheus.get_config_timeout, naming it', async () => {
    const client = new PrometheusClient(`http://${silent.address}`, { configTimeoutMs: 100, timeoutMs: 3_600_000 });
    await expect(client.config()).rejects.toThrow(/status\/config: no answer within 100 ms \(--prometheus\.get_config_timeout\)$/);
    await expect(client.flags()).rejects.toThrow(/status\/flags: no answer within 100 ms \(--prometheus\.get_config_timeout\)$/);
    await expect(client.tsdbTimes()).rejects.toThrow(/metrics: no answer within 100 ms \(--prometheus\.get_config_timeout\)$/);
  });

  it('gives up on its other requests after their own timeout', async () => {
    const client = new PrometheusClient(`http://${silent.address}`, { configTimeoutMs: 3_600_000, timeoutMs: 100 });
    await expect(client.labelNames([], 0, 1000)).rejects.toThrow(/labels: no answer within 100 ms$/);
  });
});
