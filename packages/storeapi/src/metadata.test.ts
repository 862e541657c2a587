// The Metadata API's codec against protobufjs on the shipped metadata.proto (an implementation
// independent of ours), and the querier's merge of several endpoints' answers as Thanos merges them.
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import {
  decodeMetricMetadataRequest, decodeMetricMetadataResponse, encodeMetricMetadataRequest, encodeMetricMetadataResponse, mergeMetricMetadata, metricMetadataRequest, type Meta,
} from './metadata.js';
import { StoreClient } from './client.js';
import { PROTO_DIR } from './proto.js';
import { serveStore } from './server.js';

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(PROTO_DIR, target));
await root.load(join(PROTO_DIR, 'thanos/metadata.proto'), { keepCase: true });
const T = (name: string) => root.lookupType(name);
const asObject = (type: string, buf: Uint8Array) => T(type).toObject(T(type).decode(buf), { longs: Number, enums: Number, defaults: false });

const counter: Meta = { type: 'counter', help: 'Requests served.', unit: '' };
const gauge: Meta = { type: 'gauge', help: 'Bytes in use.', unit: 'bytes' };

describe('Metadata API codec vs protobufjs', () => {
  it('MetricMetadataRequest, a negative (no) limit included', () => {
    const req = metricMetadataRequest({ metric: 'http_requests_total', limit: -1, partialResponseStrategy: 1 });
    expect(asObject('thanos.MetricMetadataRequest', encodeMetricMetadataRequest(req))).toEqual({ metric: 'http_requests_total', limit: -1, partial_response_strategy: 1 });
    const theirs = T('thanos.MetricMetadataRequest').encode({ metric: 'up', limit: 7, partial_response_strategy: 0 }).finish();
    expect(decodeMetricMetadataRequest(theirs)).toEqual({ metric: 'up', limit: 7, partialResponseStrategy: 0 });
    // Absent fields are proto3's zero values: limit 0 (none), not the "no limit" a request builder defaults to.
    expect(decodeMetricMetadataRequest(new Uint8Array())).toEqual({ metric: '', limit: 0, partialResponseStrategy: 0 });
  });

  it('MetricMetadataResponse: metadata per metric, and warnings', () => {
    const metadata = new Map([
      ['http_requests_total', [counter]],
      ['mem', [gauge, { type: 'gauge', help: 'Memory.', unit: '' }]],
    ]);
    expect(asObject('thanos.MetricMetadataResponse', encodeMetricMetadataResponse({ metadata }))).toEqual({
      metadata: {
        metadata: {
          http_requests_total: { metas: [{ type: 'counter', help: 'Requests served.' }] },
          mem: { metas: [{ type: 'gauge', help: 'Bytes in use.', unit: 'bytes' }, { type: 'gauge', help: 'Memory.' }] },
        },
      },
    });
    const theirs = T('thanos.MetricMetadataResponse').encode({ metadata: { metadata: { up: { metas: [{ type: 'gauge', help: 'Up.', unit: '' }] }, none: { metas: [] } } } }).finish();
    expect(decodeMetricMetadataResponse(theirs)).toEqual({ metadata: new Map([['up', [{ type: 'gauge', help: 'Up.', unit: '' }]], ['none', []]]) });
    expect(asObject('thanos.MetricMetadataResponse', encodeMetricMetadataResponse({ warning: 'partial' }))).toEqual({ warning: 'partial' });
    expect(decodeMetricMetadataResponse(T('thanos.MetricMetadataResponse').encode({ warning: 'w' }).finish())).toEqual({ warning: 'w' });
  });
});

describe('mergeMetricMetadata', () => {
  it('adds distinct entries of known metrics, and new metrics up to the limit', () => {
    const into = new Map([['a', [counter]]]);
    mergeMetricMetadata(into, new Map([['a', [counter, gauge]], ['b', [gauge]], ['c', [gauge]]]), 2);
    expect(into).toEqual(new Map([['a', [counter, gauge]], ['b', [gauge]]]));
    const all = new Map<string, Meta[]>();
    mergeMetricMetadata(all, new Map([['x', [gauge]], ['y', [counter]]]), -1);
    expect([...all.keys()]).toEqual(['x', 'y']);
    const none = new Map<string, Meta[]>();
    mergeMetricMetadata(none, new Map([['x', [gauge]]]), 0);
    expect(none.size).toBe(0);
  });
});

describe('thanos.Metadata over gRPC', () => {
  it('serves a StoreServer with metadata, and the client merges its frames', async () => {
    const unused = () => Promise.reject(new Error('not called'));
    const served = await serveStore(
      {
        info: unused,
        series: () => ({ [Symbol.asyncIterator]: () => ({ next: unused }) }),
        labelNames: unused,
        labelValues: unused,
        metricMetadata: async (req) => ({
          metadata: new Map([['a', [counter]], ['b', [gauge]]].filter(([name]) => req.metric === '' || name === req.metric) as [string, Meta[]][]),
          warnings: req.limit === 1 ? ['only one'] : [],
        }),
      },
      { address: '127.0.0.1:0' },
    );
    const client = new StoreClient(served.address);
    try {
      expect(await client.metricMetadata(metricMetadataRequest())).toEqual({ metadata: new Map([['a', [counter]], ['b', [gauge]]]), warnings: [] });
      expect(await client.metricMetadata(metricMetadataRequest({ metric: 'b' }))).toEqual({ metadata: new Map([['b', [gauge]]]), warnings: [] });
      expect(await client.metricMetadata(metricMetadataRequest({ limit: 1 }))).toEqual({ metadata: new Map([['a', [counter]]]), warnings: ['only one'] });
    } finally {
      client.close();
      await served.stop();
    }
  });

  it('a server without metadata answers Unimplemented', async () => {
    const unused = () => Promise.reject(new Error('not called'));
    const served = await serveStore({ info: unused, series: () => ({ [Symbol.asyncIterator]: () => ({ next: unused }) }), labelNames: unused, labelValues: unused }, { address: '127.0.0.1:0' });
    const client = new StoreClient(served.address);
    try {
      await expect(client.metricMetadata(metricMetadataRequest())).rejects.toMatchObject({ code: 12 });
    } finally {
      client.close();
      await served.stop();
    }
  });
});
