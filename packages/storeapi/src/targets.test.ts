// The Targets API's codec against protobufjs on the shipped targets.proto (an implementation
// independent of ours), and the transport.
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { StoreClient } from './client.js';
import { PROTO_DIR } from './proto.js';
import { serveStore } from './server.js';
import { decodeTargetsRequest, decodeTargetsResponse, encodeTargetsRequest, encodeTargetsResponse, TargetHealth, targetsRequest, TargetsState, type TargetDiscovery } from './targets.js';
import { parseGoTime } from './timestamp.js';

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith('google/') || target.startsWith('/') ? target : join(PROTO_DIR, target));
await root.load(join(PROTO_DIR, 'thanos/targets.proto'), { keepCase: true });
const T = (name: string) => root.lookupType(name);
const asObject = (type: string, buf: Uint8Array) => T(type).toObject(T(type).decode(buf), { longs: Number, enums: Number, defaults: false });

const targets: TargetDiscovery = {
  activeTargets: [
    {
      discoveredLabels: [{ name: '__address__', value: '127.0.0.1:2' }, { name: 'job', value: 'down' }],
      labels: [{ name: 'instance', value: '127.0.0.1:2' }, { name: 'job', value: 'down' }],
      scrapePool: 'down',
      scrapeUrl: 'http://127.0.0.1:2/metrics',
      globalUrl: 'http://vm:2/metrics',
      lastError: 'connection refused',
      lastScrape: parseGoTime('2026-12-03T10:51:07.66411803Z'),
      lastScrapeDuration: 0.000542109,
      health: TargetHealth.DOWN,
    },
  ],
  droppedTargets: [{ discoveredLabels: [{ name: '__address__', value: '127.0.0.1:1' }] }],
};

describe('Targets API codec vs protobufjs', () => {
  it('TargetsRequest', () => {
    expect(asObject('thanos.TargetsRequest', encodeTargetsRequest(targetsRequest({ state: TargetsState.DROPPED, partialResponseStrategy: 1 })))).toEqual({ state: 2, partial_response_strategy: 1 });
    expect(decodeTargetsRequest(T('thanos.TargetsRequest').encode({ state: 1 }).finish())).toEqual(targetsRequest({ state: TargetsState.ACTIVE }));
  });

  it('TargetsResponse, both ways', () => {
    const ours = encodeTargetsResponse({ targets });
    expect(asObject('thanos.TargetsResponse', ours)).toMatchObject({
      targets: {
        activeTargets: [{ scrapePool: 'down', scrapeUrl: 'http://127.0.0.1:2/metrics', lastScrapeDuration: 0.000542109, lastScrape: { seconds: targets.activeTargets[0]?.lastScrape.seconds, nanos: 664_118_030 } }],
        droppedTargets: [{ discoveredLabels: { labels: [{ name: '__address__', value: '127.0.0.1:1' }] } }],
      },
    });
    expect(decodeTargetsResponse(T('thanos.TargetsResponse').encode(T('thanos.TargetsResponse').decode(ours)).finish())).toEqual({ targets });
    expect(decodeTargetsResponse(encodeTargetsResponse({ warning: 'w' }))).toEqual({ warning: 'w' });
  });
});

describe('thanos.Targets over gRPC', () => {
  it('serves the targets and warnings of a StoreServer with targets', async () => {
    const unused = () => Promise.reject(new Error('not called'));
    const served = await serveStore(
      { info: unused, series: () => ({ [Symbol.asyncIterator]: () => ({ next: unused }) }), labelNames: unused, labelValues: unused, targets: async () => ({ targets, warnings: ['w'] }) },
      { address: '127.0.0.1:0' },
    );
    const client = new StoreClient(served.address);
    try {
      expect(await client.targets(targetsRequest())).toEqual({ targets, warnings: ['w'] });
    } finally {
      client.close();
      await served.stop();
    }
  });
});
