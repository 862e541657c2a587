// Stopping `strata query` on SIGTERM with Thanos' --http-grace-period: a query in flight is let run for
// the grace period, then cut, and the process exits cleanly rather than being killed.
import { readFile } from 'node:fs/promises';
import { startCliComponent, startSilentServer, tempDir } from '@strata/testing/process';
import { describe, expect, it } from 'vitest';

describe('strata query on SIGTERM', () => {
  it('lets a query in flight run for --http-grace-period, then cuts it and exits 0', async () => {
    const dir = await tempDir('strata-shutdown-');
    // A strict endpoint that never answers: the query waits on it.
    const silent = await startSilentServer();
    const querier = await startCliComponent(dir.path, 'query', ['query', `--endpoint-strict=${silent.address}`, '--endpoint.info-timeout=1s', '--http-grace-period=1s', '--grpc-grace-period=1s']);
    try {
      const answer = fetch(`${querier.http}/api/v1/query?query=up`).then(
        (r) => `answered ${r.status}`,
        () => 'cut',
      );
      await new Promise((r) => setTimeout(r, 300));
      await querier.proc.stop();
      expect(querier.proc.child.exitCode).toBe(0);
      expect(await answer).toBe('cut');
      expect(await readFile(querier.proc.logFile, 'utf8')).toContain('HTTP requests still in flight after the grace period');
    } finally {
      await querier.proc.stop();
      await silent.stop();
      await dir.cleanup();
    }
  }, 60_000);
});
