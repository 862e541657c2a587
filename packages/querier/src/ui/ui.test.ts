import { buildHttpApp, createLogger, Prober } from '@strata/runtime';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { uiPlugin } from './plugin.js';

describe('web UI', () => {
  it('serves the query page where Prometheus users look for it, under the route prefix', async () => {
    const registry = new Registry();
    const app = await buildHttpApp({ registry, prober: new Prober('test', registry), logger: createLogger({ write: () => {} }), plugins: [uiPlugin], routePrefix: '/strata' });
    for (const path of ['/strata/', '/strata/graph', '/strata/stores']) {
      const res = await app.inject(path);
      expect(res.statusCode, path).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toContain('<title>Strata</title>');
    }
    // The page finds the API relative to where it is served, so a route prefix works.
    expect((await app.inject('/strata/graph')).body).toContain("'/api/v1/'");
    await app.close();
  });
});
