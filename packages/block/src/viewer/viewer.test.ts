import { buildHttpApp, createLogger, Prober } from '@strata/runtime';
import type { BlockMeta } from '@strata/tsdb';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { blocksHtml } from './page.js';
import type { MetaFetcher } from '../fetcher.js';
import { blocksPlugin, type BlocksViews } from './plugin.js';
import { BlocksRefresher } from './refresher.js';
import { BlocksView } from './view.js';

const meta = (ulid: string, minTime: number, maxTime: number, replica = 'r0', level = 1, resolution = 0): BlockMeta => ({
  ulid, minTime, maxTime, version: 1, stats: { numSeries: 2, numSamples: 10 }, compaction: { level, sources: [ulid] },
  thanos: { labels: { cluster: 'c1', replica }, downsample: { resolution }, source: 'sidecar' },
});

async function appWith(views: BlocksViews, routePrefix?: string) {
  const registry = new Registry();
  return buildHttpApp({ registry, prober: new Prober('test', registry), logger: createLogger({ write: () => {} }), plugins: [blocksPlugin(views)], ...(routePrefix ? { routePrefix } : {}) });
}

describe('BlocksView', () => {
  it('answers Go’s zero time before its first refresh, its blocks by time after, and keeps them when a refresh fails', () => {
    const view = new BlocksView('cluster');
    expect(view.info()).toEqual({ label: 'cluster', blocks: [], refreshedAt: '0001-01-01T00:00:00Z', err: null });
    const [a, b] = [meta('01B', 7_200_000, 14_400_000), meta('01A', 0, 7_200_000)];
    view.set([a, b], new Date(1_000));
    expect(view.info()).toEqual({ label: 'cluster', blocks: [b, a], refreshedAt: '1970-01-01T00:00:01.000Z', err: null });
    view.fail(new Error('bucket unreachable'), new Date(2_000));
    expect(view.info()).toEqual({ label: 'cluster', blocks: [b, a], refreshedAt: '1970-01-01T00:00:02.000Z', err: 'bucket unreachable' });
  });
});

describe('block viewer routes', () => {
  it('serve Thanos’ blocks API and the pages, the loaded view where there is one', async () => {
    const global = new BlocksView();
    const loaded = new BlocksView();
    global.set([meta('01A', 0, 7_200_000), meta('01B', 0, 7_200_000, 'r1')]);
    loaded.set([meta('01A', 0, 7_200_000)]);
    const app = await appWith({ global, loaded }, '/strata');
    const all = await app.inject('/strata/api/v1/blocks');
    expect(all.statusCode).toBe(200);
    expect(all.json()).toEqual({ status: 'success', data: JSON.parse(JSON.stringify(global.info())) });
    expect((await app.inject('/strata/api/v1/blocks?view=loaded')).json().data.blocks.map((b: BlockMeta) => b.ulid)).toEqual(['01A']);
    for (const [path, api] of [['/strata/blocks', 'api/v1/blocks'], ['/strata/loaded', 'api/v1/blocks?view=loaded']]) {
      const page = await app.inject(path!);
      expect(page.statusCode, path).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      // Fetched relative to the page: under the route prefix too.
      expect(page.body).toContain(`const API = ${JSON.stringify(api)};`);
    }
    await app.close();

    const compactor = await appWith({ global });
    expect((await compactor.inject('/loaded')).statusCode).toBe(404);
    expect((await compactor.inject('/api/v1/blocks?view=loaded')).json().data.blocks).toHaveLength(2);
    await compactor.close();
  });
});

describe('the block viewer page', () => {
  // The page's own helpers, evaluated as the browser would.
  const html = blocksHtml('global');
  const { groupBlocks, lanes, overlapping } = new Function(`${html.slice(html.indexOf('const RESOLUTIONS'), html.indexOf('const COLORS'))}; return { groupBlocks, lanes, overlapping };`)() as {
    groupBlocks: (b: BlockMeta[]) => [string, BlockMeta[]][];
    lanes: (b: BlockMeta[]) => number[];
    overlapping: (b: BlockMeta[]) => Set<string>;
  };
  const h = 7_200_000;

  it('is a script the browser can parse', () => {
    const script = html.slice(html.indexOf('<script>') + '<script>'.length, html.indexOf('</script>'));
    expect(() => new Function(script)).not.toThrow();
  });

  it('draws a timeline per group, overlapping blocks outlined, and shows a block’s meta.json on a click', async () => {
    /** Just enough of a DOM for the page's script. */
    class Node {
      children: Node[] = [];
      attrs: Record<string, string> = {};
      listeners: Record<string, () => void> = {};
      textContent = '';
      value = '';
      checked = false;
      hidden = true;
      constructor(readonly name: string) {}
      setAttribute(k: string, v: string): void {
        this.attrs[k] = v;
      }
      append(...c: Node[]): void {
        this.children.push(...c);
      }
      replaceChildren(): void {
        this.children = [];
      }
      addEventListener(event: string, f: () => void): void {
        this.listeners[event] = f;
      }
      all(name: string): Node[] {
        return this.children.flatMap((c) => [...(c.name === name ? [c] : []), ...c.all(name)]);
      }
    }
    const byId = new Map<string, Node>();
    const document = {
      getElementById: (id: string): Node => {
        let node = byId.get(id);
        if (node === undefined) byId.set(id, (node = new Node(id)));
        return node;
      },
      createElement: (name: string) => new Node(name),
      createElementNS: (_ns: string, name: string) => new Node(name),
    };
    const view = new BlocksView('cluster');
    view.set([meta('a', 0, h), meta('b', h, 2 * h), meta('c', h + 1000, 3 * h), meta('d', 0, 4 * h, 'r1', 2)]);
    const fetch = async (url: string) => ({ json: async () => ({ status: 'success', data: JSON.parse(JSON.stringify(view.info())) }), url });
    const script = html.slice(html.indexOf('<script>') + '<script>'.length, html.indexOf('</script>'));
    new Function('document', 'fetch', script)(document, fetch);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const groups = document.getElementById('groups');
    expect(groups.all('h3').map((n) => n.textContent)).toEqual([
      'cluster=c1 {cluster="c1", replica="r0"} raw: 3 blocks, 2 overlapping',
      'cluster=c1 {cluster="c1", replica="r1"} raw: 1 blocks',
    ]);
    const rects = groups.all('rect');
    expect(rects.map((r) => r.attrs.class)).toEqual(['block', 'block overlap', 'block overlap', 'block']);
    expect(document.getElementById('summary').textContent).toMatch(/^4 of 4 blocks in 2 groups; refreshed /);
    rects[3]!.listeners.click!();
    expect(JSON.parse(document.getElementById('details').textContent).ulid).toBe('d');
    // The filter keeps what matches a label value, a ULID or a source.
    document.getElementById('filter').value = 'r1';
    document.getElementById('filter').listeners.input!();
    expect(groups.all('rect')).toHaveLength(1);
    document.getElementById('filter').value = '';
    document.getElementById('onlyOverlaps').checked = true;
    document.getElementById('onlyOverlaps').listeners.change!();
    expect(groups.all('h3')).toHaveLength(1);
  });

  it('groups blocks by external labels and resolution', () => {
    const blocks = [meta('a', 0, h), meta('b', 0, h, 'r1'), meta('c', 0, 24 * h, 'r0', 3, 300_000), meta('d', h, 2 * h)];
    expect(groupBlocks(blocks).map(([key, bs]) => [key, bs.map((b) => b.ulid)])).toEqual([
      ['{cluster="c1", replica="r0"} 5m', ['c']],
      ['{cluster="c1", replica="r0"} raw', ['a', 'd']],
      ['{cluster="c1", replica="r1"} raw', ['b']],
    ]);
  });

  it('lays blocks that follow each other in one lane and overlapping ones in the next, and names the overlapping', () => {
    // a and b adjoin (maxTime is exclusive); c overlaps b; d overlaps nothing but starts where c ends.
    const blocks = [meta('a', 0, h), meta('b', h, 2 * h), meta('c', h + 1000, 3 * h), meta('d', 3 * h, 4 * h)];
    expect(lanes(blocks)).toEqual([0, 0, 1, 0]);
    expect([...overlapping(blocks)].sort()).toEqual(['b', 'c']);
    // A long block overlaps every block within it, not only the one before.
    expect([...overlapping([meta('x', 0, 10 * h), meta('y', h, 2 * h), meta('z', 3 * h, 4 * h)])].sort()).toEqual(['x', 'y', 'z']);
  });
});

describe('BlocksRefresher', () => {
  it('fails a read that takes longer than its timeout, keeping the blocks shown, and reads again on its timer', async () => {
    const view = new BlocksView();
    const a = meta('01A', 0, 7_200_000);
    let reads = 0;
    let hang = false;
    // A stand-in for the bucket's fetcher: the refresher only calls fetch().
    const fetcher = {
      fetch: async () => {
        reads++;
        if (hang) return new Promise<never>(() => {});
        return { metas: new Map([[a.ulid, a]]), partial: new Map(), failed: new Map(), objects: new Map(), synced: new Map() };
      },
    } as unknown as MetaFetcher;
    const outcomes: (string | undefined)[] = [];
    const refresher = new BlocksRefresher({ fetcher, view, intervalMs: 20, timeoutMs: 50, onRefresh: (err) => outcomes.push(err?.message) });
    refresher.start();
    for (let i = 0; i < 200 && reads < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(reads).toBeGreaterThan(1);
    expect(view.info().blocks).toEqual([a]);
    hang = true;
    await refresher.refresh();
    expect(view.info()).toMatchObject({ blocks: [a], err: "reading the bucket's blocks took longer than 50 ms" });
    expect(outcomes.at(-1)).toBe("reading the bucket's blocks took longer than 50 ms");
    refresher.stop();
  });
});
