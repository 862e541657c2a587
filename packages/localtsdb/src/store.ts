/**
 * The StoreAPI over a local TSDB, as Thanos' TSDBStore (pkg/store/tsdb.go) serves a stateful ruler's
 * and each tenant's of a receiver: the local blocks (read as the sidecar reads Prometheus' blocks, LocalBlocks) and the head,
 * the external labels added (winning on a clash) and `without_replica_labels` removed.
 *
 * The in-order head is served from where the in-order blocks end: the head still holds a block's chunks
 * between the block's load and the head's truncation, and no chunk crosses that boundary. Out-of-order
 * samples (in the head, and in blocks of their own that overlap others) are merged with the rest of
 * their series into chunks that do not overlap, as Prometheus' querier merges them for Thanos' TSDB
 * store: a querier deduplicating replicas would take overlapping chunks of one series for replicas.
 */
import {
  type AggrChunk,
  type CallContext,
  type ComponentType,
  decodeSeriesResponse,
  encodeSeriesResponse,
  fromStoreSeries,
  type EncodedChunks,
  type ExemplarData,
  type ExemplarsRequest,
  encodedSeriesSize,
  GrpcStatus,
  type InfoResponse,
  type LabelMatcher,
  type LabelNamesRequest,
  type LabelNamesResponse,
  type LabelValuesRequest,
  type LabelValuesResponse,
  MAX_INT64,
  MatcherType,
  MIN_INT64,
  seriesRequest,
  type SeriesFrame,
  type SeriesRequest,
  StoreError,
  type StoreSeries,
  type StoreServer,
  toStoreSeries,
  writeAggrChunks,
} from '@strata/storeapi';
import { mergeChunkSeries } from '@strata/dedup';
import { querySelectors, toMatcher } from '@strata/querier';
import { withoutExternalMatchers, type LocalBlocks } from '@strata/sidecar';
import { type ChunkMeta, compareStrings, type Label, Labels, type Matcher } from '@strata/tsdb';
import type { ExemplarStorage } from './exemplars.js';
import type { Head } from './head.js';

/** Selects every series (BucketStore needs a matcher; one that matches the empty value selects all postings). */
const ALL_SERIES: LabelMatcher = { type: MatcherType.RE, name: '__name__', value: '.*' };

interface HeadSeries {
  labels: Labels;
  series: StoreSeries;
  /** Its chunks, out-of-order ones merged in. */
  chunks: readonly ChunkMeta[];
  /** Whether it holds out-of-order samples in the range. */
  outOfOrder: boolean;
}

export class TSDBStore implements StoreServer {
  readonly #head: Head;
  readonly #blocks: LocalBlocks;
  readonly #ext: Labels;
  readonly #componentType: ComponentType;
  readonly #blocksMinTime: () => number;

  /** Thanos' Exemplars API over the TSDB's exemplars, when it keeps them (else absent: the server offers no Exemplars service). */
  declare readonly exemplars?: (req: ExemplarsRequest, ctx: CallContext) => Promise<{ data: ExemplarData[]; warnings: string[] }>;

  /** `blocksMinTime`: where the oldest block served starts (Infinity without blocks). */
  constructor(head: Head, blocks: LocalBlocks, externalLabels: Labels, componentType: ComponentType, blocksMinTime: () => number, exemplars?: ExemplarStorage) {
    this.#head = head;
    this.#blocks = blocks;
    this.#ext = externalLabels;
    this.#componentType = componentType;
    this.#blocksMinTime = blocksMinTime;
    if (exemplars !== undefined) this.exemplars = async (req) => ({ data: exemplarsOf(exemplars, req, externalLabels), warnings: [] });
  }

  /** The TSDB's label set and time range: from its oldest sample on, open-ended (an empty range when it holds none). */
  async info(): Promise<InfoResponse> {
    const oldest = Math.min(this.#blocksMinTime(), this.#head.minTime);
    const minTime = Number.isFinite(oldest) ? oldest : MAX_INT64;
    const maxTime = Number.isFinite(oldest) ? MAX_INT64 : MIN_INT64;
    const labels = [...this.#ext.toArray()];
    return {
      labelSets: [labels],
      componentType: this.#componentType,
      store: { minTime, maxTime, supportsSharding: false, supportsWithoutReplicaLabels: true, tsdbInfos: [{ labels, minTime, maxTime }], supportsProjections: false },
      ...(this.exemplars !== undefined ? { exemplars: { minTime: MIN_INT64, maxTime: MAX_INT64 } } : {}),
    };
  }

  async *series(req: SeriesRequest, ctx: CallContext): AsyncGenerator<SeriesFrame> {
    const matchers = withoutExternalMatchers(req.matchers, this.#ext);
    if (matchers === null) return;
    if (matchers.length === 0) throw new StoreError(GrpcStatus.INVALID_ARGUMENT, 'no matchers specified (excluding external labels)');
    const head = this.#headSeries(headMatchers(matchers), req.minTime, req.maxTime, req.skipChunks, req.withoutReplicaLabels);
    if (req.minTime >= this.#blocks.maxTime) {
      for (const s of head) yield { series: s.series };
      return;
    }
    const fromBlocks = this.#blocks.series({ ...req, hints: undefined }, ctx);
    const overlapping = !req.skipChunks && this.#blocks.outOfOrderIn(req.minTime, req.maxTime);
    try {
      yield* mergeWithHead(fromBlocks.frames, head, overlapping);
    } finally {
      fromBlocks.release();
    }
  }

  /**
   * The head's series the matchers select with samples in [mint, maxt] (in order from where the
   * in-order blocks end), with their final labels, sorted by them.
   */
  #headSeries(matchers: Matcher[], mint: number, maxt: number, skipChunks: boolean, drop: readonly string[]): HeadSeries[] {
    if (mint > maxt) return [];
    const from = Math.max(mint, this.#blocks.end);
    const out: HeadSeries[] = [];
    for (const s of this.#head.select(matchers, mint, maxt, true)) {
      const outOfOrder = s.oooOverlaps(mint, maxt);
      let chunks: readonly ChunkMeta[] = [];
      if (skipChunks) {
        if (!outOfOrder && !(s.lastTime >= from && s.minTime <= maxt)) continue;
      } else {
        chunks = s.chunksIn(from, maxt);
        if (outOfOrder) chunks = mergeChunkSeries([...chunks, ...s.oooChunksIn(mint, maxt)], 'chain');
        if (chunks.length === 0) continue;
      }
      const labels = s.labels.merge(this.#ext).without(drop);
      out.push({ labels, series: toStoreSeries(labels, chunks), chunks, outOfOrder });
    }
    return out.sort((a, b) => Labels.compare(a.labels, b.labels));
  }

  async labelNames(req: LabelNamesRequest, ctx: CallContext): Promise<LabelNamesResponse> {
    const names = new Set<string>();
    for await (const labels of this.#labelSets(req, ctx)) for (const l of labels) names.add(l.name);
    return { names: [...names].sort(compareStrings), warnings: [] };
  }

  async labelValues(req: LabelValuesRequest, ctx: CallContext): Promise<LabelValuesResponse> {
    const values = new Set<string>();
    for await (const labels of this.#labelSets(req, ctx)) for (const l of labels) if (l.name === req.label) values.add(l.value);
    return { values: [...values].sort(compareStrings), warnings: [] };
  }

  /** The label sets of the series a label request selects (0, 0: all time), read as a Series call without chunks. */
  async *#labelSets(req: LabelNamesRequest, ctx: CallContext): AsyncGenerator<readonly Label[]> {
    const all = req.start === 0 && req.end === 0;
    const own = withoutExternalMatchers(req.matchers, this.#ext);
    if (own === null) return;
    const series = this.series(
      seriesRequest({
        minTime: all ? MIN_INT64 : req.start,
        maxTime: all ? MAX_INT64 : req.end,
        matchers: own.length > 0 ? req.matchers : [...req.matchers, ALL_SERIES],
        skipChunks: true,
        withoutReplicaLabels: req.withoutReplicaLabels,
      }),
      ctx,
    );
    for await (const f of series) {
      if ('series' in f) yield f.series.labels;
      else if ('run' in f) for (const s of f.run) yield s.labels;
    }
  }
}

/**
 * The exemplars of the series the request's query selects, as Thanos' TSDB exemplars server answers: a
 * selector's matchers on external labels must match them and are then left out (a selector left without
 * matchers is an error); the external labels are added to the series'.
 */
function exemplarsOf(storage: ExemplarStorage, req: ExemplarsRequest, ext: Labels): ExemplarData[] {
  let parsed: Matcher[][];
  try {
    parsed = querySelectors(req.query);
  } catch (e) {
    throw new StoreError(GrpcStatus.INVALID_ARGUMENT, `query ${JSON.stringify(req.query)}: ${(e as Error).message}`);
  }
  const selectors: Matcher[][] = [];
  for (const matchers of parsed) {
    if (matchers.some((m) => ext.has(m.name) && !m.matches(ext.get(m.name)))) continue;
    const own = matchers.filter((m) => !ext.has(m.name));
    if (own.length === 0) throw new StoreError(GrpcStatus.INVALID_ARGUMENT, 'no matchers specified (excluding external labels)');
    selectors.push(own);
  }
  return storage.select(req.start, req.end, selectors).map((s) => ({ seriesLabels: [...s.labels.merge(ext).toArray()], exemplars: s.exemplars.map((e) => ({ labels: [...e.labels], value: e.value, ts: e.ts })) }));
}

/** Matchers as the head applies them; a malformed one is the caller's error. */
function headMatchers(matchers: readonly LabelMatcher[]): Matcher[] {
  return matchers.map((m) => {
    try {
      return toMatcher(m);
    } catch (e) {
      throw new StoreError(GrpcStatus.INVALID_ARGUMENT, `matcher ${m.name} ${JSON.stringify(m.value)}: ${(e as Error).message}`);
    }
  });
}

/**
 * The blocks' series (sorted, as read) and the head's (sorted) in one order; a series in both is sent
 * once, its block chunks first. Where chunks may overlap (`overlapping`: out-of-order blocks in the range;
 * a head series with out-of-order samples) they are merged.
 */
async function* mergeWithHead(blocks: AsyncIterable<SeriesFrame>, head: readonly HeadSeries[], overlapping: boolean): AsyncGenerator<SeriesFrame> {
  let i = 0;
  for await (const f of blocks) {
    if (!('series' in f) && !('run' in f)) {
      yield f;
      continue;
    }
    const run: StoreSeries[] = [];
    for (const s of 'run' in f ? f.run : [f.series]) {
      const labels = Labels.fromSorted([...s.labels]);
      for (; i < head.length && Labels.compare((head[i] as HeadSeries).labels, labels) < 0; i++) run.push((head[i] as HeadSeries).series);
      const same = head[i];
      if (same !== undefined && Labels.compare(same.labels, labels) === 0) {
        run.push(overlapping || same.outOfOrder ? mergedSeries(s, same.chunks) : joinSeries(s, same.series.chunks));
        i++;
      } else run.push(overlapping ? mergedSeries(s, []) : s);
    }
    if (run.length > 0) yield { run };
  }
  for (; i < head.length; i++) yield { series: (head[i] as HeadSeries).series };
}

/** A block's series with the head's chunks, merged into chunks that do not overlap (those that do not are kept as they are). */
function mergedSeries(s: StoreSeries, head: readonly ChunkMeta[]): StoreSeries {
  let own = s;
  if (s.extraChunks !== undefined) {
    // Chunks passed through as encoded bytes are read back into chunks, and their buffers let go of.
    const decoded = decodeSeriesResponse(encodeSeriesResponse({ series: s }));
    s.extraChunks.release?.();
    if (!('series' in decoded)) throw new Error('re-reading a series: no series');
    own = decoded.series;
  }
  return toStoreSeries(s.labels, mergeChunkSeries([...fromStoreSeries(own).chunks, ...head], 'chain'));
}

/**
 * A block's series with the head's chunks after its own. A block's chunks may be passed through as
 * encoded bytes (`extraChunks`), which are written after `chunks`: the head's then follow them there.
 */
function joinSeries(s: StoreSeries, head: readonly AggrChunk[]): StoreSeries {
  if (head.length === 0) return s;
  // Built anew, not spread: a block's series may give its labels through getters.
  const base: StoreSeries = s.encodedLabels !== undefined ? { labels: s.labels, encodedLabels: s.encodedLabels, chunks: s.chunks } : { labels: s.labels, chunks: s.chunks };
  const x = s.extraChunks;
  if (x === undefined) return { ...base, chunks: [...s.chunks, ...head] };
  const extraChunks: EncodedChunks = {
    size: x.size + encodedSeriesSize({ labels: [], chunks: head }),
    write: (w) => {
      x.write(w);
      writeAggrChunks(w, head);
    },
    ...(x.release !== undefined ? { release: () => x.release?.() } : {}),
  };
  return { ...base, extraChunks };
}
