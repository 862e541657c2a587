import { describe, expect, it } from 'vitest';
import { checkAlertTemplate, expandAlertTemplate, parseTemplate, prometheusFuncs, TemplateError, type QuerySample } from './index.js';

/** Prometheus' template_test.go setup: external URL http://testhost:9090/path/prefix, a fixed query result. */
function run(text: string, data: unknown = null, result: QuerySample[] = [], missingKey: 'zero' | 'invalid' | 'error' = 'zero'): Promise<string> {
  const funcs = prometheusFuncs({ query: async () => result, timestampMs: 0, externalURL: 'http://testhost:9090/path/prefix' });
  return parseTemplate('test', text).execute(data, funcs, { missingKey });
}

const metric = (labels: Record<string, string>, value: number): QuerySample => ({ labels: { __name__: 'metric', ...labels }, value });

describe('text/template', () => {
  it.each([
    ['plain text', 'plain text'],
    ['{{ 1 }}', '1'],
    ['{{- "a" -}}  x  {{- /* comment */ -}} y', 'axy'],
    ['a {{/* c */}} b', 'a  b'],
    ["{{ 'a' }} {{ 0x1F }} {{ 1e3 }} {{ 1.5 }} {{ true }} {{ `raw\\n` }} {{ \"q\\t\" }}", '97 31 1000 1.5 true raw\\n q\t'],
    ['{{ if false }}a{{ else if eq 1 2 }}b{{ else if true }}c{{ else }}d{{ end }}', 'c'],
    ['{{ if "" }}a{{ else }}b{{ end }}{{ if 0.0 }}x{{ end }}{{ if . }}y{{ end }}', 'b'],
    ['{{ with "v" }}{{ . }}{{ end }}{{ with "" }}x{{ else }}e{{ end }}', 've'],
    ['{{ range $i, $e := . }}{{ $i }}{{ $e }},{{ else }}none{{ end }}', '0a,1b,', ['a', 'b']],
    ['{{ range . }}{{ . }}{{ else }}none{{ end }}', 'none', []],
    ['{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}', 'a=1;b=2;z=x;', { z: 'x', b: 2, a: 1 }],
    ['{{ range . }}{{ if eq . 3 }}{{ break }}{{ end }}{{ if eq . 1 }}{{ continue }}{{ end }}{{ . }}{{ end }}', '02', [0, 1, 2, 3, 4].map(BigInt)],
    ['{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ $y := 3 }}{{ end }}{{ $x }}', '2'],
    ['{{ $x := "outer" }}{{ with "inner" }}{{ $x := . }}{{ $x }}{{ end }} {{ $x }}', 'inner outer'],
    ['{{ . | printf "%s-%s" "a" }}', 'a-b', 'b'],
    ['{{ eq 1 2 3 1 }} {{ ne "a" "b" }} {{ lt 1.5 2.5 }} {{ le 2 2 }} {{ gt "b" "a" }} {{ ge 1 2 }}', 'true true true true true false'],
    ['{{ and 1 0 "x" }} {{ or 0 "" "y" }} {{ not 0 }} {{ and 1 2 }}', '0 y true 2'],
    ['{{ len "héllo" }} {{ len . }} {{ index . 1 }} {{ slice "abcdef" 1 3 }} {{ index "abc" 0 }}', '6 2 y bc 97', ['x', 'y']],
    ['{{ print 1 2 "a" "b" 3 }}|{{ println 1 "a" }}|', '1 2ab3|1 a\n|'],
    ['{{ html "<a href=\'x\'>&</a>" }} {{ js "a\'b\\"<=>" }} {{ urlquery "a b&c=d/é" }}', "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt; a\\'b\\\"\\u003C\\u003D\\u003E a+b%26c%3Dd%2F%C3%A9"],
    ['{{ define "x" }}[{{ . }}]{{ end }}{{ template "x" "arg" }}{{ block "y" 2 }}<{{ . }}>{{ end }}', '[arg]<2>'],
    // missingkey=zero on a map[string]interface {}: a nil interface, which prints as no value.
    ['{{ .a.b }}|{{ .missing }}|{{ .a.missing }}', 'c|<no value>|<no value>', { a: { b: 'c' } }],
  ] as [string, string, unknown?][])('%s', async (text, want, data) => {
    expect(await run(text, data ?? null)).toBe(want);
  });

  it('keeps Go defaults for missing keys', async () => {
    expect(await run('{{ .Foo }}', null, [], 'invalid')).toBe('<no value>');
    await expect(run('{{ .Foo }}', null, [], 'error')).rejects.toThrow('template: test:1:3: executing "test" at <.Foo>: nil data; no entry for key "Foo"');
    await expect(run('{{ .x.Foo }}', { x: {} }, [], 'error')).rejects.toThrow('map has no entry for key "Foo"');
  });

  it.each([
    ['{{ lt 1 2.0 }}', 'template: test:1:3: executing "test" at <lt 1 2.0>: error calling lt: incompatible types for comparison'],
    ['{{ eq . 1 }}', 'error calling eq: incompatible types for comparison', 1.5],
    ['{{ lt true false }}', 'error calling lt: invalid type for comparison'],
    ['{{ eq . . }}', 'error calling eq: non-comparable type map[a:1]: map[string]interface {}', { a: 1 }],
    ['{{ index . 5 }}', 'error calling index: index out of range: 5', ['a']],
    ['{{ len 3 }}', 'error calling len: len of type int'],
    ['{{ nosuch }}', undefined],
    ['{{ "x" 1 }}', 'can\'t give argument to non-function "x"'],
    ['{{ range 5 }}{{ end }}', "range can't iterate over 5"],
    ['{{ template "nope" }}', 'template "nope" not defined'],
    ['{{ title 1 }}', 'template: test:1:9: executing "test" at <1>: expected string; found 1'],
    ['{{ title . }}', 'wrong type for value; expected string; got float64', 1.5],
    ['{{ humanize 1 2 }}', 'wrong number of args for humanize: want 1 got 2'],
  ] as [string, string | undefined, unknown?][])('execution error %s', async (text, want, data) => {
    if (want === undefined) {
      expect(() => parseTemplate('test', text)).toThrow(TemplateError);
      return;
    }
    await expect(run(text, data ?? null)).rejects.toThrow(want);
  });

  it.each([
    ['{{', 'template: test:1: unclosed action'],
    ['{{ x }', 'template: test:1: function "x" not defined'],
    ['{{ . } }}', 'template: test:1: unexpected "}" in operand'],
    ['{{ if true }}', 'template: test:1: unexpected EOF'],
    ['{{ end }}', 'template: test:1: unexpected {{end}}'],
    ['a\n{{ $x }}', 'template: test:2: undefined variable "$x"'],
    ['{{ break }}', 'template: test:1: {{break}} outside {{range}}'],
    ['{{ "a" | 1 }}', 'template: test:1: non executable command in pipeline stage 2'],
    ['{{ 1x }}', 'template: test:1: bad number syntax: "1x"'],
    ['{{ "abc }}', 'template: test:1: unterminated quoted string'],
    ['{{ /* x */ }}', 'template: test:1: unexpected "/" in command'],
    ['{{/* x */ 1 }}', 'template: test:1: comment ends before closing delimiter'],
    ['{{ (1 }}', 'template: test:1: unclosed left paren'],
    // Go's parser meets the ")" before the lexer's error after it.
    ['{{ 1 ) }}', 'template: test:1: unexpected ")" in command'],
    ['{{ "a".b }}', 'template: test:1: unexpected . after term "\\"a\\""'],
    ['{{ }}', 'template: test:1: missing value for command'],
    ['{{ define "a" }}x{{ end }}{{ define "a" }}y{{ end }}', 'template: test:1: template: multiple definition of template "a"'],
  ])('parse error %s', (text, want) => {
    expect(() => parseTemplate('test', text)).toThrow(want);
  });
});

describe('fmt', () => {
  it.each([
    ['{{ 1e21 }} {{ 1e20 }} {{ 100000.0 }} {{ 1e6 }} {{ 0.0001 }} {{ 0.00001 }} {{ 0.1 }}', '1e+21 1e+20 100000 1e+06 0.0001 1e-05 0.1'],
    ['{{ . }}', '0.30000000000000004', 0.1 + 0.2],
    ['{{ range . }}{{ . }} {{ end }}', 'NaN +Inf -Inf -0 1.7976931348623157e+308 5e-324 ', [NaN, Infinity, -Infinity, -0, Number.MAX_VALUE, Number.MIN_VALUE]],
    ['{{ printf "%5.1f|%-6d|%06d|%+d|% d|%x|%X|%#x|%o|%b|%c|%q|%U" 3.14159 42 -42 5 5 255 255 255 8 5 65 66 67 }}', "  3.1|42    |-00042|+5| 5|ff|FF|0xff|10|101|A|'B'|U+0043"],
    ['{{ printf "%s|%10s|%-4s|%.2s|%q|%x|%v|%t" "a" "right" "l" "trunc" "q\\"" "hi" "v" true }}', 'a|     right|l   |tr|"q\\""|6869|v|true'],
    ['{{ printf "%e|%E|%.2e|%g|%G|%.3g|%f|%.0f|%.0f|%.2f|%8.3f|%08.3f|%+.1f" 1234.5678 1234.5678 1234.5678 1234.5678 1e-7 1234.5678 1.5 0.5 1.5 0.125 3.14159 -3.14159 2.0 }}', '1.234568e+03|1.234568E+03|1.23e+03|1234.5678|1E-07|1.23e+03|1.500000|0|2|0.12|   3.142|-003.142|+2.0'],
    ['{{ printf "%d|%s|%d" "x" 1.5 }}', '%!d(string=x)|%!s(float64=1.5)|%!d(MISSING)'],
    ['{{ printf "%d" 1 "x" }}|{{ printf "%" }}|{{ printf "%%|%v" nil }}|{{ printf "%d" nil }}', '1%!(EXTRA string=x)|%!(NOVERB)|%|<nil>|%!d(<nil>)'],
    ['{{ printf "%f|%5.1f|%05.1f|%v" . . . . }}', 'NaN|  NaN|  NaN|NaN', NaN],
    ['{{ printf "%v|%+v|%T|%T|%T" . . . 1 "s" }}', 'map[a:x b:[1 2]]|map[a:x b:[1 2]]|map[string]interface {}|int|string', { b: [1n, 2n], a: 'x' }],
    ['{{ printf "%*d|%-*d|%.*f" 4 7 3 8 2 3.14159 }}', '   7|8  |3.14'],
  ] as [string, string, unknown?][])('%s', async (text, want, data) => {
    expect(await run(text, data ?? null)).toBe(want);
  });
});

// Prometheus' template_test.go, cases that apply to text templates.
describe('Prometheus template functions', () => {
  it.each([
    ['{{define "x"}}{{.arg0}} {{.arg1}}{{end}}{{template "x" (args 1 "2")}}', '1 2'],
    ['{{ query "1.5" | first | value }}', '1.5', [{ labels: {}, value: 1.5 }]],
    ['{{ query "metric{instance=\'a\'}" | first | value }}', '11', [metric({ instance: 'a' }, 11)]],
    ['{{ query "metric{instance=\'a\'}" | first | label "instance" }}', 'a', [metric({ instance: 'a' }, 11)]],
    ['{{ query "metric{__value__=\'a\'}" | first | strvalue }}', 'a', [metric({ __value__: 'a' }, 11)]],
    ['{{ query "metric{instance=\'a\'}" | first | label "foo" }}', '', [metric({ instance: 'a' }, 11)]],
    ['{{ $x := query "metric" | first }}{{ $x.Labels.foo }}', '', [metric({ instance: 'a' }, 11)]],
    ['{{ query "metric" | first }}', '{map[__name__:metric instance:a] 11}', [metric({ instance: 'a' }, 11)]],
    ['{{ range query "metric" | sortByLabel "instance" }}{{.Labels.instance}}:{{.Value}}: {{end}}', 'a:11: b:21: ', [metric({ instance: 'b' }, 21), metric({ instance: 'a' }, 11)]],
    ['{{ "foo.example.com" | stripPort }}|{{ "foo.example.com:12345" | stripPort }}|{{ "192.0.2.1:12345" | stripPort }}|{{ "2001:0DB8::1" | stripPort }}|{{ "[2001:0DB8::1]:12345" | stripPort }}|{{ "[2001:0DB8::1]::12345" | stripPort }}', 'foo.example.com|foo.example.com|192.0.2.1|2001:0DB8::1|2001:0DB8::1|[2001:0DB8::1]::12345'],
    ['{{ "foo.example.com" | stripDomain }}|{{ "foo.example.com:12345" | stripDomain }}|{{ "192.0.2.1:12345" | stripDomain }}|{{ "2001:0DB8::1" | stripDomain }}|{{ "[2001:0DB8::1]:12345" | stripDomain }}|{{ "[2001:0DB8::1]::12345" | stripDomain }}', 'foo|foo:12345|192.0.2.1:12345|2001:0DB8::1|[2001:0DB8::1]:12345|[2001:0DB8::1]::12345'],
    ['{{ reReplaceAll "(a)b" "x$1" "ab" }}|{{ reReplaceAll "a*" "-" "baaac" }}|{{ reReplaceAll "(?P<h>[^:]+):(\\\\d+)" "${h}_$2$$" "host:9100" }}|{{ reReplaceAll "x" "$1x" "axb" }}', 'xa|-b-c-|host_9100$|ab'],
    ['{{ range . }}{{ humanize . }}:{{ end }}', '0:1:1.235M:120m:', [0, 1, 1234567, 0.12]],
    ['{{ range . }}{{ humanize . }}:{{ end }}', '0:1:1.235M:120m:', ['0.0', '1.0', '1234567.0', '.12']],
    ['{{ range . }}{{ humanize . }}:{{ end }}', '0:-1:1:1.235M:9.223E:', [0n, -1n, 1n, 1234567n, 9223372036854775807n]],
    ['{{ range . }}{{ humanize1024 . }}:{{ end }}', '0:1:1Mi:0.12:', [0, 1, 1048576, 0.12]],
    ['{{ range . }}{{ humanize1024 . }}:{{ end }}', '0:-1:1:1.177Mi:8Ei:', [0n, -1n, 1n, 1234567n, 9223372036854775807n]],
    ['{{ range . }}{{ humanizeDuration . }}:{{ end }}', '0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:', [0, 1, 60, 3600, 86400, 86400 + 3600, -(86400 * 2 + 3600 * 3 + 60 * 4 + 5), 899.99]],
    ['{{ range . }}{{ humanizeDuration . }}:{{ end }}', '100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:', ['.1', '.0001', '.12345', '60.1', '60.5', '1.2345', '12.345']],
    ['{{ range . }}{{ humanizeDuration . }}:{{ end }}', '0s:-1s:1s:14d 6h 56m 7s:', [0n, -1n, 1n, 1234567n]],
    ['{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}', '+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:', [Infinity, -Infinity, NaN]],
    ['{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}', '+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:', ['+Inf', '-Inf', 'NaN']],
    ['{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:{{ 0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}', '-22.22%:0%:12.35%:123.5%'],
    ['{{ range . }}{{ humanizePercentage . }}:{{ end }}', '0%:-100%:100%:1.235e+08%:9.223e+20%:', [0n, -1n, 1n, 1234567n, 9223372036854775807n]],
    ['{{ range . }}{{ humanizeTimestamp . }}:{{ end }}', '1970-01-01 00:00:00 +0000 UTC:1969-12-31 23:59:59 +0000 UTC:1970-01-01 00:00:01 +0000 UTC:1970-01-15 06:56:07 +0000 UTC:2262-04-11 23:47:16 +0000 UTC:', [0n, -1n, 1n, 1234567n, 9223372036n]],
    ['{{ 1435065584.128 | humanizeTimestamp }}|{{ "1435065584.128" | humanizeTimestamp }}', '2015-06-23 13:19:44.128 +0000 UTC|2015-06-23 13:19:44.128 +0000 UTC'],
    ['{{ (1435065584.128 | toTime).Format "2006" }}|{{ ("1435065584.128" | toTime).Format "Mon Jan _2 15:04:05.000 MST 2006" }}|{{ (toTime 1.5e9).Unix }}', '2015|Tue Jun 23 13:19:44.128 UTC 2015|1500000000'],
    ['{{ "aa bb CC" | title }}|{{ "hello-world foo_bar o\'neil" | title }}|{{ "aa bb CC" | toUpper }}|{{ "aA bB CC" | toLower }}', "Aa Bb CC|Hello-World Foo_bar O'Neil|AA BB CC|aa bb cc"],
    ['{{ match "a+" "aa" }} {{ match "a+" "b" }}', 'true false'],
    ['{{ graphLink "up" }}|{{ tableLink "rate(x[5m]) > 1" }}', '/graph?g0.expr=up&g0.tab=0|/graph?g0.expr=rate%28x%5B5m%5D%29+%3E+1&g0.tab=1'],
    ['{{ pathPrefix }}|{{ externalURL }}', '/path/prefix|http://testhost:9090/path/prefix'],
    ['{{ printf "%0.2f" (parseDuration "1h2m10ms") }}|{{ parseDuration "1d" }}|{{ parseDuration "0" }}', '3720.01|86400|0'],
    ['{{ "<b>" | safeHtml }}', '<b>'],
  ] as [string, string, unknown?][])('%s', async (text, want, input) => {
    const isResult = Array.isArray(input) && input.every((x) => typeof x === 'object' && x !== null && 'labels' in x);
    expect(await run(text, isResult ? null : (input ?? null), isResult ? (input as QuerySample[]) : [])).toBe(want);
  });

  it.each([
    ['{{ humanize "one" }}', 'template: test:1:3: executing "test" at <humanize "one">: error calling humanize: strconv.ParseFloat: parsing "one": invalid syntax'],
    ['{{ "one" | humanizePercentage }}', 'template: test:1:11: executing "test" at <humanizePercentage>: error calling humanizePercentage: strconv.ParseFloat: parsing "one": invalid syntax'],
    ['{{ query "missing" | first }}', 'template: test:1:21: executing "test" at <first>: error calling first: first() called on vector with no elements'],
    ['{{ (query "missing").banana }}', 'template: test:1:10: executing "test" at <"missing">: can\'t evaluate field banana in type template.queryResult'],
    ['{{ humanizeTimestamp . }}', 'error calling humanizeTimestamp: -9.223372036854776e+18 cannot be represented as a nanoseconds timestamp since it overflows int64', -9223372036854775808n],
    ['{{ reReplaceAll "(" "" "x" }}', 'error calling reReplaceAll: regexp: Compile(`(`): error parsing regexp: missing closing ): `(`'],
    ['{{ match "(" "x" }}', 'error calling match: error parsing regexp: missing closing ): `(`'],
    ['{{ parseDuration "1x" }}', 'error calling parseDuration: not a valid duration string: "1x"'],
    ['{{ humanize . }}', 'error calling humanize: can\'t convert bool to float', true],
  ] as [string, string, unknown?][])('error %s', async (text, want, data) => {
    await expect(run(text, data ?? null)).rejects.toThrow(want);
  });
});

describe('alert templates', () => {
  const ctx = { labels: { instance: 'host.example.com:9100', job: 'node' }, externalLabels: { cluster: 'eu' }, externalURL: 'http://prom.example.com/prom', value: 1234567.891, timestampMs: 0, query: async () => [] };

  it.each([
    ['{{ $value }} {{ .Value }}', '1.234567891e+06 1.234567891e+06'],
    ['{{ $labels.instance | stripPort }} {{ $labels.missing }}| {{ $externalLabels.cluster }} {{ $externalURL }}', 'host.example.com | eu http://prom.example.com/prom'],
    ['{{ if gt $value 1000.0 }}big{{ end }}', 'big'],
    ['{{ if gt $value 1000 }}big{{ end }}', '<error expanding template: error executing template __alert_A: template: __alert_A:1:118: executing "__alert_A" at <gt $value 1000>: error calling gt: incompatible types for comparison>'],
    ['{{ .Foo }}', '<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing "__alert_A" at <.Foo>: can\'t evaluate field Foo in type struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }>'],
    ['{{ nope }}', '<error expanding template: error parsing template __alert_A: template: __alert_A:1: function "nope" not defined>'],
  ])('%s', async (text, want) => {
    expect(await expandAlertTemplate('__alert_A', text, ctx)).toBe(want);
  });

  it('checks templates as rule loading does', () => {
    expect(checkAlertTemplate('__alert_A', '{{ $labels.instance }}')).toBeUndefined();
    expect(checkAlertTemplate('__alert_A', '{{ $labels.instance }')).toBe('template: __alert_A:1: unexpected "}" in operand');
  });
});
