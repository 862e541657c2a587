// serveStore/StoreClient with an in-memory reference store: the acceptance suite, transport rules
// (batches, limit, ABORT, status codes, cancellation, compression, TLS), and wire compatibility with
// clients built independently of our codec (a hand-written decoder, and protobufjs on the .proto files).
import { execFileSync } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { type ChunkSeries, Labels, Matcher, matchLabels, type MatchType, XORChunk } from '@strata/tsdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptanceFixture, type AcceptanceFixture, storeAcceptanceCases } from './acceptance.js';
import { StoreClient } from './client.js';
import { toStoreSeries } from './convert.js';
import { GrpcStatus, Method, StoreError } from './grpc.js';
import { chunkHash } from './hash.js';
import { decodeSeriesResponse, encodeSeriesRequest } from './codec.js';
import { type InfoResponse, labelNamesRequest, type LabelNamesRequest, type LabelValuesRequest, MAX_INT64, PartialResponseStrategy, type SeriesRequest, seriesRequest } from './messages.js';
import { PROTO_DIR, PROTO_FILES } from './proto.js';
import { ShardMatcher } from './shard.js';
import { encodeSnappyStream } from './snappystream.js';
import { type CallContext, type SeriesFrame, serveStore, type ServingStore, type StoreServer } from './server.js';

const TYPES: readonly MatchType[] = ['=', '!=', '=~', '!~'];

/** A straightforward in-memory StoreAPI over the fixture: the reference the suite is checked with. */
class MemoryStore implements StoreServer {
  readonly #ext: Labels;
  readonly #series: ChunkSeries[];
  /** Extra frames for transport tests, emitted after the series. */
  tail: SeriesFrame[] = [];
  /** Keep the stream open after the series until the call is cancelled. */
  hold = false;
  /** Yield the series in runs of this many (`{ run }` frames) instead of one by one. */
  runs = 0;
  lastSignal: AbortSignal | undefined;

  constructor(readonly fx: AcceptanceFixture) {
    this.#ext = Labels.from(fx.extLabels);
    this.#series = fx.series.map((s) => {
      const chunks = [];
      for (let i = 0; i < s.samples.length; i += 120) {
        const part = s.samples.slice(i, i + 120);
        const c = new XORChunk();
        const app = c.appender();
        for (const [t, v] of part) app.append(t, v);
        chunks.push({ minTime: part[0]![0], maxTime: part[part.length - 1]![0], chunk: c });
      }
      return { labels: Labels.from(s.labels).merge(this.#ext), chunks };
    });
  }

  async info(): Promise<InfoResponse> {
    if (this.fx.series.length === 0) throw new StoreError(GrpcStatus.UNAVAILABLE, 'not ready');
    return {
      labelSets: [[...this.#ext.toArray()]],
      componentType: 'store',
      store: { minTime: this.fx.minTime, maxTime: this.fx.maxTime, supportsSharding: true, supportsWithoutReplicaLabels: true, tsdbInfos: [], supportsProjections: false },
    };
  }

  #select(matchers: SeriesRequest['matchers']): ChunkSeries[] {
    if (matchers.every((m) => this.#ext.has(m.name))) throw new StoreError(GrpcStatus.INVALID_ARGUMENT, 'no matchers specified (excluding external labels)');
    const ms = matchers.map((m) => new Matcher(TYPES[m.type]!, m.name, m.value));
    return this.#series.filter((s) => matchLabels(ms, s.labels));
  }

  async *series(req: SeriesRequest, ctx: CallContext): AsyncGenerator<SeriesFrame> {
    this.lastSignal = ctx.signal;
    const shard = ShardMatcher.of(req.shardInfo);
    const out = this.#select(req.matchers)
      .map((s) => ({ labels: s.labels.without(req.withoutReplicaLabels), chunks: s.chunks.filter((c) => c.maxTime >= req.minTime && c.minTime <= req.maxTime) }))
      .filter((s) => s.chunks.length > 0 && (shard?.matches(s.labels) ?? true))
      .sort((a, b) => Labels.compare(a.labels, b.labels));
    const series = out.map((s) => toStoreSeries(s.labels, req.skipChunks ? [] : s.chunks));
    if (this.runs > 0) for (let i = 0; i < series.length; i += this.runs) yield { run: series.slice(i, i + this.runs) };
    else for (const s of series) yield { series: s };
    yield* this.tail;
    if (this.hold) await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
  }

  async labelNames(req: LabelNamesRequest) {
    const names = new Set<string>();
    for (const s of req.matchers.length > 0 ? this.#select(req.matchers) : this.#series) for (const l of s.labels) names.add(l.name);
    for (const r of req.withoutReplicaLabels) names.delete(r);
    return { names: [...names].sort(), warnings: [] };
  }

  async labelValues(req: LabelValuesRequest) {
    if (req.withoutReplicaLabels.includes(req.label)) return { values: [], warnings: [] };
    const ms = req.matchers.map((m) => new Matcher(TYPES[m.type]!, m.name, m.value));
    const values = new Set(this.#series.filter((s) => matchLabels(ms, s.labels)).map((s) => s.labels.get(req.label)));
    values.delete('');
    return { values: [...values].sort(), warnings: [] };
  }
}

const fixture = acceptanceFixture(1_700_000_000_000);
let store: MemoryStore;
let serving: ServingStore;
let client: StoreClient;

beforeAll(async () => {
  store = new MemoryStore(fixture);
  serving = await serveStore(store, { address: '127.0.0.1:0' });
  client = new StoreClient(serving.address);
});

afterAll(async () => {
  client?.close();
  await serving?.stop();
});

describe('StoreAPI acceptance: in-memory reference store', () => {
  for (const c of storeAcceptanceCases(fixture)) it(c.name, () => c.run(client));
});

const req = (fields: Partial<SeriesRequest> = {}) => seriesRequest({ minTime: fixture.minTime, maxTime: fixture.maxTime, matchers: [{ type: 0, name: 'job', value: 'api' }], ...fields });

async function frames(r: SeriesRequest, c = client) {
  const out = [];
  for await (const f of c.series(r)) out.push(f);
  return out;
}

/** A gRPC message: its compressed flag, its length as big-endian uint32, its bytes. */
function grpcMessage(body: Buffer, compressed = false): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = compressed ? 1 : 0;
  prefix.writeUInt32BE(body.length, 1);
  return Buffer.concat([prefix, body]);
}

/** A Series call made by hand over HTTP/2, as another gRPC implementation would make it; what came back. */
async function rawSeriesCall(body: Buffer, headers: http2.OutgoingHttpHeaders = {}): Promise<{ headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders | undefined; data: Buffer }> {
  const session = http2.connect(`http://${serving.address}`);
  try {
    const stream = session.request({ ':method': 'POST', ':path': Method.Series, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    stream.end(body);
    return await new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      let head: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders | undefined;
      stream.once('response', (h) => (head = h));
      stream.once('trailers', (t) => (trailers = t));
      stream.on('data', (d: Buffer) => parts.push(d));
      stream.once('end', () => resolve({ headers: head, trailers, data: Buffer.concat(parts) }));
      stream.once('error', reject);
    });
  } finally {
    session.close();
  }
}

describe('serveStore transport', () => {
  it('listens on every interface for an address without a host (:port), as Go programs do', async () => {
    const any = await serveStore(store, { address: ':0' });
    const c = new StoreClient(`127.0.0.1:${any.port}`);
    try {
      expect(any.address).toBe(`0.0.0.0:${any.port}`);
      expect((await c.info()).labelSets.length).toBeGreaterThan(0);
    } finally {
      c.close();
      await any.stop();
    }
  });

  it('asks connections to go after --grpc-server-max-connection-age, and the client goes on over new ones without a failed call', async () => {
    const peers = new Set<string>();
    const aged = await serveStore(store, {
      address: '127.0.0.1:0',
      maxConnectionAgeMs: 200,
      observer: { started: (_s, _m, call) => peers.add(call.peer), handled: () => {} },
    });
    const c = new StoreClient(aged.address);
    const expected = (await frames(req())).length;
    try {
      // Calls until both of the client's connections (Series', and the other methods') were replaced;
      // a server that never asked them to go leaves the test to time out. Not one call may fail.
      let calls = 0;
      while (calls < 20 || peers.size < 4) {
        const series = [];
        for await (const f of c.series(req())) series.push(f);
        expect(series.length).toBe(expected);
        expect((await c.labelNames(labelNamesRequest({ start: fixture.minTime, end: fixture.maxTime }))).names.length).toBeGreaterThan(0);
        calls++;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      c.close();
      await aged.stop();
    }
  });

  it('batches series into SeriesBatch frames, flushing before a warning', async () => {
    store.tail = [{ warning: 'one store was slow' }];
    try {
      const got = await frames(req({ responseBatchSize: 3 }));
      expect(got.map((f) => Object.keys(f)[0])).toEqual(['batch', 'batch', 'warning']);
      expect(got.map((f) => ('batch' in f ? f.batch.length : 0))).toEqual([3, 1, 0]);
    } finally {
      store.tail = [];
    }
  });

  it('sends runs of series as it sends the series one by one, batched or not, limit included', async () => {
    const all: Partial<SeriesRequest> = { matchers: [{ type: 2, name: 'job', value: '.+' }] };
    const cases = [req(), req({ responseBatchSize: 3 }), req({ ...all, limit: 5 }), req({ ...all, limit: 5, responseBatchSize: 2 }), req(all)];
    const alone = await Promise.all(cases.map((r) => frames(r)));
    store.runs = 4;
    try {
      for (let i = 0; i < cases.length; i++) expect(await frames(cases[i]!)).toEqual(alone[i]);
      expect(alone[2]!.length).toBe(5);
    } finally {
      store.runs = 0;
    }
  });

  it('cuts a batch at 256 KiB before it holds response_batch_size series', async () => {
    const big: StoreServer = {
      info: () => store.info(),
      labelNames: (r) => store.labelNames(r),
      labelValues: (r) => store.labelValues(r),
      async *series() {
        for (let i = 0; i < 10; i++) {
          const raw = { type: 0 as const, data: new Uint8Array(100_000).fill(i), hash: 0n };
          yield { series: { labels: [{ name: 'i', value: String(i) }], chunks: [{ minTime: i, maxTime: i, raw }] } };
        }
      },
    };
    const s = await serveStore(big, { address: '127.0.0.1:0' });
    const c = new StoreClient(s.address);
    try {
      const got = await frames(req({ responseBatchSize: 64 }), c);
      expect(got.map((f) => ('batch' in f ? f.batch.length : 0))).toEqual([3, 3, 3, 1]);
      expect(got.flatMap((f) => ('batch' in f ? f.batch.map((x) => x.chunks[0]!.raw!.data[0]) : []))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    } finally {
      c.close();
      await s.stop();
    }
  });

  it('two calls at once, each through several reused message slabs, arrive intact', async () => {
    const data = (i: number) => Buffer.alloc(40_000, i & 0xff).fill(i >> 8, 0, 2);
    const many: StoreServer = {
      info: () => store.info(),
      labelNames: (r) => store.labelNames(r),
      labelValues: (r) => store.labelValues(r),
      async *series() {
        for (let i = 0; i < 300; i++) yield { series: { labels: [{ name: 'i', value: String(i) }], chunks: [{ minTime: i, maxTime: i, raw: { type: 0 as const, data: data(i), hash: 0n } }] } };
      },
    };
    const s = await serveStore(many, { address: '127.0.0.1:0' });
    const c = new StoreClient(s.address);
    const read = async (batch: number) => {
      let n = 0;
      for await (const f of c.series(req({ responseBatchSize: batch }))) {
        for (const x of 'series' in f ? [f.series] : 'batch' in f ? f.batch : []) {
          const i = Number(x.labels[0]!.value);
          if (i !== n++ || !data(i).equals(x.chunks[0]!.raw!.data)) throw new Error(`series ${i}: wrong bytes`);
        }
      }
      return n;
    };
    try {
      expect(await Promise.all([read(0), read(64)])).toEqual([300, 300]);
    } finally {
      c.close();
      await s.stop();
    }
  });

  it('turns a warning into Aborted under the ABORT strategy (and the deprecated flag)', async () => {
    store.tail = [{ warning: 'block 01X unreadable' }];
    try {
      await expect(frames(req({ partialResponseStrategy: PartialResponseStrategy.ABORT }))).rejects.toMatchObject({ code: GrpcStatus.ABORTED, details: 'block 01X unreadable' });
      await expect(frames(req({ partialResponseDisabled: true }))).rejects.toMatchObject({ code: GrpcStatus.ABORTED });
    } finally {
      store.tail = [];
    }
  });

  it('passes status codes through; other errors become Unknown with their message', async () => {
    await expect(frames(req({ matchers: [{ type: 0, name: 'cluster', value: 'x' }] }))).rejects.toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT });
    await expect(frames(req({ matchers: [{ type: 2, name: 'job', value: '(' }] }))).rejects.toMatchObject({ code: GrpcStatus.UNKNOWN, details: expect.stringMatching(/\(/) });
    const empty = new MemoryStore({ ...fixture, series: [] });
    const s = await serveStore(empty, { address: '127.0.0.1:0' });
    const c = new StoreClient(s.address);
    try {
      await expect(c.info()).rejects.toMatchObject({ code: GrpcStatus.UNAVAILABLE, details: 'not ready' });
    } finally {
      c.close();
      await s.stop();
    }
  });

  it('applies limit to LabelNames/LabelValues and cancels the server side when the client stops reading', async () => {
    expect((await client.labelValues({ label: 'job', start: 0, end: MAX_INT64, matchers: [], withoutReplicaLabels: [], limit: 2, partialResponseDisabled: false, partialResponseStrategy: 0 })).values).toHaveLength(2);
    store.hold = true;
    try {
      for await (const _ of client.series(req())) break;
      await expect.poll(() => store.lastSignal?.aborted).toBe(true);
    } finally {
      store.hold = false;
    }
  });

  it('leaves no listener on the signal a call was given once it ends (a querier gives one request\'s signal to many calls)', async () => {
    const signal = new AbortController().signal;
    const labels = { start: 0, end: MAX_INT64, matchers: [], withoutReplicaLabels: [], limit: 0, partialResponseDisabled: false, partialResponseStrategy: PartialResponseStrategy.WARN };
    await client.labelNames(labels, { signal });
    await client.labelValues({ ...labels, label: 'job' }, { signal });
    await client.metricMetadata({ metric: '', limit: -1, partialResponseStrategy: PartialResponseStrategy.WARN }, { signal }).catch(() => undefined);
    for await (const _ of client.series(req(), { signal }));
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('gzip-compressed requests (grpc-js servers answer uncompressed)', async () => {
    const s = await serveStore(store, { address: '127.0.0.1:0', compression: 'gzip' });
    const c = new StoreClient(s.address, { compression: 'gzip' });
    try {
      expect(await frames(req(), c)).toEqual(await frames(req()));
    } finally {
      c.close();
      await s.stop();
    }
  });

  it("a client compressing with snappy (as Thanos' querier with --grpc-compression=snappy) gets the same answers", async () => {
    const c = new StoreClient(serving.address, { compression: 'snappy' });
    try {
      expect(await frames(req({ responseBatchSize: 2 }), c)).toEqual(await frames(req({ responseBatchSize: 2 })));
      // Info goes through grpc-js, which has no snappy: uncompressed.
      expect((await c.info()).componentType).toBe('store');
    } finally {
      c.close();
    }
  });

  it("snappy-compressed requests (Thanos' --grpc-compression=snappy) are answered as uncompressed ones", async () => {
    // What grpc-go sends with Thanos' snappy compressor: grpc-encoding: snappy, the compressed flag set and
    // the message as a snappy stream; the answer comes uncompressed (flag 0), which grpc-go accepts.
    const request = req({ responseBatchSize: 2 });
    const { headers, trailers, data } = await rawSeriesCall(grpcMessage(encodeSnappyStream(encodeSeriesRequest(request)), true), {
      'grpc-encoding': 'snappy',
      'grpc-accept-encoding': 'identity,snappy',
    });
    expect(trailers?.['grpc-status']).toBe(String(GrpcStatus.OK));
    expect(String(headers['grpc-accept-encoding']).split(',')).toContain('snappy');
    const got = [];
    for (let off = 0; off < data.length; ) {
      expect(data[off]).toBe(0);
      const length = data.readUInt32BE(off + 1);
      got.push(decodeSeriesResponse(data.subarray(off + 5, off + 5 + length)));
      off += 5 + length;
    }
    expect(got.length).toBeGreaterThan(0);
    expect(got).toEqual(await frames(request));
  });

  it("ends a Series call at the client's grpc-timeout with DeadlineExceeded, and aborts the store's work", async () => {
    store.hold = true;
    try {
      const { headers, trailers, data } = await rawSeriesCall(grpcMessage(encodeSeriesRequest(req())), { 'grpc-timeout': '300m' });
      expect(headers[':status']).toBe(200);
      expect(data.length).toBeGreaterThan(0); // the series went out before the store held the call open
      expect(trailers).toMatchObject({ 'grpc-status': String(GrpcStatus.DEADLINE_EXCEEDED), 'grpc-message': 'Deadline exceeded' });
      expect(store.lastSignal?.aborted).toBe(true);
    } finally {
      store.hold = false;
    }
  });

  it('answers a request that is not one message, in an unknown encoding or with a bad grpc-timeout with a status alone (trailers-only)', async () => {
    const request = encodeSeriesRequest(req());
    const cases: [Buffer, http2.OutgoingHttpHeaders, GrpcStatus, RegExp][] = [
      [Buffer.alloc(0), {}, GrpcStatus.INTERNAL, /no request message/],
      [grpcMessage(request).subarray(0, 9), {}, GrpcStatus.INTERNAL, /expected one request message/],
      [Buffer.concat([grpcMessage(request), grpcMessage(request)]), {}, GrpcStatus.INTERNAL, /expected one request message/],
      [grpcMessage(Buffer.from([0xff, 0xff])), {}, GrpcStatus.INTERNAL, /Error deserializing request/],
      [grpcMessage(request, true), { 'grpc-encoding': 'br' }, GrpcStatus.UNIMPLEMENTED, /unsupported encoding "br"/],
      [grpcMessage(Buffer.from('not gzip'), true), { 'grpc-encoding': 'gzip' }, GrpcStatus.INTERNAL, /Failed to decompress gzip/],
      [grpcMessage(request), { 'grpc-timeout': '1 hour' }, GrpcStatus.INTERNAL, /Invalid grpc-timeout/],
    ];
    for (const [body, headers, code, message] of cases) {
      const res = await rawSeriesCall(body, headers);
      expect(res.trailers).toBeUndefined();
      expect(res.data.length).toBe(0);
      expect(res.headers[':status']).toBe(200);
      expect(res.headers['grpc-status']).toBe(String(code));
      expect(decodeURIComponent(String(res.headers['grpc-message']))).toMatch(message);
    }
    // The server goes on serving.
    expect((await frames(req())).length).toBeGreaterThan(0);
  });

  it('mutual TLS: a client with a certificate from the CA is served, one without is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-tls-'));
    try {
      const sh = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
      sh(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=strata-test-ca']);
      for (const name of ['server', 'client']) {
        sh(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name === 'server' ? 'localhost' : 'client'}`]);
        require_ext(dir, name);
        sh(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`]);
      }
      const f = (n: string) => readFileSync(join(dir, n));
      const s = await serveStore(store, { address: '127.0.0.1:0', tls: { cert: f('server.crt'), key: f('server.key'), clientCA: f('ca.crt') } });
      const good = new StoreClient(s.address, { tls: { ca: f('ca.crt'), cert: f('client.crt'), key: f('client.key'), serverName: 'localhost' } });
      const anonymous = new StoreClient(s.address, { tls: { ca: f('ca.crt'), serverName: 'localhost' } });
      try {
        expect((await good.info()).componentType).toBe('store');
        await expect(anonymous.info({ timeoutMs: 5000 })).rejects.toMatchObject({ code: GrpcStatus.UNAVAILABLE });
      } finally {
        good.close();
        anonymous.close();
        await s.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function require_ext(dir: string, name: string): void {
  const ext = name === 'server' ? 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n';
  execFileSync('sh', ['-c', `cat > ${name}.ext`], { cwd: dir, input: ext });
}

// ---------------------------------------------------------------- wire compatibility

/** A minimal protobuf walker written from the field numbers in thanos.md §1, sharing nothing with codec.ts. */
function fields(buf: Uint8Array): { no: number; value: bigint | Uint8Array }[] {
  const out: { no: number; value: bigint | Uint8Array }[] = [];
  let i = 0;
  const varint = () => {
    let v = 0n;
    for (let s = 0n; ; s += 7n) {
      const b = buf[i++]!;
      v |= BigInt(b & 0x7f) << s;
      if (b < 0x80) return v;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const wire = key & 7;
    if (wire === 0) out.push({ no: key >> 3, value: varint() });
    else if (wire === 2) {
      const len = Number(varint());
      out.push({ no: key >> 3, value: buf.subarray(i, i + len) });
      i += len;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}
const text = (b: bigint | Uint8Array) => Buffer.from(b as Uint8Array).toString('utf8');
const int64 = (b: bigint | Uint8Array) => Number(BigInt.asIntN(64, b as bigint));

describe('wire compatibility with independently built clients', () => {
  it('raw gRPC call (identity serializers) decoded by a hand-written decoder', async () => {
    const raw = new grpc.Client(serving.address, grpc.credentials.createInsecure());
    const r = req({ matchers: [{ type: 0, name: 'job', value: 'db' }] });
    const call = raw.makeServerStreamRequest(Method.Series, (b: Buffer) => b, (b: Buffer) => b, encodeSeriesRequest(r), new grpc.Metadata(), {});
    const got: { labels: Record<string, string>; chunks: { min: number; max: number; type: number; data: Uint8Array; hash: bigint }[] }[] = [];
    for await (const frame of call as AsyncIterable<Buffer>) {
      const [top] = fields(frame);
      expect(top!.no).toBe(1); // SeriesResponse.series
      const labels: Record<string, string> = {};
      const chunks = [];
      for (const f of fields(top!.value as Uint8Array)) {
        if (f.no === 1) {
          const [n, v] = fields(f.value as Uint8Array);
          labels[text(n!.value)] = text(v!.value);
        } else if (f.no === 2) {
          const c = { min: 0, max: 0, type: -1, data: new Uint8Array(0) as Uint8Array, hash: 0n };
          for (const a of fields(f.value as Uint8Array)) {
            if (a.no === 1) c.min = int64(a.value);
            else if (a.no === 2) c.max = int64(a.value);
            else if (a.no === 3) {
              c.type = 0; // XOR = 0 is the proto3 default and therefore omitted
              for (const x of fields(a.value as Uint8Array)) {
                if (x.no === 1) c.type = Number(x.value);
                if (x.no === 2) c.data = x.value as Uint8Array;
                if (x.no === 3) c.hash = x.value as bigint;
              }
            }
          }
          chunks.push(c);
        }
      }
      got.push({ labels, chunks });
    }
    raw.close();
    const want = fixture.series.filter((s) => s.labels.job === 'db');
    expect(got).toHaveLength(want.length);
    for (const s of got) {
      expect(s.labels).toMatchObject({ job: 'db', ...fixture.extLabels });
      const src = want.find((w) => w.labels.instance === s.labels.instance && w.labels.__name__ === s.labels.__name__)!;
      expect(s.chunks.length).toBe(Math.ceil(src.samples.length / 120));
      for (const c of s.chunks) {
        expect(c.type).toBe(0);
        expect(c.hash).toBe(chunkHash(c.data));
        // XOR chunk: BE16 sample count, then the first timestamp as a varint.
        expect((c.data[0]! << 8) | c.data[1]!).toBeGreaterThan(0);
      }
      expect(s.chunks[0]!.min).toBe(src.samples[0]![0]);
      expect(s.chunks.at(-1)!.max).toBe(src.samples.at(-1)![0]);
    }
  });

  it('a protobufjs client generated from the shipped .proto files (as a third party would)', async () => {
    const def = protoLoader.loadSync(
      PROTO_FILES.map((f) => join(PROTO_DIR, f)),
      { includeDirs: [PROTO_DIR], longs: String, enums: String, defaults: true, oneofs: true, keepCase: true },
    );
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      thanos: { Store: grpc.ServiceClientConstructor; info: { Info: grpc.ServiceClientConstructor } };
    };
    const storeClient = new pkg.thanos.Store(serving.address, grpc.credentials.createInsecure()) as grpc.Client & Record<string, (...a: unknown[]) => unknown>;
    const infoClient = new pkg.thanos.info.Info(serving.address, grpc.credentials.createInsecure()) as grpc.Client & Record<string, (...a: unknown[]) => unknown>;
    try {
      const info = await new Promise<Record<string, unknown>>((res, rej) => infoClient.Info!({}, (e: Error | null, r: Record<string, unknown>) => (e ? rej(e) : res(r))));
      expect(info).toMatchObject({ ComponentType: 'store', store: { min_time: String(fixture.minTime), supports_without_replica_labels: true } });

      const stream = storeClient.Series!({
        min_time: fixture.minTime,
        max_time: fixture.maxTime,
        matchers: [{ type: 'EQ', name: '__name__', value: 'acc_requests' }],
        without_replica_labels: ['replica'],
        response_batch_size: 2,
      }) as AsyncIterable<{ result: string; batch?: { series: { labels: { name: string; value: string }[]; chunks: { raw: { type: string; hash: string; data: Buffer } }[] }[] } }>;
      const names: string[] = [];
      for await (const f of stream) {
        expect(f.result).toBe('batch');
        for (const s of f.batch!.series) {
          names.push(s.labels.map((l) => `${l.name}=${l.value}`).join(','));
          expect(s.labels.some((l) => l.name === 'replica')).toBe(false);
          expect(s.chunks[0]!.raw.type).toBe('XOR');
          expect(BigInt(s.chunks[0]!.raw.hash)).toBe(chunkHash(s.chunks[0]!.raw.data));
        }
      }
      expect(names).toHaveLength(fixture.series.filter((s) => s.labels.__name__ === 'acc_requests').length);
      expect([...names].sort()).toEqual(names);

      const lv = await new Promise<{ values: string[] }>((res, rej) =>
        storeClient.LabelValues!({ label: 'job', start: fixture.minTime, end: fixture.maxTime }, (e: Error | null, r: { values: string[] }) => (e ? rej(e) : res(r))),
      );
      expect(lv.values).toEqual(['api', 'clash', 'db', 'web']);
    } finally {
      storeClient.close();
      infoClient.close();
    }
  });
});
