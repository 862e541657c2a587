/**
 * The sidecar's StoreAPI: Series from Prometheus' blocks on disk and its head over remote read,
 * LabelNames/LabelValues over its HTTP API,
 * with the external labels appended (external wins on a clash) and `without_replica_labels` removed.
 */
import {
  type AggrChunk,
  type CallContext,
  type EncodedChunks,
  GrpcStatus,
  type InfoResponse,
  type LabelMatcher,
  type LabelNamesRequest,
  type LabelNamesResponse,
  type LabelValuesRequest,
  type LabelValuesResponse,
  MAX_INT64,
  MIN_INT64,
  type MetricMetadata,
  type MetricMetadataRequest,
  type ExemplarData,
  type ExemplarsRequest,
  type RuleGroup,
  type RulesRequest,
  RulesType,
  type TargetDiscovery,
  type TargetsRequest,
  TargetsState,
  type SeriesFrame,
  type SeriesLimits,
  type SeriesRequest,
  ShardMatcher,
  StoreError,
  type StoreSeries,
  type StoreServer,
  storeChunk,
  decodeReadResponse,
  MAX_FRAME_BYTES,
  ResponseType,
  STREAMED_CONTENT_TYPE,
} from '@strata/storeapi';
import type { Logger } from '@strata/runtime';
import type { Counter } from 'prom-client';
import { ChunkBytesExhaustedError } from '@strata/store';
import type { LocalBlocks } from './localblocks.js';
import { compareStrings, CorruptionError, Encoding, type Label, Labels, Matcher, type MatchType, XORChunk } from '@strata/tsdb';
import { parseDuration } from '@strata/objstore';
import type { PrometheusClient, RemoteReadResponse } from './promclient.js';
import { exemplarsFromPrometheus } from './exemplars.js';
import { rulesFromPrometheus } from './rules.js';
import { targetsFromPrometheus } from './targets.js';
import { readFramePieces, transcodeChunkedReadResponse, TranscodeScope, type TranscodedChunks } from './remoteread.js';
import { withinLimits } from './limits.js';

/** What the heartbeat keeps current. */
export interface PrometheusState {
  extLabels: Labels;
  /** Advertised min time: max(--min-time, Prometheus' lowest timestamp). */
  minTime: number;
  /**
   * With out-of-order ingestion on: from this time (ms) on, samples may be in Prometheus' head only,
   * whatever blocks hold that time, so that is read through remote read.
   */
  headOnlyFrom?: number;
}

export interface PrometheusStoreOptions {
  prometheus: PrometheusClient;
  state: () => PrometheusState | undefined;
  /** Remote-read response types to offer, preferred first; SAMPLES alone forces the old-Prometheus path. */
  responseTypes?: readonly ResponseType[];
  /** Prometheus' blocks on disk: persisted data is read from them, only the head through remote read. */
  blocks?: LocalBlocks;
  /** Counts where each Series call's data came from. */
  sources?: Counter<'source'>;
  /** --store.limits.request-series, --store.limits.request-samples: what one Series call may send. */
  limits?: SeriesLimits;
  /** Counts the Series calls a limit refused, by limit. */
  dropped?: Counter<'reason'>;
  logger?: Logger;
}

/**
 * Series (and bytes of their chunks) read ahead before Prometheus is asked whether its order can be
 * streamed as sent: a response with fewer is sorted here, without that second request; a longer one
 * streams once it is answered. Nothing is sent until then, so the client idles: asked only after 64
 * series of 38 KB each (a day at 15 s), the answer came once 15–60% of the response had been read.
 */
export const ORDER_CHECK_AFTER_SERIES = 64;
export const ORDER_CHECK_AFTER_BYTES = 256 * 1024;

/**
 * Selectors remembered as having had a response long enough to ask Prometheus about its order (see
 * PrometheusStore.#askEarly), at most this many.
 */
const EARLY_ASK_SELECTORS = 1024;

/** Samples per chunk when re-encoding a SAMPLES response, as Thanos (MaxSamplesPerChunk). */
const MAX_SAMPLES_PER_CHUNK = 120;

const MATCH_TYPES: readonly MatchType[] = ['=', '!=', '=~', '!~'];

interface Pending {
  labels: Labels;
  chunks: AggrChunk[];
  /** Chunks passed through from remote-read frames. */
  transcoded?: TranscodedChunks;
}

const byLabels = (a: Pending, b: Pending): number => Labels.compare(a.labels, b.labels);

/** The series of `shard`; the chunks of the others are let go. */
async function* inShard(series: AsyncIterable<Pending>, shard: ShardMatcher): AsyncGenerator<Pending> {
  for await (const p of series) {
    if (shard.matches(p.labels)) yield p;
    else p.transcoded?.release();
  }
}

/** A read of Prometheus' blocks that failed (not the head's remote read). */
class BlocksFailed extends Error {
  constructor(readonly error: unknown) {
    super((error as Error).message, { cause: error });
  }
}

const labelsOf = (s: StoreSeries) => Labels.fromSorted(s.labels as Label[]);

/** The series of a stream of frames (runs and single series) as runs, taken up to a label set. */
class RunCursor {
  readonly #frames: AsyncIterator<SeriesFrame>;
  #run: readonly StoreSeries[] = [];
  #at = 0;
  #done = false;

  constructor(frames: AsyncIterable<SeriesFrame>) {
    this.#frames = frames[Symbol.asyncIterator]();
  }

  /** The next series (undefined at the end); a failed read throws BlocksFailed. */
  async peek(): Promise<StoreSeries | undefined> {
    while (this.#at === this.#run.length && !this.#done) {
      let step: IteratorResult<SeriesFrame>;
      try {
        step = await this.#frames.next();
      } catch (e) {
        throw new BlocksFailed(e);
      }
      if (step.done === true) this.#done = true;
      else {
        const f = step.value;
        this.#run = 'run' in f ? f.run : 'series' in f ? [f.series] : [];
        this.#at = 0;
      }
    }
    return this.#run[this.#at];
  }

  /** The series that sort before `labels` (all of them without), a run at a time: empty once there are none. */
  async takeBefore(labels: Labels | undefined): Promise<readonly StoreSeries[]> {
    if ((await this.peek()) === undefined) return [];
    const from = this.#at;
    if (labels === undefined) this.#at = this.#run.length;
    else while (this.#at < this.#run.length && Labels.compare(labelsOf(this.#run[this.#at] as StoreSeries), labels) < 0) this.#at++;
    return from === 0 && this.#at === this.#run.length ? this.#run : this.#run.slice(from, this.#at);
  }

  skip(): void {
    this.#at++;
  }

  /** Ends the frames' stream where it was left before its end (the store's reads and bytes go with it). */
  async close(): Promise<void> {
    if (!this.#done) await this.#frames.return?.();
  }
}

/**
 * The series of Prometheus' blocks (sorted, sent as they are read) and of its head (sorted, streamed) in
 * one order; a series in both is sent once, its block chunks first. `sent.last` is the label set of the
 * last series yielded. A failed read of the blocks throws BlocksFailed.
 */
async function* mergeByLabels(blocks: AsyncIterable<SeriesFrame>, head: AsyncIterable<SeriesFrame> | undefined, sent: { last?: Labels }): AsyncGenerator<SeriesFrame> {
  const cursor = new RunCursor(blocks);
  try {
    for await (const f of head ?? []) {
      if (!('series' in f)) {
        yield f;
        continue;
      }
      const labels = labelsOf(f.series);
      for (let before = await cursor.takeBefore(labels); before.length > 0; before = await cursor.takeBefore(labels)) {
        sent.last = labelsOf(before[before.length - 1] as StoreSeries);
        yield { run: before };
      }
      const same = await cursor.peek();
      sent.last = labels;
      if (same !== undefined && Labels.compare(labelsOf(same), labels) === 0) {
        cursor.skip();
        yield { series: joinSeries(same, f.series) };
      } else yield f;
    }
    for (let rest = await cursor.takeBefore(undefined); rest.length > 0; rest = await cursor.takeBefore(undefined)) {
      sent.last = labelsOf(rest[rest.length - 1] as StoreSeries);
      yield { run: rest };
    }
  } finally {
    await cursor.close();
  }
}

/** The series of `frames` whose labels sort after `last` (all of them without). */
async function* seriesAfter(last: Labels | undefined, frames: AsyncIterable<SeriesFrame>): AsyncGenerator<SeriesFrame> {
  let past = last === undefined;
  for await (const f of frames) {
    if (!past && 'series' in f) {
      if (Labels.compare(labelsOf(f.series), last as Labels) <= 0) continue;
      past = true;
    }
    yield f;
  }
}

/** A generator whose first step has begun when this is made (its reader comes later), or is stopped unread. */
class StartedReader<T> implements AsyncIterable<T> {
  readonly #gen: AsyncGenerator<T>;
  readonly #first: Promise<IteratorResult<T>>;

  constructor(gen: AsyncGenerator<T>) {
    this.#gen = gen;
    this.#first = gen.next();
    // Awaited by the reader, or left by stop().
    this.#first.catch(() => undefined);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    try {
      for (let step = await this.#first; step.done !== true; step = await this.#gen.next()) yield step.value;
    } finally {
      await this.#gen.return(undefined);
    }
  }

  async stop(): Promise<void> {
    await this.#first.catch(() => undefined);
    await this.#gen.return(undefined);
  }
}

/** One series' chunks from its block (`a`) and its head (`b`), as one series. */
function joinSeries(a: StoreSeries, b: StoreSeries): StoreSeries {
  const x = a.extraChunks;
  const y = b.extraChunks;
  const chunks = [...a.chunks, ...b.chunks];
  if (x === undefined || y === undefined) {
    const extra = x ?? y;
    return extra !== undefined ? { labels: a.labels, chunks, extraChunks: extra } : { labels: a.labels, chunks };
  }
  const extraChunks: EncodedChunks = {
    size: x.size + y.size,
    write: (w) => {
      x.write(w);
      y.write(w);
    },
    release: () => {
      x.release?.();
      y.release?.();
    },
  };
  return { labels: a.labels, chunks, extraChunks };
}

function seriesFrame(p: Pending): SeriesFrame {
  const labels = p.labels.toArray();
  return { series: p.transcoded !== undefined ? { labels, chunks: p.chunks, extraChunks: p.transcoded } : { labels, chunks: p.chunks } };
}

export class PrometheusStore implements StoreServer {
  readonly #prom: PrometheusClient;
  readonly #state: () => PrometheusState | undefined;
  readonly #responseTypes: readonly ResponseType[];
  readonly #blocks: LocalBlocks | undefined;
  readonly #sources: Counter<'source'> | undefined;
  /** Undefined without a limit: the frames then go out without a count. */
  readonly #limits: SeriesLimits | undefined;
  readonly #dropped: Counter<'reason'> | undefined;
  readonly #log: Logger | undefined;
  /**
   * Selectors (matchers and dropped labels) whose last response was long enough to ask Prometheus about
   * its order, least recently used first: their next call asks at once, alongside the remote read,
   * instead of once that much has been read. Nothing is sent until the answer comes, which took 1.5–13 ms
   * after the question (500 series, a day each, of a 35–60 ms call) with Prometheus busy streaming; asked
   * first, it mostly comes with the response's head. Only when to ask depends on this: every call asks.
   */
  readonly #askEarly = new Set<string>();
  /** Prometheus' block duration (ms), once a read had to be widened to whole chunks. */
  #blockDurationMs: number | undefined;

  constructor(opts: PrometheusStoreOptions) {
    this.#prom = opts.prometheus;
    this.#state = opts.state;
    this.#responseTypes = opts.responseTypes ?? [ResponseType.STREAMED_XOR_CHUNKS, ResponseType.SAMPLES];
    this.#blocks = opts.blocks;
    this.#sources = opts.sources;
    const limits = opts.limits;
    this.#limits = limits !== undefined && (limits.series > 0 || limits.samples > 0) ? limits : undefined;
    this.#dropped = opts.dropped;
    this.#log = opts.logger;
  }

  #current(): PrometheusState {
    const s = this.#state();
    if (s === undefined) throw new StoreError(GrpcStatus.UNAVAILABLE, 'sidecar is not ready: external labels of Prometheus not loaded yet');
    return s;
  }

  async info(): Promise<InfoResponse> {
    const { extLabels, minTime } = this.#current();
    const labels = [...extLabels.toArray()];
    return {
      labelSets: [labels],
      componentType: 'sidecar',
      store: {
        minTime,
        maxTime: MAX_INT64,
        supportsSharding: true,
        supportsWithoutReplicaLabels: true,
        tsdbInfos: [{ labels, minTime, maxTime: MAX_INT64 }],
        supportsProjections: false,
      },
      metricMetadata: true,
      rules: true,
      exemplars: { minTime: MIN_INT64, maxTime: MAX_INT64 },
      targets: true,
    };
  }

  /**
   * The series of Prometheus' blocks on disk (LocalBlocks) up to where they end, then those of its head
   * through remote read, merged by labels (a series in both is sent once, its block chunks first), sent
   * as the blocks' chunks are read. Without blocks in the range, or with tombstones in them (remote read
   * applies deletions), all of it through remote read. Where reading the blocks fails (a block deleted
   * since the last sync) or would hold too many chunk bytes at once, the rest of the call (the series
   * after the last one sent) is read through remote read. A chunk whose CRC does not match fails the call.
   * The limits count what is sent, from all of these at once.
   */
  series(req: SeriesRequest, ctx: CallContext): AsyncGenerator<SeriesFrame> {
    const frames = this.#series(req, ctx);
    return this.#limits === undefined ? frames : withinLimits(frames, this.#limits, this.#dropped);
  }

  async *#series(req: SeriesRequest, ctx: CallContext): AsyncGenerator<SeriesFrame> {
    const { extLabels, minTime: advertisedMin, headOnlyFrom = MAX_INT64 } = this.#current();
    const matchers = withoutExternalMatchers(req.matchers, extLabels);
    if (matchers === null) return;
    if (matchers.length === 0) throw new StoreError(GrpcStatus.INVALID_ARGUMENT, 'no matchers specified (excluding external labels)');
    const minTime = Math.max(req.minTime, advertisedMin);
    const maxTime = req.maxTime;
    if (minTime > maxTime) return;
    const remote = (from: number) => this.#remoteSeries(req, matchers, extLabels, from, maxTime, ctx);
    const blocks = this.#blocks;
    const end = Math.min(blocks?.end ?? MIN_INT64, headOnlyFrom);
    if (blocks === undefined || req.skipChunks || end <= minTime) {
      this.#sources?.inc({ source: 'remote_read' });
      yield* remote(minTime);
      return;
    }
    const upTo = Math.min(maxTime, end - 1);
    if (!blocks.readable(minTime, upTo)) {
      this.#sources?.inc({ source: 'tombstones' });
      yield* remote(minTime);
      return;
    }
    // The head's remote read is under way while the blocks are read.
    const head = maxTime >= end ? new StartedReader(remote(end)) : undefined;
    const fromBlocks = blocks.series({ ...req, minTime, maxTime: upTo, hints: undefined }, ctx);
    const sent: { last?: Labels } = {};
    let source = 'blocks';
    try {
      yield* mergeByLabels(fromBlocks.frames, head, sent);
    } catch (e) {
      if (!(e instanceof BlocksFailed)) throw e;
      await head?.stop();
      const err = e.error;
      // A damaged block fails the call, naming the block and chunk, as the store gateway does: remote
      // read would serve the same bytes unchecked (and an HA replica can answer instead).
      if (ctx.signal.aborted || (err instanceof Error && err.cause instanceof CorruptionError)) throw err;
      if (err instanceof ChunkBytesExhaustedError) source = 'too_large';
      else {
        source = 'block_failed';
        this.#log?.warn("reading Prometheus' blocks failed; the rest of the call is answered by remote read", { err: err as Error });
      }
      yield* seriesAfter(sent.last, remote(minTime));
    } finally {
      fromBlocks.release();
      this.#sources?.inc({ source });
    }
  }

  /** Series of the range [minTime, maxTime] through remote read (and Prometheus' series API for skip_chunks). */
  async *#remoteSeries(req: SeriesRequest, matchers: LabelMatcher[], extLabels: Labels, minTime: number, maxTime: number, ctx: CallContext): AsyncGenerator<SeriesFrame> {
    const drop = new Set(req.withoutReplicaLabels);
    const ext = extLabels.toArray();
    const finalLabels = (stored: readonly Label[]) => withExternal(stored, ext).without(drop);
    // Prometheus answers every series; a sharded call keeps its shard's (the blocks' reads do so themselves).
    const shard = ShardMatcher.of(req.shardInfo);

    if (req.skipChunks) {
      const all = (await this.#prom.series(matchers, minTime, maxTime, ctx.signal)).map((rec) => finalLabels(Labels.from(rec).toArray())).filter((l) => shard?.matches(l) ?? true);
      all.sort(Labels.compare);
      for (const labels of all) yield { series: { labels: labels.toArray(), chunks: [] } };
      return;
    }
    // Series are read ahead while the order is unknown. A response that ends within the first
    // ORDER_CHECK_AFTER_SERIES series and ORDER_CHECK_AFTER_BYTES (a dashboard's selector: a handful
    // of series) is sorted here, whatever its order: no second request to Prometheus per Series call.
    // Only a longer one asks Prometheus whether its order can be streamed as it is (at once for a
    // selector whose last response was long, #askEarly).
    let keepsOrder: boolean | undefined;
    let asked = false;
    const ask = () => {
      asked = true;
      void this.#keepsPrometheusOrder(matchers, minTime, maxTime, extLabels, drop, ctx.signal).then((v) => (keepsOrder = v));
    };
    const selector = selectorKey(matchers, drop);
    if (this.#askEarly.has(selector)) ask();
    const size = { series: 0, bytes: 0 };
    const long = () => size.series >= ORDER_CHECK_AFTER_SERIES || size.bytes >= ORDER_CHECK_AFTER_BYTES;
    const series = this.#read(matchers, minTime, maxTime, finalLabels, size, ctx.signal);
    const read = await readAhead(shard === undefined ? series : inShard(series, shard), () => {
      if (!asked && long()) ask();
      return keepsOrder !== undefined;
    });
    if (keepsOrder === true) {
      // Stream as Prometheus sends, but for one case: a series whose stored labels extend another's
      // ({job="a"} then {job="a", k="2"}) may sort before it once external labels are added (k < replica).
      // Such series follow the one they extend directly in Prometheus' order, and sort among themselves
      // only: each run of them is held and sorted. The order is still checked: a clashing series may have
      // appeared since Prometheus was asked.
      const extNames = new Set(ext.map((l) => l.name));
      let run: Pending[] = [];
      let prev: Labels | undefined;
      const sorted = (ps: Pending[]) => {
        if (ps.length > 1) ps.sort(byLabels);
        for (const p of ps) {
          if (prev !== undefined && Labels.compare(prev, p.labels) >= 0) {
            throw new StoreError(GrpcStatus.INTERNAL, `series out of order after adding external labels: ${prev.toString()} before ${p.labels.toString()}`);
          }
          prev = p.labels;
        }
        return ps;
      };
      for await (const p of read) {
        if (run.length > 0 && !extendsStored((run[0] as Pending).labels, p.labels, extNames)) {
          for (const q of sorted(run)) yield seriesFrame(q);
          run = [];
        }
        run.push(p);
      }
      for (const q of sorted(run)) yield seriesFrame(q);
      this.#noteLength(selector, long());
      return;
    }
    // External labels overriding stored ones, and stored labels removed as replica labels, can change the order Prometheus sent.
    const all: Pending[] = [];
    for await (const p of read) all.push(p);
    this.#noteLength(selector, long());
    all.sort(byLabels);
    for (const p of all) yield seriesFrame(p);
  }

  /**
   * The series of Prometheus' remote read of the range, in its order. Prometheus 2.42 re-encodes a chunk
   * the range cuts, and fails on a gauge native histogram's ("detected unexpected counter reset in
   * histogram"), before it streams or, after other series, in the middle of the stream: the range is then
   * widened to whole chunks (to multiples of the block duration, which no chunk crosses) and read again,
   * from the series after the last one yielded (the order is the same, the widened read's series a superset).
   * The chunks outside the range are sent too, as they may be.
   */
  async *#read(
    matchers: LabelMatcher[], minTime: number, maxTime: number, finalLabels: (stored: readonly Label[]) => Labels,
    size: { series: number; bytes: number }, signal: AbortSignal,
  ): AsyncGenerator<Pending> {
    let last: Labels | undefined;
    try {
      const res = await this.#prom.remoteRead({ startMs: minTime, endMs: maxTime, matchers }, this.#responseTypes, signal);
      for await (const p of this.#remoteRead(res, finalLabels, size)) {
        last = p.labels;
        yield p;
      }
      return;
    } catch (e) {
      if (!(e instanceof Error) || !e.message.includes('unexpected counter reset in histogram')) throw e;
    }
    this.#blockDurationMs ??= parseDuration((await this.#prom.flags())['storage.tsdb.min-block-duration'] ?? '2h');
    const block = this.#blockDurationMs;
    const range = { startMs: Math.floor(minTime / block) * block, endMs: Math.ceil((maxTime + 1) / block) * block - 1 };
    const res = await this.#prom.remoteRead({ ...range, matchers }, this.#responseTypes, signal);
    let skipping = last !== undefined;
    for await (const p of this.#remoteRead(res, finalLabels, size)) {
      if (!skipping) {
        yield p;
        continue;
      }
      skipping = !p.labels.equals(last as Labels);
      p.transcoded?.release(); // sent before
    }
  }

  /** Whether the response of `selector` was long enough to ask about its order: remembered for its next call. */
  #noteLength(selector: string, long: boolean): void {
    this.#askEarly.delete(selector);
    if (!long) return;
    this.#askEarly.add(selector);
    if (this.#askEarly.size > EARLY_ASK_SELECTORS) this.#askEarly.delete(this.#askEarly.values().next().value as string);
  }

  /**
   * Prometheus sends series sorted by their stored labels, with the external ones added (stored wins).
   * That is mostly also our order, never where an external label must override a stored one or a stored
   * label is to be dropped, which the label names of the selected series (one index lookup) tell
   * beforehand. Dropping external labels (deduplication's replica label) keeps it: every series then
   * has the same other external labels added, as without dropping any.
   * (A series whose labels extend another's can still sort before it: Series sorts each run of those.)
   * Never throws.
   */
  async #keepsPrometheusOrder(matchers: LabelMatcher[], minTime: number, maxTime: number, ext: Labels, drop: Set<string>, signal: AbortSignal): Promise<boolean> {
    let stored: string[];
    try {
      stored = await this.#prom.labelNames(matchers, minTime, maxTime, signal);
    } catch {
      return false; // e.g. only empty-matching matchers, which the labels API refuses: sort instead.
    }
    return !stored.some((n) => ext.has(n) || drop.has(n));
  }

  /**
   * The remote-read response as series in Prometheus' order, consecutive frames of one series merged;
   * `size` counts the series yielded and their chunks' bytes.
   */
  async *#remoteRead(res: RemoteReadResponse, finalLabels: (stored: readonly Label[]) => Labels, size: { series: number; bytes: number }): AsyncGenerator<Pending> {
    const contentType = res.contentType;
    const counted = (p: Pending): Pending => {
      size.series++;
      size.bytes += p.transcoded?.size ?? 0;
      return p;
    };
    let pending: Pending | undefined;
    if (contentType.startsWith(STREAMED_CONTENT_TYPE.split(';')[0]!)) {
      // Each payload is copied as it is transcoded: the memory of the reads before it can be read into again.
      const scope = new TranscodeScope();
      for await (const payload of readFramePieces(res.body, MAX_FRAME_BYTES, () => res.recycle())) {
        for (const s of transcodeChunkedReadResponse(payload, scope)) {
          const labels = finalLabels(s.labels);
          if (pending !== undefined && pending.labels.equals(labels)) {
            pending.transcoded?.append(s.chunks);
            continue;
          }
          if (pending !== undefined) yield counted(pending);
          pending = { labels, chunks: [], transcoded: s.chunks };
        }
      }
    } else if (contentType.startsWith('application/x-protobuf')) {
      const chunks: Buffer[] = [];
      for await (const piece of res.body) chunks.push(piece);
      for (const s of decodeReadResponse(Buffer.concat(chunks))) {
        if (s.timestamps.length === 0) continue;
        if (pending !== undefined) yield counted(pending);
        pending = { labels: finalLabels(Labels.from(s.labels).toArray()), chunks: encodeSamples(s.timestamps, s.values) };
      }
    } else {
      res.cancel();
      throw new Error(`remote read: unexpected response Content-Type ${JSON.stringify(contentType)}`);
    }
    if (pending !== undefined) yield counted(pending);
  }

  async labelNames(req: LabelNamesRequest, ctx: CallContext): Promise<LabelNamesResponse> {
    const { extLabels } = this.#current();
    const matchers = withoutExternalMatchers(req.matchers, extLabels);
    if (matchers === null) return { names: [], warnings: [] };
    const names = new Set(await this.#prom.labelNames(matchers, req.start, req.end, ctx.signal));
    if (names.size > 0 || matchers.length === 0) for (const l of extLabels) names.add(l.name);
    for (const r of req.withoutReplicaLabels) names.delete(r);
    return { names: [...names].sort(compareStrings), warnings: [] };
  }

  /** Prometheus' metadata of its targets' metrics (/api/v1/metadata), as Thanos' sidecar serves it. */
  async metricMetadata(req: MetricMetadataRequest, ctx: CallContext): Promise<{ metadata: MetricMetadata; warnings: string[] }> {
    const byName = await this.#prom.metricMetadata(req.metric, req.limit, ctx.signal);
    return { metadata: new Map(Object.entries(byName)), warnings: [] };
  }

  /** Prometheus' rule groups (/api/v1/rules), external labels added, as Thanos' sidecar serves them. */
  async rules(req: RulesRequest, ctx: CallContext): Promise<{ groups: RuleGroup[]; warnings: string[] }> {
    const type = req.type === RulesType.ALERT ? 'alert' : req.type === RulesType.RECORD ? 'record' : undefined;
    return { groups: rulesFromPrometheus(await this.#prom.rules(type, ctx.signal), this.#withExternal()), warnings: [] };
  }

  /** Prometheus' exemplars for a query's selectors (/api/v1/query_exemplars), external labels added, as Thanos' sidecar serves them. */
  async exemplars(req: ExemplarsRequest, ctx: CallContext): Promise<{ data: ExemplarData[]; warnings: string[] }> {
    return { data: exemplarsFromPrometheus(await this.#prom.queryExemplars(req.query, req.start, req.end, ctx.signal), this.#withExternal()), warnings: [] };
  }

  /** Prometheus' scrape targets (/api/v1/targets), external labels added, as Thanos' sidecar serves them. */
  async targets(req: TargetsRequest, ctx: CallContext): Promise<{ targets: TargetDiscovery; warnings: string[] }> {
    const state = req.state === TargetsState.ACTIVE ? 'active' : req.state === TargetsState.DROPPED ? 'dropped' : undefined;
    return { targets: targetsFromPrometheus(await this.#prom.targets(state, ctx.signal), this.#withExternal()), warnings: [] };
  }

  /** Adds the current external labels to a sorted label set, as Thanos' sidecar adds them to rules and exemplars. */
  #withExternal(): (labels: readonly Label[]) => Label[] {
    const ext = this.#current().extLabels.toArray();
    return (labels) => [...withExternal(labels, ext)];
  }

  async labelValues(req: LabelValuesRequest, ctx: CallContext): Promise<LabelValuesResponse> {
    const { extLabels } = this.#current();
    if (req.withoutReplicaLabels.includes(req.label)) return { values: [], warnings: [] };
    const matchers = withoutExternalMatchers(req.matchers, extLabels);
    if (matchers === null) return { values: [], warnings: [] };
    const ext = extLabels.get(req.label);
    if (ext !== '') {
      // The external label has one value, present iff any series matches the other matchers.
      if (matchers.length === 0) return { values: [ext], warnings: [] };
      const any = await this.#prom.labelNames(matchers, req.start, req.end, ctx.signal);
      return { values: any.length > 0 ? [ext] : [], warnings: [] };
    }
    return { values: await this.#prom.labelValues(req.label, matchers, req.start, req.end, ctx.signal), warnings: [] };
  }
}

/**
 * Whether `b`'s stored labels (its labels but the external ones, which no stored name clashes with)
 * start with all of `a`'s and hold more.
 */
function extendsStored(a: Labels, b: Labels, extNames: ReadonlySet<string>): boolean {
  const x = a.toArray();
  const y = b.toArray();
  let j = 0;
  for (const l of x) {
    if (extNames.has(l.name)) continue;
    while (j < y.length && extNames.has((y[j] as Label).name)) j++;
    const m = y[j++];
    if (m === undefined || m.name !== l.name || m.value !== l.value) return false;
  }
  while (j < y.length && extNames.has((y[j] as Label).name)) j++;
  return j < y.length;
}

/**
 * `stored` with `ext` (sorted) merged in, `ext` winning on a clash, as Labels.merge does: in one pass when
 * `stored` is sorted by name without repeats (as Prometheus sends a series' labels), where Labels.merge
 * sorts the concatenation (a sort per series of every Series call). Empty values are dropped.
 */
export function withExternal(stored: readonly Label[], ext: readonly Label[]): Labels {
  for (let k = 1; k < stored.length; k++) {
    if (compareStrings(stored[k - 1]!.name, stored[k]!.name) >= 0) return Labels.from(stored).merge(Labels.fromSorted([...ext]));
  }
  const out: Label[] = [];
  let i = 0;
  let j = 0;
  while (i < stored.length || j < ext.length) {
    const c = i === stored.length ? 1 : j === ext.length ? -1 : compareStrings(stored[i]!.name, ext[j]!.name);
    if (c < 0) {
      const l = stored[i++]!;
      if (l.value !== '') out.push(l);
    } else {
      if (c === 0) i++;
      out.push(ext[j++]!);
    }
  }
  return Labels.fromSorted(out);
}

/**
 * Reads `source` until `ready()` (checked between items) or its end, and returns an iterator over all of
 * it: the items read so far, then the rest. Leaving that iterator early closes `source`.
 */
async function readAhead<T>(source: AsyncGenerator<T>, ready: () => boolean): Promise<AsyncGenerator<T>> {
  const held: T[] = [];
  let ended = false;
  while (!ready()) {
    const r = await source.next();
    if (r.done) {
      ended = true;
      break;
    }
    held.push(r.value);
  }
  return heldThenRest(held, ended ? undefined : source, source);
}

/**
 * `held`, then `rest`; closes `source` when left. A generator function of its own, not one made per call:
 * each generator function has its own prototype, so generators of a new one per call would each have a
 * map of their own, and the code iterating them (Series) was deoptimized and compiled again (~90 ms of
 * compiler CPU) on almost every call.
 */
async function* heldThenRest<T>(held: T[], rest: AsyncGenerator<T> | undefined, source: AsyncGenerator<T>): AsyncGenerator<T> {
  try {
    yield* held;
    if (rest !== undefined) yield* rest;
  } finally {
    await source.return(undefined);
  }
}

/**
 * Matchers on external label names must accept this Prometheus' value, and are then dropped (Prometheus
 * does not store external labels); null if one rejects it.
 */
export function withoutExternalMatchers(matchers: readonly LabelMatcher[], ext: Labels): LabelMatcher[] | null {
  const out: LabelMatcher[] = [];
  for (const m of matchers) {
    const type = MATCH_TYPES[m.type];
    if (type === undefined) throw new StoreError(GrpcStatus.INVALID_ARGUMENT, `unknown matcher type ${m.type}`);
    if (!ext.has(m.name)) {
      out.push(m);
      continue;
    }
    let matcher: Matcher;
    try {
      matcher = new Matcher(type, m.name, m.value);
    } catch (e) {
      throw new StoreError(GrpcStatus.INVALID_ARGUMENT, `matcher ${m.name}${type}${JSON.stringify(m.value)}: ${(e as Error).message}`);
    }
    if (!matcher.matches(ext.get(m.name))) return null;
  }
  return out;
}

/** Samples from a SAMPLES response re-encoded as XOR chunks of at most 120 samples. */
function encodeSamples(timestamps: readonly number[], values: readonly number[]): AggrChunk[] {
  const out: AggrChunk[] = [];
  for (let i = 0; i < timestamps.length; i += MAX_SAMPLES_PER_CHUNK) {
    const end = Math.min(i + MAX_SAMPLES_PER_CHUNK, timestamps.length);
    const chunk = new XORChunk();
    const app = chunk.appender();
    for (let j = i; j < end; j++) app.append(timestamps[j]!, values[j]!);
    out.push({ minTime: timestamps[i]!, maxTime: timestamps[end - 1]!, raw: storeChunk(Encoding.XOR, chunk.bytes) });
  }
  return out;
}

/** The identity of a selection for #askEarly: its matchers (without external ones) and the labels it drops. */
function selectorKey(matchers: readonly LabelMatcher[], drop: ReadonlySet<string>): string {
  return JSON.stringify([matchers.map((m) => [m.type, m.name, m.value]), [...drop].sort(compareStrings)]);
}
