import { GrpcStatus, StoreError } from '@strata/storeapi';

/**
 * The chunk bytes that Series calls hold at once, bounded by --chunk-pool-size as Thanos' chunk pool
 * bounds them (default 2 GiB). A store gateway's call reads all of its chunks before it sends any (so
 * that a corrupt block fails the call instead of being served half), and a call holds what it read
 * until it ends, so without a bound one wide query over a long range, or twenty at once, would hold
 * their whole answers in memory: a call that would go past the
 * bound fails with ResourceExhausted instead, and the store gateway goes on serving the others.
 */
export class ChunkBytesLimit {
  #held = 0;

  /** `max`: bytes (0: no bound). */
  constructor(readonly max: number) {}

  /** Bytes the calls in flight hold. */
  get held(): number {
    return this.#held;
  }

  /** A Series call's share of the bound: what it takes is given back at once when it ends. */
  call(): CallChunkBytes {
    return new CallChunkBytes(this);
  }

  /** Takes `n` bytes for a call; throws ChunkBytesExhaustedError (taking nothing) past the bound. */
  take(n: number): void {
    if (this.max > 0 && this.#held + n > this.max) throw new ChunkBytesExhaustedError(this.max, this.#held, n);
    this.#held += n;
  }

  give(n: number): void {
    this.#held -= n;
  }
}

/** The chunk bytes one Series call holds (its reads take them as they are planned). */
export class CallChunkBytes {
  #held = 0;
  #ended = false;

  constructor(private readonly limit: ChunkBytesLimit) {}

  /** Takes `n` bytes before they are read; throws ChunkBytesExhaustedError past the bound. */
  take(n: number): void {
    // A call that has ended (failed, cancelled) may still have reads being planned: they take nothing.
    if (this.#ended) return;
    this.limit.take(n);
    this.#held += n;
  }

  /** Gives back `n` of the bytes taken, before the call ends (what it has sent). */
  give(n: number): void {
    if (this.#ended) return;
    const back = Math.min(n, this.#held);
    this.limit.give(back);
    this.#held -= back;
  }

  /** The call has ended: everything it took is given back (once). */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.limit.give(this.#held);
    this.#held = 0;
  }
}

/** A Series call refused because the chunk bytes it needs would go past --chunk-pool-size. */
export class ChunkBytesExhaustedError extends StoreError {
  constructor(max: number, held: number, wanted: number) {
    super(
      GrpcStatus.RESOURCE_EXHAUSTED,
      `chunk bytes exhausted: reading ${mib(wanted)} more would take the chunk bytes Series calls hold past --chunk-pool-size (${mib(max)}, ${mib(held)} held now): narrow the query's matchers or time range, or raise --chunk-pool-size`,
    );
  }
}

function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}
