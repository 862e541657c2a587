/**
 * OpenMetrics input for the end-to-end block tests: awkward values (NaN, ±Inf, −0, extremes, subnormals,
 * fractional-second timestamps), counters with resets, one-sample series, series with gaps, label values
 * with unicode, quotes, backslashes and newlines, an out-of-order sample and an exact duplicate (which
 * promtool drops silently within one commit batch), spread over several 2h block windows.
 */
export const START_S = 1_700_000_000;
const STEP_S = 15;
const HOURS = 7;

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function generateOpenMetrics(): string {
  const out: string[] = [];
  const n = (HOURS * 3600) / STEP_S;

  // First in the file, so its out-of-order and duplicate samples fall into the first commit batch of the window.
  out.push('# TYPE odd gauge');
  for (const [t, v] of [
    [START_S, '1'],
    [START_S + 30, '2'],
    [START_S + 15, '3'],
    [START_S + 30, '2'],
    [START_S + 45, '4'],
  ] as const) out.push(`odd{case="ooo"} ${v} ${t}`);

  out.push('# TYPE special gauge', '# HELP special Values promtool must keep bit for bit.');
  const specials = ['NaN', '+Inf', '-Inf', '-0', '0', '1e+300', '-1.7976931348623157e+308', '5e-324', '1e-300', '123456789012345680000', '0.1', '1e-05', '0.0001', '999999', '1e+06', '-3.14159', '2.5e-7'];
  for (let i = 0; i < n; i++) out.push(`special{kind="mixed"} ${specials[i % specials.length]} ${START_S + i * STEP_S}`);

  const labelValues = ['ünïcödé €𝄞 日本', 'say "hi"', 'back\\slash', 'line1\nline2', 'a\\tb'];
  out.push('# TYPE weird gauge');
  labelValues.forEach((lv, k) => {
    for (let i = 0; i < 40; i++) out.push(`weird{v="${esc(lv)}",k="${k}"} ${i * 0.5} ${START_S + 600 + i * 60}`);
  });
  // The OpenMetrics escape \t is not one: it stays a backslash and a t.
  out.push(`weird{v="tab\\there",k="raw"} 1 ${START_S + 100}`);

  out.push('# TYPE requests counter');
  for (let s = 0; s < 6; s++) {
    let v = 0;
    for (let i = 0; i < n; i++) {
      v = i % (200 + s * 37) === 0 && i > 0 ? 0 : v + ((i * 7 + s) % 13);
      out.push(`requests_total{job="job${s % 3}",instance="host-${s}:9100",cluster="gen"} ${v} ${START_S + i * STEP_S}`);
    }
  }

  out.push('# TYPE temperature gauge');
  for (let s = 0; s < 4; s++) {
    for (let i = 0; i < n; i++) {
      // Gaps: an hour missing in the middle for some series, and jittered fractional timestamps.
      if (s % 2 === 1 && i > n / 3 && i < n / 3 + 240) continue;
      const t = START_S + i * STEP_S + ((i * 37 + s) % 1000) / 1000;
      out.push(`temperature{sensor="s${s}"} ${(Math.sin((i + s) / 20) * 1000).toFixed(3)} ${t}`);
    }
  }

  out.push('# TYPE once gauge');
  for (let s = 0; s < 3; s++) out.push(`once{n="${s}"} ${s * 1.5 - 1} ${START_S + 3600 * (s * 2 + 1) + s}`);

  out.push('# TYPE tiny gauge');
  for (let i = 0; i < 300; i++) out.push(`tiny ${(i * 1e-9).toPrecision(3)} ${START_S + 7000 + i * 10}`);
  out.push('# EOF', '');
  return out.join('\n');
}
