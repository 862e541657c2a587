/**
 * The StoreAPI over every tenant's TSDB, as Thanos' MultiTSDB serves a receiver's: Info lists one label
 * set per tenant (the external labels and the tenant label) with its time range; Series merges the
 * tenants' series, each sorted, into one sorted stream (a series is one tenant's: its tenant label
 * tells them apart); label calls answer the union.
 */
import type { LocalTSDB } from '@strata/localtsdb';
import {
  type CallContext,
  type ExemplarData,
  type ExemplarsRequest,
  type InfoResponse,
  type LabelNamesRequest,
  type LabelNamesResponse,
  type LabelValuesRequest,
  type LabelValuesResponse,
  MAX_INT64,
  MIN_INT64,
  type SeriesFrame,
  type SeriesRequest,
  type StoreSeries,
  type StoreServer,
} from '@strata/storeapi';
import { compareStrings, Labels } from '@strata/tsdb';

export class MultiTenantStore implements StoreServer {
  readonly #tenants: () => readonly LocalTSDB[];
  /** Thanos' Exemplars API over every tenant's exemplars, when the TSDBs keep them. */
  declare readonly exemplars?: (req: ExemplarsRequest, ctx: CallContext) => Promise<{ data: ExemplarData[]; warnings: string[] }>;

  constructor(tenants: () => readonly LocalTSDB[], opts: { exemplars?: boolean } = {}) {
    this.#tenants = tenants;
    if (opts.exemplars === true) {
      this.exemplars = async (req, ctx) => {
        const answers = await Promise.all(this.#tenants().map((t) => t.store.exemplars?.(req, ctx)));
        return { data: answers.flatMap((a) => a?.data ?? []), warnings: answers.flatMap((a) => a?.warnings ?? []) };
      };
    }
  }

  async info(ctx: CallContext): Promise<InfoResponse> {
    const infos = await Promise.all(this.#tenants().map((t) => t.store.info(ctx)));
    const tsdbInfos = infos.flatMap((i) => i.store?.tsdbInfos ?? []);
    const held = tsdbInfos.filter((i) => i.minTime <= i.maxTime);
    const minTime = held.length > 0 ? Math.min(...held.map((i) => i.minTime)) : MAX_INT64;
    const maxTime = held.length > 0 ? Math.max(...held.map((i) => i.maxTime)) : MIN_INT64;
    return {
      labelSets: infos.flatMap((i) => i.labelSets),
      componentType: 'receive',
      store: { minTime, maxTime, supportsSharding: false, supportsWithoutReplicaLabels: true, tsdbInfos, supportsProjections: false },
      ...(this.exemplars !== undefined ? { exemplars: { minTime: MIN_INT64, maxTime: MAX_INT64 } } : {}),
    };
  }

  async *series(req: SeriesRequest, ctx: CallContext): AsyncGenerator<SeriesFrame> {
    const cursors: Cursor[] = [];
    try {
      for (const t of this.#tenants()) cursors.push(new Cursor(t.store.series(req, ctx)[Symbol.asyncIterator]()));
      for (const c of cursors) yield* c.advance();
      for (;;) {
        let min: Cursor | undefined;
        for (const c of cursors) if (c.head !== undefined && (min === undefined || Labels.compare(c.key as Labels, min.key as Labels) < 0)) min = c;
        if (min === undefined) return;
        yield { series: min.head as StoreSeries };
        yield* min.advance();
      }
    } finally {
      await Promise.all(cursors.map((c) => c.close()));
    }
  }

  async labelNames(req: LabelNamesRequest, ctx: CallContext): Promise<LabelNamesResponse> {
    const answers = await Promise.all(this.#tenants().map((t) => t.store.labelNames(req, ctx)));
    return { names: union(answers.map((a) => a.names)), warnings: answers.flatMap((a) => a.warnings) };
  }

  async labelValues(req: LabelValuesRequest, ctx: CallContext): Promise<LabelValuesResponse> {
    const answers = await Promise.all(this.#tenants().map((t) => t.store.labelValues(req, ctx)));
    return { values: union(answers.map((a) => a.values)), warnings: answers.flatMap((a) => a.warnings) };
  }
}

/** A tenant's series stream, one series at a time. */
class Cursor {
  readonly #it: AsyncIterator<SeriesFrame>;
  #run: readonly StoreSeries[] = [];
  #i = 0;
  head: StoreSeries | undefined;
  key: Labels | undefined;

  constructor(it: AsyncIterator<SeriesFrame>) {
    this.#it = it;
  }

  /** Moves to the next series; yields the frames on the way that are not series (warnings, hints). */
  async *advance(): AsyncGenerator<SeriesFrame> {
    while (this.#i >= this.#run.length) {
      const r = await this.#it.next();
      if (r.done === true) {
        this.head = this.key = undefined;
        return;
      }
      const f = r.value;
      if ('series' in f) this.#run = [f.series];
      else if ('run' in f) this.#run = f.run;
      else {
        yield f;
        continue;
      }
      this.#i = 0;
    }
    this.head = this.#run[this.#i++] as StoreSeries;
    this.key = Labels.fromSorted([...this.head.labels]);
  }

  async close(): Promise<void> {
    await this.#it.return?.();
  }
}

function union(lists: readonly (readonly string[])[]): string[] {
  return [...new Set(lists.flat())].sort(compareStrings);
}
