import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { isBodySource, type Bucket, type ListOptions, type ObjectAttributes, type ObjectEntry, type RangeIntoReader, type UploadBody } from './bucket.js';

export interface RetryPolicy {
  /** Tries per operation, the first included. */
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 6, initialBackoffMs: 100, maxBackoffMs: 5_000 };

/** A request that got no response headers within the operation timeout. */
export class OperationTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: no response within ${ms} ms`);
    this.name = 'OperationTimeoutError';
  }
}

const RETRYABLE_NAMES = new Set([
  'OperationTimeoutError',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'InternalError',
  'ServiceUnavailable',
]);

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']);

/**
 * Server errors (5xx), throttling (429, SlowDown…), broken connections and requests refused for a signing
 * clock that has since been corrected (the SDK's clockSkewCorrected) are worth another try; anything else is not.
 */
export function isRetryable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number; clockSkewCorrected?: boolean }; $retryable?: unknown; cause?: unknown };
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (e.$metadata?.clockSkewCorrected === true) return true;
  if (e.name !== undefined && RETRYABLE_NAMES.has(e.name)) return true;
  if (e.code !== undefined && NETWORK_CODES.has(e.code)) return true;
  if (e.$retryable) return true;
  if (typeof e.message === 'string' && /socket hang up|aborted|premature close/i.test(e.message) && status === undefined) return true;
  return e.cause !== undefined && e.cause !== err && isRetryable(e.cause);
}

/** Exponential backoff with jitter: attempt n (1-based) waits between half and all of initial·2^(n-1), capped. */
export function backoffMs(policy: RetryPolicy, attempt: number): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (attempt - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** Runs `fn` until it succeeds, fails with a non-retryable error, or runs out of attempts. */
export async function retry<T>(fn: () => Promise<T>, policy: RetryPolicy = DEFAULT_RETRY_POLICY): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= policy.maxAttempts || !isRetryable(e)) throw e;
      await sleep(backoffMs(policy, attempt));
    }
  }
}

/**
 * Retries every operation of a bucket. Reads that break midway resume from the last byte received
 * with a range request, so a large download survives a flaky connection without starting over.
 * Uploads are retried when the body can be read again (bytes or a BodySource); a one-shot stream
 * is tried once.
 */
export class RetryingBucket implements Bucket {
  /** The inner bucket's, retried whole: a range read into memory is a few MB at most. */
  readonly getRangeInto?: RangeIntoReader;

  constructor(
    readonly inner: Bucket,
    readonly policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  ) {
    const into = inner.getRangeInto;
    if (into !== undefined) this.getRangeInto = (name, offset, target) => retry(() => into.call(inner, name, offset, target), policy);
  }

  get name(): string {
    return this.inner.name;
  }

  get local(): boolean | undefined {
    return this.inner.local;
  }

  async *list(dir: string, opts?: ListOptions): AsyncIterable<ObjectEntry> {
    // A listing that fails midway restarts and skips what it already produced.
    const seen = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      try {
        for await (const entry of this.inner.list(dir, opts)) {
          if (seen.has(entry.name)) continue;
          seen.add(entry.name);
          yield entry;
        }
        return;
      } catch (e) {
        if (attempt >= this.policy.maxAttempts || !isRetryable(e)) throw e;
        await sleep(backoffMs(this.policy, attempt));
      }
    }
  }

  get(name: string): Promise<Readable> {
    return this.#resumableRead(name, 0, -1);
  }

  getRange(name: string, offset: number, length: number): Promise<Readable> {
    return this.#resumableRead(name, offset, length);
  }

  exists(name: string): Promise<boolean> {
    return retry(() => this.inner.exists(name), this.policy);
  }

  attributes(name: string): Promise<ObjectAttributes> {
    return retry(() => this.inner.attributes(name), this.policy);
  }

  upload(name: string, body: UploadBody): Promise<void> {
    if (body instanceof Uint8Array || isBodySource(body)) return retry(() => this.inner.upload(name, body), this.policy);
    return this.inner.upload(name, body);
  }

  delete(name: string): Promise<void> {
    return retry(() => this.inner.delete(name), this.policy);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  async #resumableRead(name: string, offset: number, length: number): Promise<Readable> {
    const open = (from: number, len: number) => retry(() => (from === 0 && len === -1 ? this.inner.get(name) : this.inner.getRange(name, from, len)), this.policy);
    // Opened here so "not found" and other request errors reject this call, not the first read.
    const first = await open(offset, length);
    return Readable.from(resumed(first, open, this.policy, offset, length), { objectMode: false });
  }
}

/**
 * The bytes of `first`, then, after each retryable failure, of a stream reopened where it broke. A
 * module-level generator: one made per read would have its own prototype, and V8 deoptimizes the code
 * iterating its objects whenever that changes (as it did for the sidecar's per-call generators).
 */
async function* resumed(
  first: Readable,
  open: (from: number, len: number) => Promise<Readable>,
  policy: RetryPolicy,
  offset: number,
  length: number,
): AsyncIterable<Buffer> {
  let stream = first;
  let received = 0;
  for (let failures = 0; ; ) {
    try {
      for await (const chunk of stream) {
        received += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      return;
    } catch (e) {
      if (++failures >= policy.maxAttempts || !isRetryable(e)) throw e;
      await sleep(backoffMs(policy, failures));
      const rest = length === -1 ? -1 : length - received;
      if (rest === 0) return;
      stream = await open(offset + received, rest);
    }
  }
}
