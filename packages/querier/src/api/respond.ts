import { formatFloatPlain, formatTimestamp, formatValue, formatValues, PackedSeriesPoints, type QueryValue, type SeriesPoints } from '@strata/promql';
import { forEachBucket, type FloatHistogram, type Labels } from '@strata/tsdb';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { compressPieces, goJson, responseEncoding, sendJson } from '@strata/runtime';
import { ApiError, STATUS_OF } from './errors.js';

/**
 * Prometheus' JSON, written by hand: values as strings in Go's float format, timestamps as seconds with
 * millisecond decimals, labels in their sorted order. Large matrices are written in pieces of about
 * PIECE_CHARS characters, a run of values formatted at a time (formatValues), rather than through
 * JSON.stringify of nested arrays, which would write values as numbers, not as Go's strings; a
 * compressed answer compresses each piece while the next is written.
 * Go's escapes (goJson) are applied where data enters the text (label names and values, strings,
 * extra fields) rather than by scanning every piece: numbers and the JSON around them never need them.
 */

/** About how many characters of JSON a piece holds: a fraction of a millisecond to write or to compress. */
const PIECE_CHARS = 32 * 1024;

/** Points of a matrix series written at a time: about PIECE_CHARS of text. */
const POINTS_PER_RUN = 1024;

/** A label set as a JSON object (not Go-escaped: sendSuccess escapes the whole answer). */
export function labelsJson(l: Labels): string {
  let out = '{';
  let first = true;
  for (const { name, value } of l) {
    out += `${first ? '' : ','}${JSON.stringify(name)}:${JSON.stringify(value)}`;
    first = false;
  }
  return `${out}}`;
}

/** A query answer's label set: Go-escaped where it is written, as its pieces are not scanned whole. */
function metricJson(l: Labels): string {
  return goJson(labelsJson(l));
}

function point(t: number, v: string): string {
  return `[${formatTimestamp(t)},"${v}"]`;
}

/**
 * A native histogram as Prometheus writes it: `{"count":"…","sum":"…","buckets":[[b,"lo","hi","n"],…]}`,
 * the populated buckets in ascending order, b saying which bounds are inclusive (0 `(lo,hi]`, 1
 * `[lo,hi)`, 2 `(lo,hi)`, 3 `[lo,hi]`); no `buckets` when none is populated.
 */
export function histogramJson(h: FloatHistogram): string {
  const buckets: string[] = [];
  forEachBucket(h, (b) => {
    if (b.count === 0) return;
    const bounds = b.lowerInclusive ? (b.upperInclusive ? 3 : 1) : b.upperInclusive ? 0 : 2;
    buckets.push(`[${bounds},"${formatValue(b.lower)}","${formatValue(b.upper)}","${formatValue(b.count)}"]`);
  });
  const fields = `"count":"${formatValue(h.count)}","sum":"${formatValue(h.sum)}"`;
  return buckets.length === 0 ? `{${fields}}` : `{${fields},"buckets":[${buckets.join(',')}]}`;
}

function histogramPoint(t: number, h: FloatHistogram): string {
  return `[${formatTimestamp(t)},${histogramJson(h)}]`;
}

/**
 * `{"resultType":…,"result":…}` for a query result, in Go-escaped pieces; `extraFields` (`,"name":value…`)
 * are added to the object after the result.
 */
export function* queryDataPieces(v: QueryValue, extraFields = ''): Generator<string> {
  const fields = goJson(extraFields);
  switch (v.type) {
    case 'scalar':
      yield `{"resultType":"scalar","result":${point(v.t, formatFloatPlain(v.v))}${fields}}`;
      return;
    case 'string':
      yield `{"resultType":"string","result":[${formatTimestamp(v.t)},${goJson(JSON.stringify(v.v))}]${fields}}`;
      return;
    case 'vector': {
      const values = formatValues(v.samples.map((s) => s.f), 0, v.samples.length);
      const parts = v.samples.map((s, i) =>
        s.h === undefined
          ? `{"metric":${metricJson(s.labels)},"value":${point(s.t, values[i] as string)}}`
          : `{"metric":${metricJson(s.labels)},"histogram":${histogramPoint(s.t, s.h)}}`
      );
      yield `{"resultType":"vector","result":[${parts.join(',')}]${fields}}`;
      return;
    }
    case 'matrix': {
      // The series of a range query share their steps: each step's `[<time>,"` is written once.
      const steps = new Map<number, string>();
      let out = '{"resultType":"matrix","result":[';
      for (const [i, s] of v.series.entries()) {
        out += `${i === 0 ? '' : ','}{"metric":${metricJson(s.labels)}`;
        const { ts, fs, hs } = s instanceof PackedSeriesPoints ? s : packed(s);
        // Prometheus writes `values` only for a series with floats, and `histograms` after it.
        if (hs !== null) {
          const floats = s.floats;
          if (floats.length > 0) out += `,"values":[${floats.map((p) => point(p.t, formatValue(p.f))).join(',')}]`;
          out += `,"histograms":[${s.histograms.map((p) => histogramPoint(p.t, p.h)).join(',')}]}`;
          continue;
        }
        out += ',"values":[';
        // A run of points at a time: its values formatted at once, its points joined into one flat string.
        for (let from = 0; from < ts.length; from += POINTS_PER_RUN) {
          const to = Math.min(ts.length, from + POINTS_PER_RUN);
          const points = formatValues(fs, from, to);
          for (let j = from; j < to; j++) {
            const t = ts[j] as number;
            let step = steps.get(t);
            if (step === undefined) steps.set(t, (step = `[${formatTimestamp(t)},"`));
            points[j - from] = `${step}${points[j - from] as string}"]`;
          }
          out += `${from === 0 ? '' : ','}${points.join(',')}`;
          if (out.length >= PIECE_CHARS) {
            yield out;
            out = '';
          }
        }
        out += ']}';
      }
      yield `${out}]${fields}}`;
      return;
    }
  }
}

/** The points of a series that keeps them as objects, as arrays (its histograms, if any, are read from the series). */
function packed(s: SeriesPoints): { ts: Float64Array; fs: Float64Array; hs: readonly unknown[] | null } {
  const points = s.floats;
  return { ts: Float64Array.from(points, (p) => p.t), fs: Float64Array.from(points, (p) => p.f), hs: s.histograms.length > 0 ? s.histograms : null };
}

/** A query's annotations as Prometheus' API sends them beside its data. */
export interface QueryNotes {
  readonly warnings: readonly string[];
  readonly infos: readonly string[];
}

/** At most this many warnings, and as many infos, go out with an answer (Prometheus' API: AsStrings(query, 10, 10)). */
const MAX_NOTES = 10;

/** How an info annotation's text begins (Prometheus' annotations.PromQLInfo). */
const PROMQL_INFO = 'PromQL info';

/**
 * The engine's annotations (and the stores' warnings among them) split as Prometheus' API splits them:
 * `PromQL info: …` under `infos`, everything else under `warnings`, ten of each at the most and a count
 * of the rest. Grafana shows the two apart, and a results cache need not pass over an answer for an
 * info (that `rate` was taken of a metric not named like a counter) as it must for a warning.
 */
export function queryNotes(annotations: readonly string[]): QueryNotes {
  const warnings: string[] = [];
  const infos: string[] = [];
  let warningsOmitted = 0;
  let infosOmitted = 0;
  for (const a of annotations) {
    if (a.startsWith(PROMQL_INFO)) {
      if (infos.length < MAX_NOTES) infos.push(a);
      else infosOmitted++;
    } else if (warnings.length < MAX_NOTES) warnings.push(a);
    else warningsOmitted++;
  }
  if (warningsOmitted > 0) warnings.push(`${warningsOmitted} more warning annotations omitted`);
  if (infosOmitted > 0) infos.push(`${infosOmitted} more info annotations omitted`);
  return { warnings, infos };
}

/** The pieces of `{"status":"success","data":…}` around `data`'s, which are Go-escaped already; `warnings` and `infos` only where there are some. */
function* successPieces(data: Iterable<string>, warnings: readonly string[], infos: readonly string[] = []): Generator<string> {
  yield '{"status":"success","data":';
  yield* data;
  if (warnings.length > 0) yield `,"warnings":${goJson(JSON.stringify(warnings))}`;
  if (infos.length > 0) yield `,"infos":${goJson(JSON.stringify(infos))}`;
  yield '}';
}

/** Sends `{"status":"success","data":…}` with `dataJson` already serialized (Go's escapes are applied here). */
export function sendSuccess(reply: FastifyReply, dataJson: string, warnings: readonly string[] = []): FastifyReply {
  return sendJson(reply, [...successPieces([goJson(dataJson)], warnings)].join(''));
}

/**
 * Sends `{"status":"success","data":…}` with the data written piece by piece (Go-escaped, as
 * queryDataPieces writes them): compressed as the client asks (compression.ts; a large answer each
 * piece in zlib's thread pool while the next one is written).
 */
export async function sendSuccessPieces(req: FastifyRequest, reply: FastifyReply, data: Iterable<string>, notes: QueryNotes): Promise<FastifyReply> {
  const pieces = successPieces(data, notes.warnings, notes.infos);
  const encoding = responseEncoding(req.headers['accept-encoding']);
  if (encoding === undefined) return sendJson(reply, [...pieces].join(''));
  const body = await compressPieces(pieces, encoding);
  return reply.header('content-type', 'application/json').header('content-encoding', encoding).send(body);
}

export function sendData(reply: FastifyReply, data: unknown, warnings: readonly string[] = []): FastifyReply {
  return sendSuccess(reply, JSON.stringify(data), warnings);
}

export function sendError(reply: FastifyReply, err: ApiError): FastifyReply {
  return sendJson(reply.code(STATUS_OF[err.type]), goJson(JSON.stringify({ status: 'error', errorType: err.type, error: err.message })));
}

/** A failure as Go's http.Error writes it (Prometheus' remote read and federation): the message as text, with a newline. */
export function sendTextError(reply: FastifyReply, message: string, status: number): FastifyReply {
  return reply.code(status).header('x-content-type-options', 'nosniff').type('text/plain; charset=utf-8').send(`${message}\n`);
}
