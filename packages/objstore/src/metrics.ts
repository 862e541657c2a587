import type { Readable } from 'node:stream';
import { SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';
import { Counter, Histogram, register as globalRegistry, type Registry } from 'prom-client';
import { isNotFound, type Bucket, type ListOptions, type ObjectAttributes, type ObjectEntry, type RangeIntoReader, type UploadBody } from './bucket.js';

/** Operation label values, as Thanos names them. */
export const Operations = ['iter', 'get', 'get_range', 'exists', 'attributes', 'upload', 'delete'] as const;
export type Operation = (typeof Operations)[number];

interface BucketMetrics {
  ops: Counter<'bucket' | 'operation'>;
  failures: Counter<'bucket' | 'operation'>;
  duration: Histogram<'bucket' | 'operation'>;
}

/**
 * Counts and times every operation of a bucket with Thanos' metric names under the `strata_` prefix,
 * so Thanos' dashboards work after a prefix swap. "Not found" on get/exists/attributes is an expected
 * answer, not a failure, as in Thanos. Within a traced span (a StoreAPI call, a bucket tool's run) each
 * operation is a child span `bucket_<operation>` (Thanos' operation names), as Thanos traces its buckets.
 */
export class InstrumentedBucket implements Bucket {
  readonly #m: BucketMetrics;
  /** An instrumented bucket inside this one makes the spans: one span an operation however often it is wrapped. */
  readonly #traced: boolean;
  /** Counted as a get_range. */
  readonly getRangeInto?: RangeIntoReader;

  constructor(
    readonly inner: Bucket,
    registry: Registry = globalRegistry,
  ) {
    this.#m = metricsFor(registry);
    this.#traced = !(inner instanceof InstrumentedBucket);
    const into = inner.getRangeInto;
    if (into !== undefined) this.getRangeInto = (name, offset, target) => this.#call('get_range', { name, offset, length: target.length }, () => into.call(inner, name, offset, target));
    // Zero series up front, so rates and failure ratios exist before the first failure.
    for (const op of Operations) {
      this.#m.ops.inc({ bucket: inner.name, operation: op }, 0);
      this.#m.failures.inc({ bucket: inner.name, operation: op }, 0);
    }
  }

  get name(): string {
    return this.inner.name;
  }

  get local(): boolean | undefined {
    return this.inner.local;
  }

  async *list(dir: string, opts?: ListOptions): AsyncIterable<ObjectEntry> {
    const done = this.#start('iter', { dir });
    let failure: unknown;
    try {
      yield* this.inner.list(dir, opts);
    } catch (e) {
      failure = e;
      throw e;
    } finally {
      // Also reached when the caller stops iterating early.
      done(failure);
    }
  }

  get(name: string): Promise<Readable> {
    return this.#stream('get', { name }, () => this.inner.get(name));
  }

  getRange(name: string, offset: number, length: number): Promise<Readable> {
    return this.#stream('get_range', { name, offset, length }, () => this.inner.getRange(name, offset, length));
  }

  exists(name: string): Promise<boolean> {
    return this.#call('exists', { name }, () => this.inner.exists(name));
  }

  attributes(name: string): Promise<ObjectAttributes> {
    return this.#call('attributes', { name }, () => this.inner.attributes(name));
  }

  upload(name: string, body: UploadBody): Promise<void> {
    return this.#call('upload', { name }, () => this.inner.upload(name, body));
  }

  delete(name: string): Promise<void> {
    return this.#call('delete', { name }, () => this.inner.delete(name));
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  async #call<T>(op: Operation, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
    const done = this.#start(op, attributes);
    try {
      const v = await fn();
      done();
      return v;
    } catch (e) {
      done(e);
      throw e;
    }
  }

  /** A read counts until its stream ends, as Thanos times a reader until Close. */
  async #stream(op: Operation, attributes: Attributes, fn: () => Promise<Readable>): Promise<Readable> {
    const done = this.#start(op, attributes);
    let stream: Readable;
    try {
      stream = await fn();
    } catch (e) {
      done(e);
      throw e;
    }
    let finished = false;
    const finish = (e?: unknown) => {
      if (finished) return;
      finished = true;
      done(e);
    };
    stream.once('end', () => finish());
    stream.once('error', (e) => finish(e));
    stream.once('close', () => finish());
    return stream;
  }

  #start(op: Operation, attributes: Attributes): (err?: unknown) => void {
    const labels = { bucket: this.inner.name, operation: op };
    const end = this.#m.duration.startTimer(labels);
    this.#m.ops.inc(labels);
    const span = this.#traced && trace.getActiveSpan()?.isRecording() === true ? trace.getTracer('strata').startSpan(`bucket_${op}`, { attributes }) : undefined;
    return (err?: unknown) => {
      end();
      const failed = err !== undefined && !isNotFound(err);
      if (failed) this.#m.failures.inc(labels);
      if (span !== undefined) {
        if (failed) span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
        span.end();
      }
    };
  }
}

/** One set of metrics per registry, shared by every instrumented bucket registered there. */
function metricsFor(registry: Registry): BucketMetrics {
  const labelNames = ['bucket', 'operation'] as const;
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    ops: get('strata_objstore_bucket_operations_total', () => new Counter({ name: 'strata_objstore_bucket_operations_total', help: 'Total number of all attempted operations against a bucket.', labelNames, registers: [registry] })),
    failures: get(
      'strata_objstore_bucket_operation_failures_total',
      () => new Counter({ name: 'strata_objstore_bucket_operation_failures_total', help: 'Total number of operations against a bucket that failed, but were not expected to fail in certain way from caller perspective.', labelNames, registers: [registry] }),
    ),
    duration: get(
      'strata_objstore_bucket_operation_duration_seconds',
      () =>
        new Histogram({
          name: 'strata_objstore_bucket_operation_duration_seconds',
          help: 'Duration of successful operations against the remote bucket',
          labelNames,
          buckets: [0.001, 0.01, 0.1, 0.3, 0.6, 1, 3, 6, 9, 20, 30, 60, 90, 120],
          registers: [registry],
        }),
    ),
  };
}
