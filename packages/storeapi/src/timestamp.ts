/** google.protobuf.Timestamp, as Thanos' gogoproto stdtime fields carry Go's time.Time, and as JSON. */
import type { ProtoReader } from './wire/reader.js';
import type { ProtoWriter } from './wire/writer.js';

/** google.protobuf.Timestamp: Go's time.Time to the nanosecond (the zero time is year 1). */
export interface Timestamp {
  seconds: number;
  nanos: number;
}

/** A google.protobuf.Timestamp field (none when undefined). */
export function writeTimestamp(w: ProtoWriter, field: number, ts: Timestamp | undefined): void {
  if (ts !== undefined) w.fork(field).int64(1, ts.seconds).int64(2, ts.nanos).ldelim();
}

/** Go's zero time.Time, as gogoproto's stdtime writes it. */
export const ZERO_TIME: Timestamp = { seconds: -62_135_596_800, nanos: 0 };

export function readTimestamp(r: ProtoReader): Timestamp {
  // An absent field is the epoch (proto3 zero values); Go's zero time comes as its own seconds.
  const ts: Timestamp = { seconds: 0, nanos: 0 };
  while (!r.done) {
    const t = r.tag();
    if (t === 8) ts.seconds = r.int64();
    else if (t === 16) ts.nanos = r.int64();
    else r.skip(t & 7);
  }
  return ts;
}

/**
 * A time as Go's time.Time marshals to JSON (RFC 3339 with nanoseconds, trailing zeros dropped), in
 * UTC; "0001-01-01T00:00:00Z" for the zero time.
 */
export function formatGoTime(ts: Timestamp): string {
  const d = new Date(ts.seconds * 1000);
  const year = d.getUTCFullYear();
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const frac = ts.nanos > 0 ? `.${pad(ts.nanos, 9).replace(/0+$/, '')}` : '';
  return `${pad(year, 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${frac}Z`;
}

const GO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):(\d{2}))$/;

/** Parses Go's JSON time (RFC 3339, any offset, up to nanoseconds). */
export function parseGoTime(text: string): Timestamp {
  const m = GO_TIME.exec(text);
  if (m === null) throw new Error(`not an RFC 3339 time: ${JSON.stringify(text)}`);
  const [, y, mo, d, h, mi, s, frac, zone, sign, oh, om] = m as unknown as string[];
  const date = new Date(0);
  // setUTCFullYear: Date.UTC would read years 0-99 as 1900-1999 (Go's zero time is year 1).
  date.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  date.setUTCHours(Number(h), Number(mi), Number(s), 0);
  const offset = zone === 'Z' ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om) * 60);
  return { seconds: date.getTime() / 1000 - offset, nanos: frac === undefined ? 0 : Number(frac.padEnd(9, '0')) };
}
