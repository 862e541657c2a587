import { GrpcStatus } from '@strata/storeapi';
import { describe, expect, it } from 'vitest';
import { ChunkBytesExhaustedError, ChunkBytesLimit } from './chunkbytes.js';

describe('ChunkBytesLimit', () => {
  it('bounds what the calls in flight hold together, each giving back all it took when it ends', () => {
    const limit = new ChunkBytesLimit(100);
    const a = limit.call();
    const b = limit.call();
    a.take(60);
    b.take(30);
    expect(limit.held).toBe(90);
    expect(() => b.take(20)).toThrow(ChunkBytesExhaustedError);
    // A refused take takes nothing.
    expect(limit.held).toBe(90);
    a.end();
    a.end();
    expect(limit.held).toBe(30);
    b.take(70);
    b.end();
    expect(limit.held).toBe(0);
  });

  it('refuses with ResourceExhausted saying what to change', () => {
    const limit = new ChunkBytesLimit(1 << 20);
    limit.call().take(1 << 19);
    const err = (() => {
      try {
        limit.call().take(1 << 20);
      } catch (e) {
        return e as ChunkBytesExhaustedError;
      }
    })();
    expect(err?.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(err?.message).toBe(
      'chunk bytes exhausted: reading 1.0 MiB more would take the chunk bytes Series calls hold past --chunk-pool-size (1.0 MiB, 0.5 MiB held now): narrow the query\'s matchers or time range, or raise --chunk-pool-size',
    );
  });

  it('takes nothing for a call that has ended, and has no bound at 0', () => {
    const limit = new ChunkBytesLimit(0);
    const call = limit.call();
    call.take(Number.MAX_SAFE_INTEGER / 2);
    call.end();
    call.take(10);
    expect(limit.held).toBe(0);
  });
});
