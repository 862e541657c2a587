/** Reading a remote-read server (the querier, Prometheus) as a test compares them. */
import { readFrames } from '@strata/sidecar';
import { decodeChunkedReadResponse, decodeReadResponse, encodeReadRequest, ResponseType, type ReadQuery } from '@strata/storeapi';
import { decodedSamples } from '@strata/testing/samples';
import { ArraySampleIterator, chunkFromBytes, Labels } from '@strata/tsdb';
import { expect } from 'vitest';

/** Each series' samples by its labels, from a remote-read answer of either kind. */
export type SamplesBySeries = Record<string, number[][]>;

export async function remoteRead(base: string, q: ReadQuery, type: ResponseType): Promise<{ contentType: string; series: SamplesBySeries }> {
  const res = await fetch(`${base}/api/v1/read`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' }, body: encodeReadRequest(q, [type]) });
  expect(res.status, await (res.status === 200 ? '' : res.clone().text())).toBe(200);
  const series: SamplesBySeries = {};
  const add = (labels: Labels, samples: number[][]) => {
    const key = labels.toString();
    series[key] = [...(series[key] ?? []), ...samples];
  };
  if (type === ResponseType.SAMPLES) {
    for (const s of decodeReadResponse(new Uint8Array(await res.arrayBuffer()))) add(Labels.from(s.labels), decodedSamples(new ArraySampleIterator(s.timestamps, s.values)));
  } else {
    for await (const frame of readFrames(res.body as AsyncIterable<Uint8Array>)) {
      for (const s of decodeChunkedReadResponse(frame)) {
        for (const c of s.chunks) add(Labels.from(s.labels), decodedSamples(chunkFromBytes(c.type, c.data).iterator()).filter(([t]) => (t as number) >= q.startMs && (t as number) <= q.endMs));
      }
    }
  }
  return { contentType: res.headers.get('content-type') ?? '', series };
}
