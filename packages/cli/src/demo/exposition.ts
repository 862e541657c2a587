import { DEMO_FAMILIES, type DemoModel, type DemoSample } from './model.js';

/**
 * The demo service's samples in the two text formats Prometheus reads: the classic exposition format
 * (0.0.4) for live scrapes, and OpenMetrics with timestamps (in seconds) for
 * `create-blocks-from openmetrics` backfills.
 */

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatLabels(labels: Record<string, string>): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** One scrape's worth of samples in the text exposition format. */
export function textExposition(samples: readonly DemoSample[]): string {
  const byFamily = new Map<string, DemoSample[]>();
  for (const s of samples) {
    const list = byFamily.get(s.family);
    if (list) list.push(s);
    else byFamily.set(s.family, [s]);
  }
  let out = '';
  for (const f of DEMO_FAMILIES) {
    const list = byFamily.get(f.name);
    if (!list) continue;
    const typeName = f.type === 'counter' ? `${f.name}_total` : f.name;
    out += `# HELP ${typeName} ${f.help}\n# TYPE ${typeName} ${f.type}\n`;
    for (const s of list) out += `${s.name}${formatLabels(s.labels)} ${formatValue(s.value)}\n`;
  }
  return out;
}

export interface BackfillRange {
  startMs: number;
  endMs: number;
  stepMs: number;
}

/**
 * The samples of several instances over a time range as OpenMetrics, family by family (OpenMetrics
 * forbids interleaving families), each line carrying the `job` and `instance` labels a scrape would add.
 * Written in pieces through `write` so multi-day ranges never sit in memory whole.
 */
export async function writeOpenMetrics(
  instances: readonly { model: DemoModel; labels: Record<string, string> }[],
  range: BackfillRange,
  write: (chunk: string) => Promise<void> | void,
): Promise<number> {
  let lines = 0;
  for (const f of DEMO_FAMILIES) {
    await write(`# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`);
    for (let t = range.startMs; t <= range.endMs; t += range.stepMs) {
      let chunk = '';
      const ts = formatValue(t / 1000);
      for (const inst of instances) {
        for (const s of inst.model.samples(t, f.name)) {
          chunk += `${s.name}${formatLabels({ ...s.labels, ...inst.labels })} ${formatValue(s.value)} ${ts}\n`;
          lines++;
        }
      }
      if (chunk !== '') await write(chunk);
    }
  }
  await write('# EOF\n');
  return lines;
}
