/**
 * The block viewer page: one self-contained page (no build step, no external assets) that fetches the
 * blocks API next to it and draws the blocks on a timeline, lanes of blocks per external label set and
 * resolution, as Thanos' block viewer does. Blocks that overlap another of their group are outlined in
 * red (only vertical compaction merges them); a click shows a block's meta.json. Label values come from
 * the bucket: the page writes them as text, never as markup.
 */
export function blocksHtml(view: 'global' | 'loaded'): string {
  const api = view === 'loaded' ? 'api/v1/blocks?view=loaded' : 'api/v1/blocks';
  const title = view === 'loaded' ? 'Loaded blocks' : 'Blocks';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Strata · ${title}</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:0;color:#222}header{background:#2c3e50;color:#fff;padding:8px 16px}header b{font-size:16px}
main{padding:16px}fieldset{border:0;padding:0;margin:0 0 12px;display:flex;gap:12px;align-items:center;flex-wrap:wrap}
h3{font-size:13px;margin:14px 0 2px;font-weight:600}svg{display:block;background:#fafafa;border:1px solid #ddd}rect.block{cursor:pointer}
rect.overlap{stroke:#c62828;stroke-width:2}.err{color:#b71c1c}.muted{color:#666}pre{background:#f5f5f5;padding:8px;font-size:12px;overflow:auto}
</style></head><body>
<header><b>Strata</b> · ${title}</header>
<main>
<fieldset>
<label>filter <input id="filter" size="40" placeholder="label value, ULID or source"></label>
<label><input type="checkbox" id="onlyOverlaps"> only overlapping blocks</label>
<button id="reload">Reload</button>
<span id="summary" class="muted"></span>
</fieldset>
<div id="err" class="err"></div>
<div id="axis"></div><div id="groups"></div>
<h3 id="detailsTitle" hidden>meta.json</h3><pre id="details" hidden></pre>
</main>
<script>
const API = ${JSON.stringify(api)};
const WIDTH = 1100, LEFT = 8, LANE = 16;
const RESOLUTIONS = { 0: 'raw', 300000: '5m', 3600000: '1h' };

function labelsText(labels) {
  return '{' + Object.keys(labels || {}).sort().map((k) => k + '="' + labels[k] + '"').join(', ') + '}';
}

/** Blocks by external labels and resolution, groups in the order of their keys. */
function groupBlocks(blocks) {
  const groups = new Map();
  for (const b of blocks) {
    const t = b.thanos || { labels: {}, downsample: { resolution: 0 } };
    const key = labelsText(t.labels) + ' ' + (RESOLUTIONS[t.downsample.resolution] || t.downsample.resolution + 'ms');
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(b);
  }
  return [...groups.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** Each block's lane: the first whose last block ends by its start (blocks sorted by minTime; maxTime is exclusive). */
function lanes(blocks) {
  const ends = [];
  return blocks.map((b) => {
    let i = ends.findIndex((end) => end <= b.minTime);
    if (i < 0) i = ends.push(0) - 1;
    ends[i] = b.maxTime;
    return i;
  });
}

/** The ULIDs of blocks that overlap another of the same group (blocks sorted by minTime). */
function overlapping(blocks) {
  const out = new Set();
  let last;
  for (const b of blocks) {
    if (last !== undefined && b.minTime < last.maxTime) {
      out.add(b.ulid);
      out.add(last.ulid);
    }
    if (last === undefined || b.maxTime > last.maxTime) last = b;
  }
  return out;
}

const COLORS = ['#90caf9', '#64b5f6', '#42a5f5', '#1e88e5', '#1565c0', '#0d47a1'];
const SVG = 'http://www.w3.org/2000/svg';
let info;

function el(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function iso(ms) {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

function render() {
  const want = document.getElementById('filter').value.trim();
  const onlyOverlaps = document.getElementById('onlyOverlaps').checked;
  const groupsEl = document.getElementById('groups');
  const axisEl = document.getElementById('axis');
  groupsEl.replaceChildren();
  axisEl.replaceChildren();
  document.getElementById('err').textContent = info.err ? 'last refresh failed: ' + info.err : '';
  const shown = info.blocks.filter((b) => !want || b.ulid.includes(want) || labelsText(b.thanos && b.thanos.labels).includes(want) || ((b.thanos && b.thanos.source) || '').includes(want));
  const groups = groupBlocks(shown).map(([key, blocks]) => [key, blocks, overlapping(blocks)]).filter(([, , over]) => !onlyOverlaps || over.size > 0);
  const all = groups.flatMap(([, blocks]) => blocks);
  document.getElementById('summary').textContent = all.length + ' of ' + info.blocks.length + ' blocks in ' + groups.length + ' groups; refreshed ' + info.refreshedAt;
  if (all.length === 0) return;
  const min = Math.min(...all.map((b) => b.minTime));
  const max = Math.max(...all.map((b) => b.maxTime));
  const x = (t) => LEFT + ((t - min) / Math.max(1, max - min)) * (WIDTH - 2 * LEFT);
  const axis = el('svg', { width: WIDTH, height: 18 });
  for (let i = 0; i <= 4; i++) {
    const t = min + ((max - min) * i) / 4;
    // Each time centred on its place, the first and last kept inside the axis (a label clamped short of the end overlapped the one before).
    axis.append(el('text', { x: x(t), y: 13, 'font-size': 11, 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' }, iso(Math.round(t))));
  }
  axisEl.append(axis);
  for (const [key, blocks, over] of groups) {
    const h = document.createElement('h3');
    const title = info.label && blocks[0].thanos ? info.label + '=' + (blocks[0].thanos.labels[info.label] || '') + ' ' : '';
    h.textContent = title + key + ': ' + blocks.length + ' blocks' + (over.size > 0 ? ', ' + over.size + ' overlapping' : '');
    groupsEl.append(h);
    const lane = lanes(blocks);
    const svg = el('svg', { width: WIDTH, height: (Math.max(...lane) + 1) * LANE + 4 });
    blocks.forEach((b, i) => {
      const r = el('rect', {
        x: x(b.minTime), y: 2 + lane[i] * LANE, width: Math.max(2, x(b.maxTime) - x(b.minTime) - 1), height: LANE - 3,
        fill: COLORS[Math.min(COLORS.length, b.compaction.level) - 1], class: over.has(b.ulid) ? 'block overlap' : 'block',
      });
      const s = b.stats || {};
      r.append(el('title', {}, b.ulid + '\\n' + iso(b.minTime) + ' – ' + iso(b.maxTime) + '\\nlevel ' + b.compaction.level + ', ' + (s.numSeries || 0) + ' series, ' + (s.numSamples || 0) + ' samples'));
      r.addEventListener('click', () => {
        document.getElementById('detailsTitle').hidden = false;
        const d = document.getElementById('details');
        d.hidden = false;
        d.textContent = JSON.stringify(b, null, 2);
      });
      svg.append(r);
    });
    groupsEl.append(svg);
  }
}

async function load() {
  const res = await fetch(API);
  const body = await res.json();
  info = body.data;
  render();
}

document.getElementById('filter').addEventListener('input', render);
document.getElementById('onlyOverlaps').addEventListener('change', render);
document.getElementById('reload').addEventListener('click', () => load().catch((e) => (document.getElementById('err').textContent = String(e))));
load().catch((e) => (document.getElementById('err').textContent = String(e)));
</script>
</body></html>
`;
}
