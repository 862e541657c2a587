import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ObjectNotFoundError } from './bucket.js';
import { readAll } from './io.js';
import { InMemoryBucket } from './memory.js';
import { isRetryable, RetryingBucket, retry } from './retry.js';

const fast = { maxAttempts: 4, initialBackoffMs: 1, maxBackoffMs: 2 };

describe('isRetryable', () => {
  it('retries 5xx, throttling, broken connections and requests refused before a clock correction, not client errors', () => {
    expect(isRetryable({ name: 'InternalError', $metadata: { httpStatusCode: 500 } })).toBe(true);
    expect(isRetryable({ name: 'SlowDown', $metadata: { httpStatusCode: 503 } })).toBe(true);
    expect(isRetryable({ name: 'TooManyRequests', $metadata: { httpStatusCode: 429 } })).toBe(true);
    expect(isRetryable(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryable({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } })).toBe(false);
    expect(isRetryable({ name: 'RequestTimeTooSkewed', $metadata: { httpStatusCode: 403 } })).toBe(false);
    expect(isRetryable({ name: 'RequestTimeTooSkewed', $metadata: { httpStatusCode: 403, clockSkewCorrected: true } })).toBe(true);
    expect(isRetryable(new ObjectNotFoundError('b', 'o'))).toBe(false);
    expect(isRetryable(new Error('bad input'))).toBe(false);
  });
});

describe('retry', () => {
  it('retries until success and stops at the first non-retryable error', async () => {
    let calls = 0;
    expect(
      await retry(async () => {
        if (++calls < 3) throw { name: 'SlowDown', $metadata: { httpStatusCode: 503 } };
        return 'ok';
      }, fast),
    ).toBe('ok');
    expect(calls).toBe(3);
    calls = 0;
    await expect(
      retry(async () => {
        calls++;
        throw new Error('bad input');
      }, fast),
    ).rejects.toThrow('bad input');
    expect(calls).toBe(1);
  });
});

describe('RetryingBucket', () => {
  it('resumes a read that breaks midway from the last byte received', async () => {
    const inner = new InMemoryBucket();
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256));
    await inner.upload('obj', data);
    const ranges: Array<[number, number]> = [];
    // Every stream breaks after 300 bytes with a connection reset.
    const flaky = Object.create(inner) as InMemoryBucket;
    const cut = (from: number, len: number) => {
      ranges.push([from, len]);
      const end = len === -1 ? data.length : from + len;
      const part = data.subarray(from, Math.min(end, from + 300));
      const broken = from + 300 < end;
      return Readable.from(
        (async function* () {
          yield part;
          if (broken) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        })(),
      );
    };
    flaky.get = async () => cut(0, -1);
    flaky.getRange = async (_n, off, len) => cut(off, len);
    const b = new RetryingBucket(flaky, { ...fast, maxAttempts: 10 });
    expect((await readAll(await b.get('obj'))).equals(data)).toBe(true);
    expect(ranges).toEqual([[0, -1], [300, -1], [600, -1], [900, -1]]);
    ranges.length = 0;
    expect((await readAll(await b.getRange('obj', 100, 700))).equals(data.subarray(100, 800))).toBe(true);
    expect(ranges).toEqual([[100, 700], [400, 400], [700, 100]]);
  });

  it('does not retry one-shot stream uploads', async () => {
    let calls = 0;
    const inner = new InMemoryBucket();
    inner.upload = async () => {
      calls++;
      throw { name: 'InternalError', $metadata: { httpStatusCode: 500 } };
    };
    const b = new RetryingBucket(inner, fast);
    await expect(b.upload('x', Readable.from([Buffer.from('x')]))).rejects.toMatchObject({ name: 'InternalError' });
    expect(calls).toBe(1);
    await expect(b.upload('x', Buffer.from('x'))).rejects.toMatchObject({ name: 'InternalError' });
    expect(calls).toBe(1 + fast.maxAttempts);
  });
});
