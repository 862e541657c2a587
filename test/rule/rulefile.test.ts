// Rule files: Strata's ruler accepts the files Prometheus 2.42's `promtool check rules` accepts, rejects
// the ones it rejects, and says why as promtool does. One difference is deliberate: groups may carry
// Thanos' `partial_response_strategy`, which promtool rejects as an unknown field and `thanos rule` accepts.
// Templates are not compared: their checker is the template engine's, given to parseRuleFile by the ruler.
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRuleFile, RuleFileErrors } from '../../packages/rule/src/rulefile.js';
import { tempDir } from '@strata/testing/process';
import { promtool } from '@strata/testing/prometheus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const yaml = (...lines: string[]) => `${lines.join('\n')}\n`;
const rule = (...lines: string[]) => yaml('groups:', '- name: g', '  rules:', ...lines);

interface Case {
  name: string;
  text: string;
  /**
   * What our message must say where the YAML libraries word it differently; otherwise every message
   * of promtool's must be (part of) one of ours.
   */
  essential?: string[];
}

const CASES: Case[] = [
  // Accepted.
  {
    name: 'valid',
    text: yaml(
      'groups:',
      '- name: recording',
      '  interval: 1h30m',
      '  limit: 10',
      '  rules:',
      '  - record: job:up:sum',
      '    expr: sum by (job) (up)',
      '    labels: {team: infra, n: 1, b: yes}',
      '- name: alerts',
      '  rules:',
      '  - alert: Down',
      '    expr: |',
      '      up == 0',
      '    for: 5m',
      '    keep_firing_for: 1y2w3d4h5m6s7ms',
      '    labels: {severity: page}',
      '    annotations:',
      '      summary: "{{ $labels.job }} is down"',
    ),
  },
  { name: 'empty', text: '' },
  { name: 'comments', text: '# no rules yet\n' },
  { name: 'null-groups', text: 'groups:\n' },
  { name: 'second-document-ignored', text: yaml('groups: [{name: a, rules: []}]', '---', 'foo: bar') },
  { name: 'aliases', text: rule('  - alert: A', '    expr: up == 0', '    labels: &l {severity: page}', '  - alert: B', '    expr: up == 1', '    labels: *l') },
  { name: 'nulls-and-truncated-limit', text: yaml('groups:', '- name: g', '  interval:', '  limit: 2.9', '  rules:', '  - alert: A', '    expr: up', '    for: ~', '    keep_firing_for: 0') },
  { name: 'expr-number', text: rule('  - record: a', '    expr: 1') },

  // Decoding.
  { name: 'unknown-fields', text: yaml('foo: 1', 'groups:', '- name: g', '  bar: 2', '  rules:', '  - record: a', '    expr: up', '    baz: 3') },
  { name: 'duplicate-key', text: yaml('groups:', '- name: g', '  name: h', '  rules: []') },
  { name: 'wrong-kinds', text: yaml('groups:', '- name: [a]', '  rules:', '  - record: a', '    expr: up', '    labels: {a: {b: c}}', '    annotations: [x]') },
  { name: 'limit-string', text: yaml('groups:', '- name: g', '  limit: abcdefghijklmn', '  rules: []') },
  { name: 'limit-bool', text: yaml('groups:', '- name: g', '  limit: true') },
  { name: 'top-scalar', text: 'hello\n' },
  { name: 'groups-scalar', text: 'groups: foo\n' },
  { name: 'rules-scalar', text: yaml('groups:', '- name: g', '  rules: foo') },
  { name: 'duration-invalid', text: rule('  - alert: A', '    expr: up', '    for: 5x') },
  { name: 'duration-order', text: rule('  - alert: A', '    expr: up', '    for: 1m1h') },
  { name: 'duration-unitless', text: yaml('groups:', '- name: g', '  interval: 30') },
  { name: 'duration-empty', text: rule('  - alert: A', '    expr: up', '    for: ""') },
  { name: 'duration-out-of-range', text: rule('  - alert: A', '    expr: up', '    keep_firing_for: 300y') },
  { name: 'query-offset', text: yaml('groups:', '- name: g', '  query_offset: 1m', '  rules: []') },
  { name: 'syntax', text: yaml('groups:', '- name: g', '  rules: [', ''), essential: ['yaml: line '] },
  { name: 'syntax-quote', text: yaml('groups:', '- name: "g'), essential: ['yaml: line '] },

  // Validation.
  { name: 'group-names', text: yaml('groups:', '- rules:', '  - record: a', '    expr: up', '- name: g', '- name: g', '- name: ~') },
  {
    name: 'rules',
    text: rule(
      '  - expr: up',
      '  - record: a',
      '    alert: b',
      '    expr: up',
      '  - record: "a b"',
      '    expr: up{',
      '    for: 1m',
      '    keep_firing_for: 1m',
      '    annotations: {x: y}',
      '  - alert: X',
      '    expr: ""',
      '    labels: {__name__: x, "1a": b, ok: c}',
      '    annotations: {"b-c": d}',
      '  - record: r',
      '  - record: ""',
      '    expr: up',
    ),
  },
  { name: 'record-null', text: rule('  - record: ~', '    expr: up') },
  { name: 'record-utf8', text: rule('  - record: "my.metric"', '    expr: up', '    labels: {"a.b": c}') },
  ...[
    'sum(',
    'rate(up[5m]',
    'up{job=~"("}',
    'foo bar',
    '1 +',
    'unknown_fn(up)',
    'rate(up)',
    'sum(up) by (job) by (instance)',
    'up[5m] + 1',
    'up offset',
    '"a" + 1',
    'histogram_quantile(0.9)',
    'label_replace(up, "a", "b", "c")',
    'up{}',
  ].map((expr, i): Case => ({ name: `expr-${i}`, text: rule('  - record: a', `    expr: ${JSON.stringify(expr)}`) })),
];

describe('rule files, against promtool check rules (Prometheus 2.42)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    dir = await tempDir('strata-rulefile-');
    for (const c of CASES) await writeFile(join(dir.path, `${c.name}.yaml`), c.text);
  });
  afterAll(() => dir.cleanup());

  it.each(CASES)('$name', async (c) => {
    const file = join(dir.path, `${c.name}.yaml`);
    const theirs = await promtoolErrors(file);
    const ours = await ourErrors(file);
    if (theirs.length === 0) {
      expect(ours).toEqual([]);
      return;
    }
    expect(ours.length, `promtool rejects ${c.name}: ${theirs.join('\n')}`).toBeGreaterThan(0);
    // promtool decodes the file twice, the second time into rulefmt's private node types, and so
    // reports a bad top level twice; the second says nothing more.
    const reasons = theirs.filter((m) => !/into (rulefmt\.ruleGroups|\[\]yaml\.Node)$/.test(m));
    for (const want of c.essential ?? reasons) expect(ours.some((m) => m.includes(want)), `${JSON.stringify(want)} in\n${ours.join('\n')}`).toBe(true);
  });

  it("accepts Thanos' partial_response_strategy, which promtool rejects", async () => {
    const file = join(dir.path, 'partial-response.yaml');
    await writeFile(file, yaml('groups:', '- name: g', '  partial_response_strategy: warn', '  rules: []'));
    expect(await promtoolErrors(file)).toEqual(['yaml: unmarshal errors:\n  line 3: field partial_response_strategy not found in type rulefmt.RuleGroup']);
    expect(await ourErrors(file)).toEqual([]);
    expect((await loadRuleFile(file)).groups[0]?.partialResponseStrategy).toBe('warn');
  });

  it("accepts deploy/monitoring's alerts as promtool does", async () => {
    const file = join(dir.path, 'monitoring.yaml');
    await copyFile(fileURLToPath(new URL('../../deploy/monitoring/alerts.yml', import.meta.url)), file);
    expect(await promtoolErrors(file)).toEqual([]);
    expect(await ourErrors(file)).toEqual([]);
  });
});

/** promtool's messages about a file, without the `<file>: ` each starts with; none when it accepts the file. */
async function promtoolErrors(file: string): Promise<string[]> {
  try {
    await promtool(['check', 'rules', file]);
    return [];
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    const messages: string[] = [];
    // A message starts with the file's path; yaml.v3's list of unmarshal errors continues on indented lines.
    for (const line of stderr.split('\n')) {
      if (line.startsWith(`${file}: `)) messages.push(line.slice(file.length + 2));
      else if (line.startsWith('  line ') && messages.length > 0) messages[messages.length - 1] += `\n${line}`;
    }
    if (messages.length === 0) throw err;
    return messages;
  }
}

/** Our messages, each without the file's path, as promtool's above; parsed with Prometheus 2.42's syntax. */
async function ourErrors(file: string): Promise<string[]> {
  try {
    await loadRuleFile(file, { promql: { compat: 2 } });
    return [];
  } catch (err) {
    if (!(err instanceof RuleFileErrors)) throw err;
    return err.errors.map((e) => (e.startsWith(`${file}: `) ? e.slice(file.length + 2) : e));
  }
}
