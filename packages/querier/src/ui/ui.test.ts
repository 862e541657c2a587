import { buildHttpApp, createLogger, Prober } from '@strata/runtime';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { uiPlugin, type UiOptions } from './plugin.js';

async function appWith(ui: UiOptions, routePrefix?: string) {
  const registry = new Registry();
  return buildHttpApp({ registry, prober: new Prober('test', registry), logger: createLogger({ write: () => {} }), plugins: [uiPlugin(ui)], ...(routePrefix ? { routePrefix } : {}) });
}

/** The API base the page's script computes, evaluated as a browser would at `pathname`. */
function apiBase(html: string, pathname: string): string {
  const line = /const api = (.*);/.exec(html)?.[1];
  if (line === undefined) throw new Error('no API base in the page');
  return new Function('location', `return ${line};`)({ pathname }) as string;
}

describe('web UI', () => {
  it('serves the query page where Prometheus users look for it, under the route prefix', async () => {
    const app = await appWith({}, '/strata');
    for (const path of ['/strata/', '/strata/graph', '/strata/alerts', '/strata/rules', '/strata/targets', '/strata/stores', '/strata/tsdb-status']) {
      const res = await app.inject(path);
      expect(res.statusCode, path).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toContain('<title>Strata</title>');
    }
    // Without an external prefix the page finds the API relative to where it is served.
    expect(apiBase((await app.inject('/strata/graph')).body, '/strata/graph')).toBe('/strata/api/v1/');
    expect(apiBase((await app.inject('/strata/')).body, '/strata/')).toBe('/strata/api/v1/');
    expect(apiBase((await app.inject('/strata/targets')).body, '/strata/targets')).toBe('/strata/api/v1/');
    expect(apiBase((await app.inject('/strata/tsdb-status')).body, '/strata/tsdb-status')).toBe('/strata/api/v1/');
    await app.close();
  });

  it('calls the API under --web.external-prefix, or the prefix a proxy sends in --web.prefix-header', async () => {
    const fixed = await appWith({ externalPrefix: '/proxy/thanos', prefixHeader: 'X-Forwarded-Prefix' });
    const page = await fixed.inject({ url: '/graph', headers: { 'x-forwarded-prefix': '/other' } });
    expect(apiBase(page.body, '/graph')).toBe('/proxy/thanos/api/v1/');
    await fixed.close();

    const dynamic = await appWith({ prefixHeader: 'X-Forwarded-Prefix' });
    expect(apiBase((await dynamic.inject({ url: '/graph', headers: { 'x-forwarded-prefix': '/edge/' } })).body, '/graph')).toBe('/edge/api/v1/');
    expect(apiBase((await dynamic.inject('/graph')).body, '/q/graph')).toBe('/q/api/v1/');
    // A header cannot close the script it is written into.
    const hostile = await dynamic.inject({ url: '/', headers: { 'x-forwarded-prefix': '</script><script>alert(1)</script>' } });
    expect(hostile.body).not.toContain('<script>alert(1)');
    await dynamic.close();
  });

  it('shows native histograms as Prometheus prints them, and draws their count', async () => {
    const app = await appWith({});
    const html = (await app.inject({ url: '/' })).body;
    await app.close();
    // The page's own helpers, evaluated as the browser would.
    const helpers = html.slice(html.indexOf('function hist('), html.indexOf('function lbl('));
    const { hist, points } = new Function(`${helpers}; return { hist, points };`)() as {
      hist: (h: unknown) => string;
      points: (s: unknown) => [number, string][];
    };
    const buckets = [[1, '-1', '-0.5', '1'], [3, '-0.001', '0.001', '2'], [0, '0.5', '1', '3'], [2, '1', '2', '4']];
    expect(hist({ count: '10', sum: '5', buckets })).toBe('{count:10, sum:5, [-1,-0.5):1, [-0.001,0.001]:2, (0.5,1]:3, (1,2):4}');
    expect(hist({ count: '0', sum: '0' })).toBe('{count:0, sum:0}');
    expect(points({ values: [[2, '7']], histograms: [[1, { count: '3' }], [3, { count: '4' }]] })).toEqual([[1, '3'], [2, '7'], [3, '4']]);
  });

  it("shows explain's and analyze's operator trees, each operator with its time and samples", async () => {
    const app = await appWith({});
    const html = (await app.inject({ url: '/' })).body;
    await app.close();
    expect(html).toContain('_explain');
    const helpers = [html.slice(html.indexOf('function esc('), html.indexOf('// A native histogram')), html.slice(html.indexOf('function tree('), html.indexOf('async function run('))].join('\n');
    const { tree } = new Function(`${helpers}; return { tree };`)() as { tree: (n: unknown) => string };
    const analysis = { name: '[aggregate] sum by (job)', executionTime: '1.5ms', totalSamples: 12, peakSamples: 14, children: [{ name: '[vectorSelector] m{a="<b>"}', totalSamples: 12 }] };
    expect(tree(analysis)).toBe(
      '<ul><li>[aggregate] sum by (job) <span class="info">1.5ms, 12 samples, peak 14</span><ul><li>[vectorSelector] m{a=&quot;&lt;b&gt;&quot;} <span class="info">12 samples</span></li></ul></li></ul>',
    );
    expect(tree({ name: '[numberLiteral] 2' })).toBe('<ul><li>[numberLiteral] 2</li></ul>');
  });

  it("shows /api/v1/status/tsdb's counts and lists as tables", async () => {
    const app = await appWith({});
    const html = (await app.inject({ url: '/tsdb-status' })).body;
    await app.close();
    const helpers = [html.slice(html.indexOf('function dur('), html.indexOf('// A native histogram')), html.slice(html.indexOf('async function tsdbStatus('), html.indexOf("$('run').onclick"))].join('\n');
    const out = { innerHTML: '' };
    const form: Record<string, { value: string }> = { tsdbrange: { value: '1h' }, tsdbmatch: { value: ' {job="api"} ' }, tsdblimit: { value: '5' } };
    const data = {
      headStats: { numSeries: 3, numLabelPairs: 5, chunkCount: 0, minTime: 0, maxTime: 7_200_000 },
      seriesCountByMetricName: [{ name: 'up', value: 3 }],
      labelValueCountByLabelName: [{ name: 'job', value: 2 }],
      memoryInBytesByLabelName: [{ name: 'job', value: 4 }],
      seriesCountByLabelValuePair: [{ name: 'job=<a>', value: 2 }],
    };
    const asked: string[] = [];
    const load = async (path: string) => (asked.push(path), data);
    const tsdbStatus = new Function('load', '$', `${helpers}; return tsdbStatus;`)(load, (id: string) => form[id] ?? out) as () => Promise<void>;
    await tsdbStatus();
    const [path, query] = (asked[0] as string).split('?') as [string, string];
    const params = new URLSearchParams(query);
    expect([path, params.get('limit'), params.getAll('match[]'), Number(params.get('end')) - Number(params.get('start'))]).toEqual(['status/tsdb', '5', ['{job="api"}'], 3600]);
    expect(out.innerHTML).toContain('<h3>Series from 1970-01-01T00:00:00.000Z to 1970-01-01T02:00:00.000Z</h3>');
    expect(out.innerHTML).toContain('<tr><th>series</th><td>3</td></tr><tr><th>label pairs</th><td>5</td></tr>');
    expect(out.innerHTML).toContain('<h3>Top series count by label pair</h3><table><tr><th>name</th><th>series</th></tr><tr><td>job=&lt;a&gt;</td><td>2</td></tr></table>');
  });

  it('labels the graph axes at round values and round UTC times', async () => {
    const app = await appWith({});
    const html = (await app.inject({ url: '/' })).body;
    await app.close();
    const helpers = html.slice(html.indexOf('function valueTicks('), html.indexOf('function graph('));
    const { valueTicks, fmtValue, timeTicks } = new Function(`${helpers}; return { valueTicks, fmtValue, timeTicks };`)() as {
      valueTicks: (lo: number, hi: number, n: number) => number[];
      fmtValue: (v: number) => string;
      timeTicks: (lo: number, hi: number, n: number) => { ticks: number[]; label: (t: number) => string };
    };
    expect(valueTicks(0.0265, 0.0795, 5)).toEqual([0.03, 0.04, 0.05, 0.06, 0.07]);
    expect(valueTicks(-3, 7, 5)).toEqual([-2, 0, 2, 4, 6]);
    expect(valueTicks(1.2e9, 4.9e9, 5).map(fmtValue)).toEqual(['1.5G', '2G', '2.5G', '3G', '3.5G', '4G', '4.5G']);
    expect([0, 0.1 + 0.2, 1234.6, -2.5e6, 7e12].map(fmtValue)).toEqual(['0', '0.3', '1.235k', '-2.5M', '7T']);
    // Three days: a tick every twelve hours, dated; an hour: every ten minutes… at 15m, without the date.
    const days = timeTicks(Date.UTC(2026, 11, 3, 16, 18) / 1000, Date.UTC(2026, 11, 6, 16, 1) / 1000, 8);
    expect(days.ticks.map(days.label)).toEqual(['12-04 00:00', '12-04 12:00', '12-05 00:00', '12-05 12:00', '12-06 00:00', '12-06 12:00']);
    const hour = timeTicks(Date.UTC(2026, 11, 6, 15, 2) / 1000, Date.UTC(2026, 11, 6, 16, 2) / 1000, 8);
    expect(hour.ticks.map(hour.label)).toEqual(['15:15', '15:30', '15:45', '16:00']);
  });
});

describe('--query.default-step', () => {
  it("is the graph's smallest step: a 250th of the range, or the default step if more, as Thanos' UI", async () => {
    const stepOf = (html: string, rangeSeconds: number) => {
      const expr = /p\.set\('step', (Math\.max\([^;]*\))\);/.exec(html)?.[1];
      if (expr === undefined) throw new Error('no step in the page');
      return new Function('r', `return ${expr};`)(rangeSeconds) as number;
    };
    const plain = await appWith({});
    const page = (await plain.inject('/graph')).body;
    expect([stepOf(page, 3600), stepOf(page, 60)]).toEqual([14, 1]);
    await plain.close();
    const coarse = await appWith({ defaultStepSeconds: 60 });
    const coarsePage = (await coarse.inject('/graph')).body;
    expect([stepOf(coarsePage, 3600), stepOf(coarsePage, 7 * 86400)]).toEqual([60, 2419]);
    await coarse.close();
  });
});
