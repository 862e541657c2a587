/**
 * The querier's web UI: one self-contained page (no build step, no external assets) to run PromQL
 * against the API, as a table or a line graph, and to see the alerts, rules and scrape targets of the
 * Prometheus replicas behind it, the StoreAPI endpoints with their health, and the cardinality of the
 * series of the last hours (Prometheus' TSDB status page, over every endpoint).
 * `externalPrefix`: the path the browser reaches the querier under (Thanos' --web.external-prefix or
 * --web.prefix-header), which its API calls then use; without one they are made relative to the page.
 * `defaultStepSeconds`: the graph's smallest step (Thanos' --query.default-step: max(range / 250, it)).
 */
export function uiHtml(externalPrefix: string | undefined, defaultStepSeconds = 1): string {
  // As a script literal: a prefix from a request header must not be able to close the script.
  const external = JSON.stringify(externalPrefix?.replace(/\/+$/, '') ?? null).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Strata</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:0;color:#222}header{background:#2c3e50;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center}
header a{color:#cfd8dc;text-decoration:none}header b{font-size:16px}main{padding:16px;max-width:1200px}
textarea{width:100%;font:13px monospace;box-sizing:border-box}fieldset{border:0;padding:0;margin:8px 0;display:flex;gap:12px;flex-wrap:wrap;align-items:center}
table{border-collapse:collapse;width:100%;margin-top:8px}td,th{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;font:12px monospace;vertical-align:top}
.plan ul{margin:0;padding-left:18px}.plan li{font:12px monospace;line-height:1.6}.err{color:#b71c1c;white-space:pre-wrap}.warn{color:#e65100}.info{color:#546e7a}.ok{color:#2e7d32}svg{border:1px solid #ddd;margin-top:8px;background:#fff}
</style></head><body>
<header><b>Strata</b><a href="#query" onclick="show('query')">Query</a><a href="#alerts" onclick="show('alerts')">Alerts</a><a href="#rules" onclick="show('rules')">Rules</a><a href="#targets" onclick="show('targets')">Targets</a><a href="#stores" onclick="show('stores')">Stores</a><a href="#tsdb-status" onclick="show('tsdb-status')">TSDB Status</a></header>
<main>
<section id="query">
<textarea id="expr" rows="3" placeholder="PromQL expression, e.g. sum by (job) (rate(http_requests_total[5m]))"></textarea>
<fieldset>
<label>mode <select id="mode"><option value="graph">graph (range)</option><option value="table">table (instant)</option></select></label>
<label>range <input id="range" value="1h" size="5"></label>
<label>end <input id="end" placeholder="now" size="22"></label>
<label><input type="checkbox" id="dedup" checked> deduplication</label>
<label><input type="checkbox" id="partial" checked> partial response</label>
<label>max source resolution <select id="res"><option>0</option><option>auto</option><option>5m</option><option>1h</option></select></label>
<button id="run">Execute</button>
<button id="format" title="Format the expression as Prometheus does (/api/v1/format_query)">Format</button>
<button id="explain" title="The operators the query would be evaluated with, without running it (/api/v1/query_explain)">Explain</button>
<label title="Show what each operator cost (Thanos' analyze)"><input type="checkbox" id="analyze"> analyze</label>
</fieldset>
<div id="status"></div><div id="out"></div><div id="plan"></div>
</section>
<section id="alerts" hidden><div id="alertsout"></div></section>
<section id="rules" hidden><div id="rulesout"></div></section>
<section id="targets" hidden><div id="targetsout"></div></section>
<section id="stores" hidden><table id="storetable"></table></section>
<section id="tsdb-status" hidden><fieldset>
<label>series of the last <input id="tsdbrange" value="2h" size="5"></label>
<label>matching <input id="tsdbmatch" placeholder="all series, or e.g. {job=&quot;api&quot;}" size="30"></label>
<label>top <input id="tsdblimit" value="10" size="4"></label>
<button id="tsdbrun">Show</button>
</fieldset><div id="tsdbout"></div></section>
</main>
<script>
const $ = (id) => document.getElementById(id);
const api = (${external} ?? location.pathname.replace(/\\/(graph|alerts|rules|targets|stores|tsdb-status)?$/, '')) + '/api/v1/';
const VIEWS = { query: null, alerts: () => alerts(), rules: () => rules(), targets: () => targets(), stores: () => stores(), 'tsdb-status': () => tsdbStatus() };
function show(s) { for (const v of Object.keys(VIEWS)) $(v).hidden = v !== s; VIEWS[s]?.(); }
/** The API's data, or its error shown in place of the view. */
async function load(path, out) {
  const body = await (await fetch(api + path)).json();
  if (body.status === 'success') return body.data;
  $(out).innerHTML = '<span class="err">' + esc(body.errorType + ': ' + body.error) + '</span>';
  return null;
}
const obj = (o) => Object.entries(o || {}).map(([k, v]) => esc(k + '="' + v + '"')).join(', ');
function dur(s) { const m = /^(\\d+)(s|m|h|d|w)$/.exec(s); if (!m) throw new Error('range must look like 30m, 6h or 2d'); return m[1] * {s:1,m:60,h:3600,d:86400,w:604800}[m[2]]; }
function esc(s) { return String(s).replace(/[&<>"]/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c])); }
// A native histogram as Prometheus prints one: count, sum and its populated buckets, brackets after the
// API's boundary rule (0 (lo,hi], 1 [lo,hi), 2 (lo,hi), 3 [lo,hi]).
function hist(h) { return '{count:' + h.count + ', sum:' + h.sum + (h.buckets || []).map((b) => ', ' + (b[0] % 2 ? '[' : '(') + b[1] + ',' + b[2] + (b[0] === 0 || b[0] === 3 ? ']' : ')') + ':' + b[3]).join('') + '}'; }
// A series' points to draw: its floats and, for histograms, their count.
function points(s) { return (s.values || []).concat((s.histograms || []).map(([t, h]) => [t, h.count])).sort((a, b) => a[0] - b[0]); }
function lbl(m) { const n = m.__name__ || ''; const r = Object.entries(m).filter(([k]) => k !== '__name__').map(([k, v]) => k + '="' + v + '"'); return n + '{' + r.join(', ') + '}'; }
/** The query's API path and parameters from the form; null (the reason shown) when the form is not valid. */
function request(q) {
  const end = $('end').value ? Date.parse($('end').value) / 1000 : Date.now() / 1000;
  const p = new URLSearchParams({ query: q, dedup: $('dedup').checked, partial_response: $('partial').checked, max_source_resolution: $('res').value });
  try {
    if ($('mode').value !== 'graph') { p.set('time', end); return { path: 'query', p }; }
    const r = dur($('range').value); p.set('start', end - r); p.set('end', end); p.set('step', Math.max(${JSON.stringify(defaultStepSeconds)}, Math.round(r / 250)));
    return { path: 'query_range', p };
  } catch (e) { $('status').innerHTML = '<span class="err">' + esc(e.message) + '</span>'; return null; }
}
/** An operator tree (explain, or analyze's with each operator's time and samples) as nested lists. */
function tree(n) {
  const cost = [n.executionTime, n.totalSamples && n.totalSamples + ' samples', n.peakSamples && 'peak ' + n.peakSamples].filter(Boolean).join(', ');
  return '<ul><li>' + esc(n.name) + (cost ? ' <span class="info">' + esc(cost) + '</span>' : '') + (n.children || []).map(tree).join('') + '</li></ul>';
}
async function run() {
  const q = $('expr').value.trim(); if (!q) return;
  localStorage.setItem('strata.expr', q);
  const r = request(q); if (!r) return;
  if ($('analyze').checked) r.p.set('analyze', 'true');
  $('status').textContent = 'running…'; $('plan').innerHTML = ''; const t0 = performance.now();
  const res = await fetch(api + r.path, { method: 'POST', body: r.p }); const body = await res.json();
  const ms = Math.round(performance.now() - t0);
  if (body.status !== 'success') { $('status').innerHTML = '<span class="err">' + esc(body.errorType + ': ' + body.error) + '</span>'; $('out').innerHTML = ''; return; }
  if (body.data.analysis) $('plan').innerHTML = '<h4>analysis</h4><div class="plan">' + tree(body.data.analysis) + '</div>';
  $('status').innerHTML = '<span class="ok">' + ms + ' ms</span>' + (body.warnings || []).map((w) => '<div class="warn">warning: ' + esc(w) + '</div>').join('') + (body.infos || []).map((i) => '<div class="info">info: ' + esc(i) + '</div>').join('');
  const d = body.data;
  if (d.resultType === 'matrix' && r.path === 'query_range') graph(d.result);
  else if (d.resultType === 'vector') $('out').innerHTML = '<table>' + d.result.map((s) => '<tr><td>' + esc(lbl(s.metric)) + '</td><td>' + esc(s.value ? s.value[1] : hist(s.histogram[1])) + '</td></tr>').join('') + '</table>';
  else if (d.resultType === 'matrix') $('out').innerHTML = '<table>' + d.result.map((s) => '<tr><td>' + esc(lbl(s.metric)) + '</td><td>' + (s.values || []).map((v) => esc(v[1]) + ' @' + v[0]).concat((s.histograms || []).map((h) => esc(hist(h[1])) + ' @' + h[0])).join('<br>') + '</td></tr>').join('') + '</table>';
  else $('out').innerHTML = '<table><tr><td>' + d.resultType + '</td><td>' + esc(d.result[1]) + '</td></tr></table>';
}
async function explain() {
  const q = $('expr').value.trim(); if (!q) return;
  const r = request(q); if (!r) return;
  const body = await (await fetch(api + r.path + '_explain', { method: 'POST', body: r.p })).json();
  if (body.status !== 'success') { $('status').innerHTML = '<span class="err">' + esc(body.errorType + ': ' + body.error) + '</span>'; return; }
  $('status').textContent = ''; $('out').innerHTML = ''; $('plan').innerHTML = '<h4>explain</h4><div class="plan">' + tree(body.data) + '</div>';
}
async function format() {
  const q = $('expr').value.trim(); if (!q) return;
  const body = await (await fetch(api + 'format_query', { method: 'POST', body: new URLSearchParams({ query: q }) })).json();
  if (body.status !== 'success') { $('status').innerHTML = '<span class="err">' + esc(body.errorType + ': ' + body.error) + '</span>'; return; }
  $('expr').value = body.data; $('expr').rows = Math.min(20, Math.max(3, body.data.split('\\n').length));
}
// Axis ticks at round values (1, 2 or 5 times a power of ten) covering [lo, hi], about n of them.
function valueTicks(lo, hi, n) {
  const raw = (hi - lo) / n, p = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / p;
  const step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p, out = [];
  // Multiples of the step, rounded to twelve digits: 0.06, not 0.060000000000000005.
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) out.push(+(k * step).toPrecision(12));
  return out;
}
// A value as an axis shows it: SI prefixes from k up, four significant digits below.
function fmtValue(v) {
  const a = Math.abs(v);
  for (const [d, u] of [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']]) if (a >= d) return +(v / d).toPrecision(4) + u;
  return String(+v.toPrecision(4));
}
// Time ticks (seconds) at round UTC times covering [lo, hi], about n of them; labels with the date once the range spans days.
const TIME_STEPS = [1, 5, 15, 30, 60, 300, 900, 1800, 3600, 10800, 21600, 43200, 86400, 172800, 604800];
function timeTicks(lo, hi, n) {
  const step = TIME_STEPS.find((s) => (hi - lo) / s <= n) || TIME_STEPS[TIME_STEPS.length - 1], out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) out.push(t);
  return { ticks: out, label: (t) => { const iso = new Date(t * 1000).toISOString(); return (hi - lo > 86400 ? iso.slice(5, 10) + ' ' : '') + iso.slice(11, step < 60 ? 19 : 16); } };
}
function graph(series) {
  const W = 1100, H = 360, pad = 50; let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const s of series) for (const [t, v] of points(s)) { const f = +v; if (!isFinite(f)) continue; x0 = Math.min(x0, t); x1 = Math.max(x1, t); y0 = Math.min(y0, f); y1 = Math.max(y1, f); }
  if (!isFinite(x0)) { $('out').textContent = 'no data'; return; }
  if (y0 === y1) { y0 -= 1; y1 += 1; } if (x0 === x1) x1 = x0 + 1;
  const X = (t) => pad + (t - x0) / (x1 - x0) * (W - 2 * pad), Y = (v) => H - pad - (v - y0) / (y1 - y0) * (H - 2 * pad);
  let svg = '<svg width="' + W + '" height="' + H + '" font-size="11">';
  for (const v of valueTicks(y0, y1, 5)) svg += '<line x1="' + pad + '" x2="' + (W - pad) + '" y1="' + Y(v).toFixed(1) + '" y2="' + Y(v).toFixed(1) + '" stroke="#eee"/><text x="' + (pad - 4) + '" y="' + (Y(v) + 4).toFixed(1) + '" text-anchor="end">' + fmtValue(v) + '</text>';
  const time = timeTicks(x0, x1, 8);
  for (const t of time.ticks) svg += '<line y1="' + pad + '" y2="' + (H - pad) + '" x1="' + X(t).toFixed(1) + '" x2="' + X(t).toFixed(1) + '" stroke="#eee"/><text y="' + (H - pad + 16) + '" x="' + X(t).toFixed(1) + '" text-anchor="middle">' + time.label(t) + '</text>';
  svg += '<text x="' + (W - pad) + '" y="' + (H - 8) + '" text-anchor="end" fill="#888">UTC</text>';
  series.forEach((s, i) => {
    const color = 'hsl(' + (i * 137) % 360 + ',65%,45%)'; let d = '', gap = true, last = null; const ps = points(s);
    for (const [t, v] of ps) { const f = +v; if (!isFinite(f) || (last !== null && t - last > 2 * (x1 - x0) / ps.length + 1)) gap = true; if (!isFinite(f)) continue; d += (gap ? 'M' : 'L') + X(t).toFixed(1) + ' ' + Y(f).toFixed(1) + (gap ? ' l0 0 ' : ' '); gap = false; last = t; }
    svg += '<path d="' + d + '" fill="none" stroke="' + color + '" stroke-width="1.5" stroke-linecap="round"><title>' + esc(lbl(s.metric)) + '</title></path>';
  });
  $('out').innerHTML = svg + '</svg><table>' + series.map((s, i) => '<tr data-series="' + i + '"><td style="color:hsl(' + (i * 137) % 360 + ',65%,45%)">■ ' + esc(lbl(s.metric)) + (s.histograms ? ' (native histogram: its count)' : '') + '</td></tr>').join('') + '</table>';
  // Hovering a legend row brings its line forward.
  const paths = $('out').querySelectorAll('path');
  for (const row of $('out').querySelectorAll('tr[data-series]')) {
    row.onmouseenter = () => paths.forEach((p, i) => { p.style.opacity = String(i) === row.dataset.series ? '1' : '0.15'; });
    row.onmouseleave = () => paths.forEach((p) => { p.style.opacity = '1'; });
  }
}
async function alerts() {
  const d = await load('alerts', 'alertsout'); if (!d) return;
  let rows = '<table><tr><th>state</th><th>labels</th><th>annotations</th><th>active since</th><th>value</th></tr>';
  for (const a of d.alerts) rows += '<tr><td class="' + (a.state === 'firing' ? 'err' : 'warn') + '">' + esc(a.state) + '</td><td>' + obj(a.labels) + '</td><td>' + obj(a.annotations) + '</td><td>' + esc(a.activeAt || '') + '</td><td>' + esc(a.value) + '</td></tr>';
  $('alertsout').innerHTML = d.alerts.length === 0 ? 'no pending or firing alerts' : rows + '</table>';
}
async function rules() {
  const d = await load('rules', 'rulesout'); if (!d) return;
  let html = '';
  for (const g of d.groups) {
    html += '<h3>' + esc(g.name) + ' <small>' + esc(g.file) + ', every ' + g.interval + 's, last evaluated ' + esc(g.lastEvaluation) + '</small></h3><table><tr><th>rule</th><th>state</th><th>health</th><th>last evaluation</th></tr>';
    for (const r of g.rules) html += '<tr><td>' + esc((r.type === 'alerting' ? 'alert: ' : 'record: ') + r.name) + '<br>expr: ' + esc(r.query) + (r.labels && Object.keys(r.labels).length ? '<br>labels: ' + obj(r.labels) : '') + '</td><td>' + esc(r.state || '') + '</td><td class="' + (r.health === 'ok' ? 'ok' : 'err') + '">' + esc(r.health + (r.lastError ? ': ' + r.lastError : '')) + '</td><td>' + esc(r.lastEvaluation) + '</td></tr>';
    html += '</table>';
  }
  $('rulesout').innerHTML = html || 'no rules';
}
async function targets() {
  const d = await load('targets', 'targetsout'); if (!d) return;
  let rows = '<table><tr><th>endpoint</th><th>health</th><th>labels</th><th>last scrape</th><th>duration</th><th>error</th></tr>';
  for (const t of d.activeTargets) rows += '<tr><td>' + esc(t.scrapeUrl) + '</td><td class="' + (t.health === 'up' ? 'ok' : 'err') + '">' + esc(t.health) + '</td><td>' + obj(t.labels) + '</td><td>' + esc(t.lastScrape) + '</td><td>' + (t.lastScrapeDuration * 1000).toFixed(1) + ' ms</td><td class="err">' + esc(t.lastError) + '</td></tr>';
  $('targetsout').innerHTML = d.activeTargets.length === 0 ? 'no targets' : rows + '</table>';
}
async function stores() {
  const body = await (await fetch(api + 'stores')).json(); let rows = '<tr><th>type</th><th>endpoint</th><th>health</th><th>labels</th><th>min time</th><th>max time</th><th>last check</th></tr>';
  const t = (ms) => ms === null ? '' : Math.abs(ms) > 8e15 ? (ms < 0 ? '-∞' : '+∞') : new Date(ms).toISOString();
  for (const [type, list] of Object.entries(body.data)) for (const s of list) rows += '<tr><td>' + esc(type) + '</td><td>' + esc(s.name) + '</td><td class="' + (s.lastError ? 'err' : 'ok') + '">' + esc(s.lastError || 'up') + '</td><td>' + s.labelSets.map((l) => esc(lbl(l))).join('<br>') + '</td><td>' + t(s.minTime) + '</td><td>' + t(s.maxTime) + '</td><td>' + esc(s.lastCheck) + '</td></tr>';
  $('storetable').innerHTML = rows;
}
/** The cardinality of the series of the form's range (and selector), as the status API counts it. */
async function tsdbStatus() {
  let p;
  try {
    const end = Date.now() / 1000;
    p = new URLSearchParams({ start: end - dur($('tsdbrange').value), end, limit: $('tsdblimit').value });
  } catch (e) { $('tsdbout').innerHTML = '<span class="err">' + esc(e.message) + '</span>'; return; }
  if ($('tsdbmatch').value.trim()) p.append('match[]', $('tsdbmatch').value.trim());
  const d = await load('status/tsdb?' + p, 'tsdbout'); if (!d) return;
  const h = d.headStats, t = (ms) => new Date(ms).toISOString();
  let html = '<h3>Series from ' + t(h.minTime) + ' to ' + t(h.maxTime) + '</h3><table><tr><th>series</th><td>' + h.numSeries + '</td></tr><tr><th>label pairs</th><td>' + h.numLabelPairs + '</td></tr></table>';
  for (const [key, title, col] of [['seriesCountByMetricName', 'Top series count by metric name', 'series'], ['labelValueCountByLabelName', 'Top label names by value count', 'values'], ['memoryInBytesByLabelName', 'Top label names by bytes of values', 'bytes'], ['seriesCountByLabelValuePair', 'Top series count by label pair', 'series']])
    html += '<h3>' + title + '</h3><table><tr><th>name</th><th>' + col + '</th></tr>' + d[key].map((s) => '<tr><td>' + esc(s.name) + '</td><td>' + s.value + '</td></tr>').join('') + '</table>';
  $('tsdbout').innerHTML = html;
}
$('run').onclick = run;
$('tsdbrun').onclick = tsdbStatus;
$('format').onclick = format;
$('explain').onclick = explain;
const linked = new URLSearchParams(location.search);
$('expr').value = linked.get('expr') || localStorage.getItem('strata.expr') || '';
for (const k of ['range', 'end', 'mode']) if (linked.get(k)) $(k).value = linked.get(k);
if (linked.get('expr')) run();
$('expr').onkeydown = (e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); run(); } };
const view = location.hash.slice(1) || location.pathname.split('/').pop();
show(view in VIEWS ? view : 'query');
</script></body></html>`;
}
