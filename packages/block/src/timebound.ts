/**
 * A --min-time or --max-time value as Thanos' TimeOrDurationValue: a fixed time, or an offset from
 * now that moves with the clock. A store gateway started with `--min-time=-2w` serves the last two
 * weeks for as long as it runs, not the two weeks before it started; time-partitioned store
 * gateways and compactors depend on it.
 */
export class TimeBound {
  private constructor(
    /** The fixed time (ms), or undefined for one relative to now. */
    readonly fixedMs: number | undefined,
    /** The offset from now (ms) of a relative bound. */
    readonly offsetMs: number,
  ) {}

  /** A fixed time (ms). */
  static at(ms: number): TimeBound {
    return new TimeBound(ms, 0);
  }

  /** `offsetMs` from whenever the bound is read (negative: in the past). */
  static fromNow(offsetMs: number): TimeBound {
    return new TimeBound(undefined, offsetMs);
  }

  /** The bound in Unix ms as of `now`. */
  ms(now = Date.now()): number {
    return this.fixedMs ?? now + this.offsetMs;
  }
}
