/**
 * Alert templates expanded by Strata against a real Prometheus 2.42: Prometheus evaluates alerting rules
 * whose values are constants, and every annotation it reports must be what expandAlertTemplate makes of the
 * same template with the alert's labels, value, external labels and URL, querying that Prometheus.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { expandAlertTemplate, type QuerySample } from '../../packages/rule/src/template/index.js';
import { startPrometheus, type PrometheusHandle } from '@strata/testing/prometheus';
import { sleep, tempDir } from '@strata/testing/process';

interface Rule {
  alert: string;
  expr: string;
  labels?: Record<string, string>;
  annotations: Record<string, string>;
}

const lr = (expr: string, name: string, value: string): string => `label_replace(${expr}, "${name}", "${value}", "", "")`;

const RULES: Rule[] = [
  { alert: 'Big', expr: 'vector(1234567.891)', annotations: { a: '{{ $value }} | {{ $value | humanize }} | {{ humanize1024 $value }} | {{ printf "%.2f" $value }} | {{ printf "%e %g %10.3f|%-16v|" $value $value $value $value }}' } },
  { alert: 'Small', expr: 'vector(0.000012345)', annotations: { a: '{{ $value }} {{ humanize $value }} {{ humanizeDuration $value }} {{ humanizePercentage $value }} {{ printf "%.3e %G" $value $value }}' } },
  {
    alert: 'Instance',
    expr: lr('vector(0.000012345)', 'instance', 'host.example.com:9100'),
    labels: { severity: 'page' },
    annotations: {
      a: '{{ $labels.instance }} {{ $labels.instance | stripPort }} {{ $labels.instance | stripDomain }} [{{ $labels.missing }}] {{ $labels.severity }}',
      b: '{{ reReplaceAll "(.*)\\\\.example\\\\.com:(\\\\d+)" "$1 port $2" $labels.instance }} {{ reReplaceAll ":.*" "" $labels.instance | toUpper }}',
    },
  },
  { alert: 'External', expr: 'vector(1)', annotations: { a: '{{ $externalLabels.cluster }} {{ $externalLabels }} {{ $externalURL }} {{ externalURL }} {{ pathPrefix }} {{ .ExternalURL }}' } },
  { alert: 'Strings', expr: 'vector(2)', annotations: { a: `{{ title "hello-world foo_bar o'neil ünïcode x.y" }} {{ toUpper "straße abc" }} {{ toLower "ÀBC" }}` } },
  {
    alert: 'RangeIf',
    expr: lr(lr('vector(42)', 'b', '2'), 'a', '1'),
    annotations: { a: '{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }} {{ if gt $value 40.0 }}high{{ else if gt $value 10.0 }}mid{{ else }}low{{ end }} {{ len $labels }} {{ $labels }}' },
  },
  {
    alert: 'Query',
    expr: 'vector(5)',
    annotations: {
      a: '{{ query "vector(3)" | first | value }} {{ with query "vector(3) > 5" }}some{{ else }}none{{ end }} {{ query "vector(3)" | first }}',
      b: `{{ range query "${lr('vector(1)', 'x', 'b').replace(/"/g, '\\"')} or ${lr('vector(2)', 'x', 'a').replace(/"/g, '\\"')}" | sortByLabel "x" }}{{ .Labels.x }}:{{ .Value }} {{ end }}`,
    },
  },
  { alert: 'Args', expr: 'vector(7)', annotations: { a: '{{ define "pair" }}{{ .arg0 }}/{{ .arg1 }}{{ end }}{{ template "pair" (args $value "x") }} {{ args 1 2.5 "s" }} {{ (args 1).arg5 }}' } },
  { alert: 'Html', expr: 'vector(8)', annotations: { a: `{{ "<b>&</b>" | safeHtml }} {{ html "<b>'" }} {{ js "a'b<" }} {{ urlquery "a b&c/é" }}` } },
  { alert: 'ParseDuration', expr: 'vector(9)', annotations: { a: '{{ parseDuration "1h30m" }} {{ parseDuration "1d2h3m4s5ms" }} {{ printf "%.3f" (parseDuration "90s") }} {{ parseDuration "1y" }}' } },
  {
    alert: 'Timestamp',
    expr: 'vector(1435065584.128)',
    annotations: { a: '{{ humanizeTimestamp 1435065584.128 }} | {{ humanizeTimestamp "1e9" }} | {{ (toTime 1435065584.128).Format "2006-01-02T15:04:05.000Z07:00 Mon Jan _2 3:04PM" }} | {{ humanizeTimestamp -1.5 }} | {{ $value | humanizeTimestamp }}' },
  },
  { alert: 'Links', expr: 'vector(10)', annotations: { a: '{{ graphLink "rate(http_requests_total{job=\\"api\\"}[5m]) > 0.5" }} {{ tableLink "up" }}' } },
  { alert: 'Durations', expr: 'vector(93784.5)', annotations: { a: '{{ humanizeDuration $value }} {{ humanizeDuration 59.99 }} {{ humanizeDuration -3.5 }} {{ humanizeDuration 0.0000015 }} {{ humanizeDuration "3600" }}' } },
  { alert: 'Percentage', expr: 'vector(0.98765)', annotations: { a: '{{ humanizePercentage $value }} {{ $value | printf "%.1f%%" }} {{ humanizePercentage "0.5" }}' } },
  { alert: 'Negative', expr: 'vector(-1234.5)', annotations: { a: '{{ $value }} {{ humanize $value }} {{ humanize1024 $value }} {{ printf "%+d|%08.2f|%x|%5.1f|% d" 12 $value 255 $value 7 }}' } },
  { alert: 'NotANumber', expr: 'vector(NaN)', annotations: { a: '{{ $value }} {{ humanize $value }} {{ printf "%f %5.1f %+v" $value $value $value }} {{ if eq $value $value }}eq{{ else }}ne{{ end }}' } },
  { alert: 'Infinite', expr: 'vector(Inf)', annotations: { a: '{{ $value }} {{ humanize $value }} {{ humanizeDuration $value }} {{ printf "%08.1f|%v" $value $value }}' } },
  { alert: 'Huge', expr: 'vector(1e21)', annotations: { a: '{{ $value }} {{ humanize $value }} {{ printf "%v %.0f" $value $value }}' } },
  { alert: 'Large', expr: 'vector(100000000000000000000)', annotations: { a: '{{ $value }} {{ humanize $value }}' } },
  { alert: 'Integral', expr: 'vector(100000)', annotations: { a: '{{ $value }} {{ printf "%d" $value }} {{ printf "%v" 100000 }}' } },
  { alert: 'Sum', expr: 'vector(0.1 + 0.2)', annotations: { a: '{{ $value }} {{ printf "%.20f" $value }}' } },
  { alert: 'Regexp', expr: 'vector(11)', annotations: { a: '{{ match "^foo" "foobar" }} {{ match "(?i)BAR" "foobar" }} {{ reReplaceAll "a*" "-" "baaac" }} {{ reReplaceAll "(?P<word>\\\\w+)" "<${word}>" "hi there" }} {{ reReplaceAll "(\\\\w)(\\\\w*)" "$2$1x" "ab cd" }}' } },
  { alert: 'Builtins', expr: 'vector(12)', annotations: { a: '{{ print 1 2 "a" 3 $value }}|{{ len "héllo" }}|{{ index $externalLabels "cluster" }}|{{ slice "abcdef" 1 4 }}|{{ printf "%q %v %T %T" "x" true $value 1 }}|{{ println "end" }}' } },
  {
    alert: 'Errors',
    expr: 'vector(13)',
    annotations: {
      a: '{{ humanize "one" }}',
      b: '{{ if gt $value 10 }}x{{ end }}',
      c: '{{ .Missing }}',
      d: '{{ query "vector(1) > 2" | first }}',
      e: '{{ printf "%d %s" }} {{ printf "%d" 1 "x" }} {{ printf "%z" 3 }}',
    },
  },
  { alert: 'Compare', expr: 'vector(14)', annotations: { a: '{{ eq $value 14.0 }} {{ eq 1 2 1 }} {{ lt 1 2 }} {{ ne "a" "b" }} {{ and 1 0 }} {{ or 0 "x" }} {{ not true }} {{ ge "b" "a" }}' } },
  { alert: 'Scoping', expr: 'vector(15)', annotations: { a: '{{- $x := 1 -}} a {{ if true }}{{ $x = 2 }}{{ $y := 3 }}{{ $y }}{{ end }} {{ $x }} {{- /* comment */ -}} b {{ with $labels.nothing }}x{{ else }}no{{ end }}' } },
  {
    alert: 'RangeElse',
    expr: lr('vector(16)', 'instance', '10.0.0.1:9100'),
    annotations: { a: '{{ stripDomain $labels.instance }} {{ range $i, $e := args 1 2 3 }}{{ $i }}={{ $e }} {{ end }}{{ range (query "vector(1) > 2") }}x{{ else }}empty{{ end }} {{ range $i, $c := query "vector(1)" }}{{ $i }}{{ end }}' },
  },
  { alert: 'Unicode', expr: 'vector(17)', annotations: { a: '{{ printf "%5s|%-5s|%.2s|%x|%X|% x" "é" "ü" "日本語" "é" "hi" "hi" }}' } },
  { alert: 'StrValue', expr: 'vector(18)', annotations: { a: `{{ with query "${lr('vector(4)', '__value__', 'sv').replace(/"/g, '\\"')}" }}{{ . | first | strvalue }} {{ . | first | label "__value__" }}{{ end }}` } },
  { alert: 'Floats', expr: 'vector(123456789.125)', annotations: { a: '{{ $value }} {{ printf "%.2f %.0f %.3g %8.2e %g" $value 2.5 $value $value 0.000001 }} {{ humanize 999999 }} {{ humanize 0.0009999 }} {{ humanize1024 1023.99 }}' } },
];

const EXTERNAL_LABELS = { cluster: 'eu-1', replica: 'a' };
const EXTERNAL_URL = 'http://strata.example.com:9093/prom';

/** A sample value as Prometheus' API writes it (+Inf, -Inf, NaN, or a Go float). */
const parseValue = (s: string): number => (s === '+Inf' ? Infinity : s === '-Inf' ? -Infinity : Number(s));

interface ApiAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: string;
  value: string;
}

describe('alert templates against Prometheus 2.42', { timeout: 120_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let prom: PrometheusHandle;

  beforeAll(async () => {
    dir = await tempDir('strata-templates-');
    const rulesFile = join(dir.path, 'rules.yml');
    await writeFile(rulesFile, stringify({ groups: [{ name: 'templates', rules: RULES.map((r) => ({ ...r, for: '0s' })) }] }));
    prom = await startPrometheus({
      dir: dir.path,
      ruleFiles: [rulesFile],
      scrapeInterval: '1s',
      externalLabels: EXTERNAL_LABELS,
      // A path in the external URL, while Prometheus keeps serving at /.
      extraArgs: [`--web.external-url=${EXTERNAL_URL}/`, '--web.route-prefix=/'],
    });
  });

  afterAll(async () => {
    await prom?.stop();
    await dir?.cleanup();
  });

  async function firingAlerts(): Promise<ApiAlert[]> {
    for (;;) {
      const { alerts } = await prom.api<{ alerts: ApiAlert[] }>('alerts');
      const firing = alerts.filter((a) => a.state === 'firing');
      if (firing.length === RULES.length) return firing;
      await sleep(250);
    }
  }

  /** The template query function as Prometheus' rule manager has it: an instant query. */
  async function query(q: string, timestampMs: number): Promise<QuerySample[]> {
    const data = await prom.api<{ resultType: string; result: unknown }>('query', { query: q, time: String(timestampMs / 1000) });
    if (data.resultType === 'scalar') return [{ labels: {}, value: parseValue((data.result as [number, string])[1]) }];
    return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((s) => ({ labels: s.metric, value: parseValue(s.value[1]) }));
  }

  it('expands every annotation as Prometheus does', async () => {
    const alerts = await firingAlerts();
    const want: Record<string, string> = {};
    const got: Record<string, string> = {};
    for (const alert of alerts) {
      const rule = RULES.find((r) => r.alert === alert.labels.alertname) as Rule;
      // $labels are the series' labels: the alert's without its name and the rule's own labels.
      const labels = Object.fromEntries(Object.entries(alert.labels).filter(([k]) => k !== 'alertname' && !(k in (rule.labels ?? {}))));
      for (const [key, text] of Object.entries(rule.annotations)) {
        want[`${rule.alert}.${key}`] = alert.annotations[key] as string;
        got[`${rule.alert}.${key}`] = await expandAlertTemplate(`__alert_${rule.alert}`, text, {
          labels,
          externalLabels: EXTERNAL_LABELS,
          externalURL: EXTERNAL_URL,
          value: parseValue(alert.value),
          timestampMs: Date.now(),
          query,
        });
      }
    }
    expect(got).toEqual(want);
  });
});
