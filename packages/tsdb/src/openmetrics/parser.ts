import { floatFromBits } from '../chunkenc/floatbits.js';
import { Labels, METRIC_NAME, type Label } from '../labels/labels.js';

/** Go's math.NaN(), which strconv.ParseFloat returns: bits 0x7ff8000000000001 (JavaScript's NaN ends in 0). */
const GO_NAN = floatFromBits(0x7ff80000, 0x00000001);

/**
 * A streaming parser for the OpenMetrics text format, as far as `promtool tsdb create-blocks-from
 * openmetrics` reads it (Prometheus' textparse.OpenMetricsParser):
 *
 *   # TYPE name type | # HELP name text | # UNIT name unit      metadata, skipped
 *   name[{l="v",…}] value [timestamp] [# {exemplar labels} value [timestamp]]
 *   # EOF                                                        required, and nothing may follow it
 *
 * Values are Go floats (decimal, Inf/NaN spellings, no hex or underscores); timestamps are seconds,
 * possibly fractional, converted to ms as Go's int64(ts*1000) does (truncation). In label values only
 * \\, \" and \n are escapes; any other backslash sequence is kept as written. Errors name the input
 * and the line.
 */
export class OpenMetricsParser {
  readonly #buf: Buffer;
  readonly #what: string;
  #pos = 0;
  #line = 0;
  #eof = false;

  /** The current sample's series text (name and label block) — a cheap cache key for its labels. */
  seriesText = '';
  value = 0;
  /** Milliseconds, or undefined if the sample has none. */
  timestamp: number | undefined;

  constructor(input: Uint8Array, what: string) {
    this.#buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    this.#what = what;
  }

  get lineNumber(): number {
    return this.#line;
  }

  /** Moves to the next sample; false after `# EOF`. */
  next(): boolean {
    const buf = this.#buf;
    while (!this.#eof) {
      if (this.#pos >= buf.length) this.#fail('data does not end with # EOF');
      let end = buf.indexOf(10, this.#pos);
      const lineEnd = end < 0 ? buf.length : end;
      if (end < 0) end = buf.length;
      const line = buf.toString('utf8', this.#pos, lineEnd);
      this.#pos = end + 1;
      this.#line++;
      if (line.startsWith('#')) {
        if (line === '# EOF') {
          this.#eof = true;
          if (this.#pos < buf.length) this.#fail('unexpected data after # EOF');
          return false;
        }
        if (!/^# (HELP|TYPE|UNIT) /.test(line)) this.#fail(`invalid metadata line ${JSON.stringify(line)}`);
        continue;
      }
      this.#parseSample(line);
      return true;
    }
    return false;
  }

  #parseSample(line: string): void {
    // The series text ends at the first space outside a quoted label value.
    let i = 0;
    while (i < line.length && line[i] !== ' ' && line[i] !== '{') i++;
    if (i === 0) this.#fail(`expected a metric name in ${JSON.stringify(line)}`);
    if (line[i] === '{') {
      let quoted = false;
      for (i++; i < line.length; i++) {
        const c = line[i];
        if (quoted) {
          if (c === '\\') i++;
          else if (c === '"') quoted = false;
        } else if (c === '"') quoted = true;
        else if (c === '}') break;
      }
      if (i >= line.length) this.#fail('unterminated label set');
      i++;
    }
    if (line[i] !== ' ') this.#fail(`expected a space before the value, got ${JSON.stringify(line.slice(i, i + 10))}`);
    this.seriesText = line.slice(0, i);
    const rest = line.slice(i + 1);
    const hash = rest.indexOf(' # ');
    const fields = (hash >= 0 ? rest.slice(0, hash) : rest).split(' ');
    if (fields.length > 2 || fields[0] === '') this.#fail(`expected "value [timestamp]", got ${JSON.stringify(rest)}`);
    this.value = this.#float(fields[0] as string, 'value');
    if (fields.length === 2) {
      const ts = this.#float(fields[1] as string, 'timestamp');
      if (!Number.isFinite(ts)) this.#fail(`invalid timestamp ${fields[1]}`);
      this.timestamp = Math.trunc(ts * 1000);
    } else this.timestamp = undefined;
  }

  /** Parses the current (or a given) series text into labels including __name__. */
  labels(seriesText = this.seriesText): Labels {
    const brace = seriesText.indexOf('{');
    const name = brace < 0 ? seriesText : seriesText.slice(0, brace);
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) this.#fail(`invalid metric name ${JSON.stringify(name)}`);
    const out: Label[] = [{ name: METRIC_NAME, value: name }];
    if (brace >= 0) {
      const s = seriesText;
      let i = brace + 1;
      while (s[i] !== '}') {
        const eq = s.indexOf('=', i);
        if (eq < 0) this.#fail(`expected label=value in ${JSON.stringify(s)}`);
        const lname = s.slice(i, eq);
        if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(lname)) this.#fail(`invalid label name ${JSON.stringify(lname)}`);
        if (s[eq + 1] !== '"') this.#fail(`expected a quoted value for label ${lname}`);
        let v = '';
        let j = eq + 2;
        for (; j < s.length && s[j] !== '"'; j++) {
          const c = s[j] as string;
          if (c === '\\') {
            const e = s[j + 1];
            if (e === '\\' || e === '"') {
              v += e;
              j++;
              continue;
            }
            if (e === 'n') {
              v += '\n';
              j++;
              continue;
            }
          }
          v += c;
        }
        if (j >= s.length) this.#fail(`unterminated value of label ${lname}`);
        out.push({ name: lname, value: v });
        i = j + 1;
        if (s[i] === ',') i++;
        else if (s[i] !== '}') this.#fail(`expected , or } after label ${lname}`);
      }
    }
    return Labels.from(out);
  }

  /** Go's strconv.ParseFloat, minus the hex and underscore forms Prometheus rejects. */
  #float(s: string, field: string): number {
    if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return Number(s);
    const l = s.toLowerCase();
    if (l === 'nan') return GO_NAN;
    if (/^[+]?inf(inity)?$/.test(l)) return Infinity;
    if (/^-inf(inity)?$/.test(l)) return -Infinity;
    return this.#fail(`invalid ${field} ${JSON.stringify(s)}`);
  }

  #fail(reason: string): never {
    throw new Error(`${this.#what}: line ${this.#line}: ${reason}`);
  }
}
