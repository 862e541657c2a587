import { formatFloatPlain, formatTimestamp, formatValue, PackedSeriesPoints, type QueryValue } from '@strata/promql';
import type { Labels } from '@strata/tsdb';
import type { FastifyReply } from 'fastify';
import { ApiError, STATUS_OF } from './errors.js';

/**
 * Prometheus' JSON, written by hand: values as strings in Go's float format, timestamps as seconds with
 * millisecond decimals, labels in their sorted order. Large matrices are built as one string rather
 * than through JSON.stringify of nested arrays, which is both faster and exact about number format.
 */

export function labelsJson(l: Labels): string {
  let out = '{';
  let first = true;
  for (const { name, value } of l) {
    out += `${first ? '' : ','}${JSON.stringify(name)}:${JSON.stringify(value)}`;
    first = false;
  }
  return `${out}}`;
}

function point(t: number, v: string): string {
  return `[${formatTimestamp(t)},"${v}"]`;
}

/** `{"resultType":…,"result":…}` for a query result. */
export function queryDataJson(v: QueryValue): string {
  switch (v.type) {
    case 'scalar':
      return `{"resultType":"scalar","result":${point(v.t, formatFloatPlain(v.v))}}`;
    case 'string':
      return `{"resultType":"string","result":[${formatTimestamp(v.t)},${JSON.stringify(v.v)}]}`;
    case 'vector': {
      const parts = v.samples.map((s) => `{"metric":${labelsJson(s.labels)},"value":${point(s.t, formatValue(s.f))}}`);
      return `{"resultType":"vector","result":[${parts.join(',')}]}`;
    }
    case 'matrix': {
      const parts: string[] = [];
      for (const s of v.series) {
        let pts: string[];
        if (s instanceof PackedSeriesPoints) {
          // Read the packed arrays directly: `floats` would build an object per point first.
          pts = new Array<string>(s.length);
          for (let i = 0; i < s.length; i++) pts[i] = point(s.ts[i] as number, formatValue(s.fs[i] as number));
        } else pts = s.floats.map((p) => point(p.t, formatValue(p.f)));
        parts.push(`{"metric":${labelsJson(s.labels)},"values":[${pts.join(',')}]}`);
      }
      return `{"resultType":"matrix","result":[${parts.join(',')}]}`;
    }
  }
}

/** Sends `{"status":"success","data":…}` with `dataJson` already serialized. */
export function sendSuccess(reply: FastifyReply, dataJson: string, warnings: readonly string[] = [], extra = ''): FastifyReply {
  const w = warnings.length > 0 ? `,"warnings":${JSON.stringify(warnings)}` : '';
  return reply.type('application/json').send(`{"status":"success","data":${dataJson}${w}${extra}}`);
}

export function sendData(reply: FastifyReply, data: unknown, warnings: readonly string[] = []): FastifyReply {
  return sendSuccess(reply, JSON.stringify(data), warnings);
}

export function sendError(reply: FastifyReply, err: ApiError): FastifyReply {
  return reply
    .code(STATUS_OF[err.type])
    .type('application/json')
    .send(JSON.stringify({ status: 'error', errorType: err.type, error: err.message }));
}
