import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandRuleFiles, loadRuleFile, loadRuleFiles, parseRuleFile, RuleFileErrors, type RuleFileOptions } from './rulefile.js';

/** The messages parseRuleFile throws for `text` (none when it is valid). */
function errorsOf(text: string, opts: RuleFileOptions = { promql: { compat: 2 } }): readonly string[] {
  try {
    parseRuleFile(text, 'r.yaml', opts);
    return [];
  } catch (err) {
    if (!(err instanceof RuleFileErrors)) throw err;
    return err.errors;
  }
}

const yaml = (...lines: string[]) => `${lines.join('\n')}\n`;

describe('parseRuleFile', () => {
  it('reads a valid file', () => {
    const text = yaml(
      'groups:',
      '- name: recording',
      '  interval: 1h30m',
      '  limit: 10',
      '  rules:',
      '  - record: job:up:sum',
      '    expr: sum by (job) (up)',
      '    labels: {team: infra, "empty": ""}',
      '- name: alerts',
      '  partial_response_strategy: WARN',
      '  rules:',
      '  - alert: Down',
      '    expr: |',
      '      up == 0',
      '    for: 5m',
      '    keep_firing_for: 0s',
      '    labels:',
      '      severity: page',
      '      n: 1',
      '    annotations:',
      '      summary: "{{ $labels.job }} is down"',
      '- name: defaults',
      '  interval: 0s',
      '  partial_response_strategy: abort',
      '  rules: []',
    );
    expect(parseRuleFile(text, 'r.yaml', { promql: { compat: 2 } })).toEqual({
      path: 'r.yaml',
      groups: [
        {
          name: 'recording',
          interval: 5_400_000,
          limit: 10,
          partialResponseStrategy: 'abort',
          queryOffset: undefined,
          line: 2,
          rules: [{ record: 'job:up:sum', expr: 'sum by (job) (up)', labels: { team: 'infra', empty: '' }, line: 6 }],
        },
        {
          name: 'alerts',
          interval: undefined,
          limit: 0,
          partialResponseStrategy: 'warn',
          queryOffset: undefined,
          line: 9,
          rules: [
            {
              alert: 'Down',
              expr: 'up == 0\n',
              for: 300_000,
              keepFiringFor: 0,
              labels: { severity: 'page', n: '1' },
              annotations: { summary: '{{ $labels.job }} is down' },
              line: 12,
            },
          ],
        },
        { name: 'defaults', interval: undefined, limit: 0, partialResponseStrategy: 'abort', queryOffset: undefined, line: 22, rules: [] },
      ],
    });
  });

  it('takes an empty file, a null list and only the first YAML document', () => {
    expect(parseRuleFile('', 'r.yaml').groups).toEqual([]);
    expect(parseRuleFile('# nothing\n', 'r.yaml').groups).toEqual([]);
    expect(parseRuleFile('groups:\n', 'r.yaml').groups).toEqual([]);
    expect(parseRuleFile(yaml('groups: [{name: a, rules: []}]', '---', 'foo: bar'), 'r.yaml').groups.map((g) => g.name)).toEqual(['a']);
  });

  it('decodes YAML aliases in place of their anchors', () => {
    const text = yaml(
      'groups:',
      '- name: g',
      '  rules:',
      '  - alert: A',
      '    expr: up == 0',
      '    labels: &l {severity: page}',
      '  - alert: B',
      '    expr: up == 1',
      '    labels: *l',
    );
    expect(parseRuleFile(text, 'r.yaml').groups[0]?.rules.map((r) => r.labels)).toEqual([{ severity: 'page' }, { severity: 'page' }]);
  });

  it('reads null durations and limits as 0, and truncates a fractional limit as yaml.v3 does', () => {
    const g = parseRuleFile(yaml('groups:', '- name: g', '  interval:', '  limit: 2.9', '  rules:', '  - alert: A', '    expr: up', '    for: ~'), 'r.yaml').groups[0];
    expect(g?.interval).toBeUndefined();
    expect(g?.limit).toBe(2);
    expect(g?.rules[0]).toMatchObject({ for: 0 });
  });

  it('prefixes every message with the path', () => {
    expect(() => parseRuleFile('groups: [{rules: []}]', 'dir/r.yaml')).toThrow(new RuleFileErrors(['dir/r.yaml: 1:10: Groupname must not be empty']));
  });

  describe('decoding errors, reported together as yaml.v3 reports them', () => {
    it('unknown fields at each level', () => {
      expect(errorsOf(yaml('foo: 1', 'groups:', '- name: g', '  bar: 2', '  rules:', '  - record: a', '    expr: up', '    baz: 3'))).toEqual([
        'r.yaml: yaml: unmarshal errors:\n  line 1: field foo not found in type rulefmt.RuleGroups\n  line 4: field bar not found in type rulefmt.RuleGroup\n  line 8: field baz not found in type rulefmt.RuleNode',
      ]);
    });

    it('duplicate keys, which leave their mapping undecoded', () => {
      expect(errorsOf(yaml('groups:', '- name: g', '  name: h', '  foo: 1', '  rules: []'))).toEqual(['r.yaml: yaml: unmarshal errors:\n  line 3: mapping key "name" already defined at line 2']);
    });

    it('values of the wrong kind, in the order written', () => {
      expect(errorsOf(yaml('groups:', '- name: [a]', '  limit: abcdefghijk', '  rules:', '  - record: a', '    expr: up', '    labels: {a: {b: c}}', '    annotations: [x]'))).toEqual([
        'r.yaml: yaml: unmarshal errors:\n' +
          '  line 2: cannot unmarshal !!seq into string\n' +
          '  line 3: cannot unmarshal !!str `abcdefg...` into int\n' +
          '  line 7: cannot unmarshal !!map into string\n' +
          '  line 8: cannot unmarshal !!seq into map[string]string',
      ]);
      expect(errorsOf('hello')).toEqual(['r.yaml: yaml: unmarshal errors:\n  line 1: cannot unmarshal !!str `hello` into rulefmt.RuleGroups']);
      expect(errorsOf('groups: foo')).toEqual(['r.yaml: yaml: unmarshal errors:\n  line 1: cannot unmarshal !!str `foo` into []rulefmt.RuleGroup']);
      expect(errorsOf('groups: [{name: g, rules: 1}]')).toEqual(['r.yaml: yaml: unmarshal errors:\n  line 1: cannot unmarshal !!int `1` into []rulefmt.RuleNode']);
      expect(errorsOf('groups: [{name: g, limit: true}]')).toEqual(['r.yaml: yaml: unmarshal errors:\n  line 1: cannot unmarshal !!bool `true` into int']);
      expect(errorsOf('groups: [{name: g, interval: {}}]')).toEqual(['r.yaml: yaml: unmarshal errors:\n  line 1: cannot unmarshal !!map into string']);
    });

    it('durations', () => {
      const rule = (d: string) => errorsOf(yaml('groups:', '- name: g', '  rules:', '  - alert: A', '    expr: up', `    for: ${d}`));
      expect(rule('5x')).toEqual(['r.yaml: yaml: unmarshal errors:\n  line 6: not a valid duration string: "5x"']);
      expect(rule('1m1h')).toEqual(['r.yaml: yaml: unmarshal errors:\n  line 6: not a valid duration string: "1m1h"']);
      expect(rule('5')).toEqual(['r.yaml: yaml: unmarshal errors:\n  line 6: not a valid duration string: "5"']);
      expect(rule('""')).toEqual(['r.yaml: yaml: unmarshal errors:\n  line 6: empty duration string']);
      expect(rule('300y')).toEqual(['r.yaml: yaml: unmarshal errors:\n  line 6: duration out of range']);
      expect(rule('0')).toEqual([]);
      expect(rule('1y2w3d4h5m6s7ms')).toEqual([]);
    });

    it("Thanos' partial_response_strategy", () => {
      expect(errorsOf('groups: [{name: g, partial_response_strategy: maybe}]')).toEqual([
        "r.yaml: yaml: unmarshal errors:\n  line 1: failed to unmarshal 'partial_response_strategy'. Possible values are ABORT,WARN. Got: maybe",
      ]);
      expect(parseRuleFile('groups: [{name: g, partial_response_strategy: ""}]', 'r.yaml').groups[0]?.partialResponseStrategy).toBe('abort');
    });

    it('query_offset, only in the Prometheus 3 format', () => {
      const text = yaml('groups:', '- name: a', '  query_offset: 1m', '- name: b', '  query_offset: 0s', '- name: c', '  query_offset:', '- name: d');
      expect(errorsOf(text)).toEqual([
        'r.yaml: yaml: unmarshal errors:\n' +
          '  line 3: field query_offset not found in type rulefmt.RuleGroup\n' +
          '  line 5: field query_offset not found in type rulefmt.RuleGroup\n' +
          '  line 7: field query_offset not found in type rulefmt.RuleGroup',
      ]);
      expect(parseRuleFile(text, 'r.yaml', { promql: { compat: 3 } }).groups.map((g) => g.queryOffset)).toEqual([60_000, 0, undefined, undefined]);
    });

    it('YAML syntax', () => {
      expect(errorsOf('groups: [\n')).toEqual([expect.stringMatching(/^r\.yaml: yaml: line 2: Flow sequence/)]);
      expect(errorsOf('x: "abc')).toEqual([expect.stringMatching(/^r\.yaml: yaml: line 1: Missing closing "quote$/)]);
    });
  });

  describe('validation, as rulefmt.Validate', () => {
    it('group names', () => {
      expect(errorsOf(yaml('groups:', '- rules:', '  - record: a', '    expr: up', '- name: g', '- name: g', '- name: ~'))).toEqual([
        'r.yaml: 2:3: Groupname must not be empty',
        'r.yaml: 6:3: groupname: "g" is repeated in the same file',
        'r.yaml: 7:3: Groupname must not be empty',
        // Two unnamed groups share the name "".
        'r.yaml: 7:3: groupname: "" is repeated in the same file',
      ]);
    });

    it('rules, with the positions of the fields at fault', () => {
      const text = yaml(
        'groups:',
        '- name: g',
        '  rules:',
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
      );
      expect(errorsOf(text)).toEqual([
        `r.yaml: 0:0: group "g", rule 1, "": one of 'record' or 'alert' must be set`,
        `r.yaml: 5:13: 6:12: group "g", rule 2, "b": only one of 'record' and 'alert' must be set`,
        'r.yaml: 9:11: group "g", rule 3, "a b": could not parse expression: 1:4: parse error: unexpected end of input inside braces',
        `r.yaml: 8:13: group "g", rule 3, "a b": invalid field 'annotations' in recording rule`,
        `r.yaml: 8:13: group "g", rule 3, "a b": invalid field 'for' in recording rule`,
        `r.yaml: 8:13: group "g", rule 3, "a b": invalid field 'keep_firing_for' in recording rule`,
        'r.yaml: 8:13: group "g", rule 3, "a b": invalid recording rule name: a b',
        `r.yaml: 14:11: group "g", rule 4, "X": field 'expr' must be set in rule`,
        'r.yaml: group "g", rule 4, "X": invalid label name: __name__',
        'r.yaml: group "g", rule 4, "X": invalid label name: 1a',
        'r.yaml: group "g", rule 4, "X": invalid annotation name: b-c',
        `r.yaml: 0:0: group "g", rule 5, "r": field 'expr' must be set in rule`,
        `r.yaml: 18:13: group "g", rule 6, "": one of 'record' or 'alert' must be set`,
      ]);
    });

    it('keeps record, alert and expr as written, as rulefmt keeps their yaml.Node', () => {
      // `~` is null to YAML but a name to rulefmt 2.42, which reads the node's text.
      expect(errorsOf(yaml('groups:', '- name: g', '  rules:', '  - record: ~', '    expr: up'))).toEqual(['r.yaml: 4:13: group "g", rule 1, "~": invalid recording rule name: ~']);
      expect(parseRuleFile(yaml('groups:', '- name: g', '  rules:', '  - record: a', '    expr: 1'), 'r.yaml').groups[0]?.rules[0]).toMatchObject({ expr: '1' });
    });

    it('label values must be valid UTF-8', () => {
      expect(errorsOf(yaml('groups:', '- name: g', '  rules:', '  - record: a', '    expr: up', '    labels: {a: "\\uD800"}'))).toEqual(['r.yaml: group "g", rule 1, "a": invalid label value: \uD800']);
    });

    it('names by the Prometheus 3 rules: any UTF-8, no braces in record names', () => {
      const text = yaml('groups:', '- name: g', '  rules:', '  - record: "my.metric"', '    expr: up', '    labels: {"a.b": c, __name__: x}', '  - record: "up{a=\\"b\\"}"', '    expr: up');
      expect(errorsOf(text, { promql: { compat: 3 } })).toEqual([
        'r.yaml: group "g", rule 1, "my.metric": invalid label name: __name__',
        'r.yaml: 7:13: group "g", rule 2, "up{a=\\"b\\"}": braces present in the recording rule name; should it be in expr?: up{a="b"}',
      ]);
      expect(errorsOf(text)).toContain('r.yaml: 4:13: group "g", rule 1, "my.metric": invalid recording rule name: my.metric');
      expect(errorsOf(text)).toContain('r.yaml: group "g", rule 1, "my.metric": invalid label name: a.b');
    });

    it("checks an alerting rule's templates with the given checker", () => {
      const calls: [string, string][] = [];
      const checkTemplate = (name: string, text: string) => {
        calls.push([name, text]);
        return text.includes('{{ end }}') ? 'template: __alert_A:1: unexpected {{end}}' : undefined;
      };
      const text = yaml(
        'groups:',
        '- name: g',
        '  rules:',
        '  - record: r',
        '    expr: up',
        '    labels: {a: "{{ end }}"}',
        '  - alert: A',
        '    expr: up',
        '    labels: {l: "{{ end }}"}',
        '    annotations: {x: "{{ $value }}", y: "{{ end }}"}',
      );
      expect(errorsOf(text, { checkTemplate })).toEqual([
        'r.yaml: group "g", rule 2, "A": label "l": template: __alert_A:1: unexpected {{end}}',
        'r.yaml: group "g", rule 2, "A": annotation "y": template: __alert_A:1: unexpected {{end}}',
      ]);
      expect(calls).toEqual([
        ['A', '{{ end }}'],
        ['A', '{{ $value }}'],
        ['A', '{{ end }}'],
      ]);
    });

    it('parses expressions with the given PromQL options', () => {
      const text = yaml('groups:', '- name: g', '  rules:', '  - record: a', '    expr: holt_winters(up[5m], 0.5, 0.5)');
      expect(errorsOf(text, { promql: { compat: 2 } })).toEqual([]);
      expect(errorsOf(text, { promql: { compat: 3 } })).toEqual([expect.stringContaining('r.yaml: 5:11: group "g", rule 1, "a": could not parse expression: ')]);
    });
  });
});

describe('loading files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rulefile-'));
    await mkdir(join(dir, 'rules', 'team-a'), { recursive: true });
    await mkdir(join(dir, 'rules', 'team-b'), { recursive: true });
    await writeFile(join(dir, 'rules', 'team-a', 'up.yaml'), 'groups: [{name: up, rules: [{record: "job:up", expr: "sum(up)"}]}]\n');
    await writeFile(join(dir, 'rules', 'team-a', 'bad.yaml'), 'groups: [{name: bad, foo: 1}]\n');
    await writeFile(join(dir, 'rules', 'team-b', 'alerts.yml'), 'groups: [{name: up, rules: [{alert: Down, expr: "up == 0", for: 1m}]}]\n');
    await writeFile(join(dir, 'rules', 'team-b', '.hidden.yml'), 'groups: []\n');
    await writeFile(join(dir, 'rules', 'README'), 'not rules\n');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('expands --rule-file patterns as Go filepath.Glob, each file once', async () => {
    const p = (...s: string[]) => join(dir, 'rules', ...s);
    expect(await expandRuleFiles([p('*', '*.y*ml')])).toEqual([p('team-a', 'bad.yaml'), p('team-a', 'up.yaml'), p('team-b', '.hidden.yml'), p('team-b', 'alerts.yml')]);
    // Go negates a class with ^ only: [!a] is `!` or `a`.
    expect(await expandRuleFiles([p('team-[b]', '[!a]*'), p('team-?', 'up.yaml'), p('team-a', 'up.yaml')])).toEqual([p('team-b', 'alerts.yml'), p('team-a', 'up.yaml')]);
    expect(await expandRuleFiles([p('team-[^a]', 'a*'), p('team-*', 'a*')])).toEqual([p('team-b', 'alerts.yml')]);
    expect(await expandRuleFiles([p('nothing-*.yaml'), p('missing.yaml'), p('README', '*')])).toEqual([]);
    expect(await expandRuleFiles([p('README')])).toEqual([p('README')]);
    await expect(expandRuleFiles([p('team-[a', '*.yaml')])).rejects.toThrow(`retrieving rule files failed. pattern ${p('team-[a', '*.yaml')}: syntax error in pattern`);
  });

  it('loads files, reporting the errors of all of them', async () => {
    const up = join(dir, 'rules', 'team-a', 'up.yaml');
    const alerts = join(dir, 'rules', 'team-b', 'alerts.yml');
    const files = await loadRuleFiles([up, alerts]);
    expect(files.map((f) => [f.path, f.groups.map((g) => g.name)])).toEqual([
      [up, ['up']],
      [alerts, ['up']],
    ]);
    expect((await loadRuleFile(alerts)).groups[0]?.rules[0]).toEqual({ alert: 'Down', expr: 'up == 0', for: 60_000, keepFiringFor: 0, labels: {}, annotations: {}, line: 1 });

    const bad = join(dir, 'rules', 'team-a', 'bad.yaml');
    const missing = join(dir, 'missing.yaml');
    const err = await loadRuleFiles([bad, up, missing]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuleFileErrors);
    expect((err as RuleFileErrors).errors).toEqual([
      `${bad}: yaml: unmarshal errors:\n  line 1: field foo not found in type rulefmt.RuleGroup`,
      expect.stringMatching(new RegExp(`^${missing}: ENOENT`)),
    ]);
  });
});
