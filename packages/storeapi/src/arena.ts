/**
 * Buffers for outgoing Series messages, carved one after another from 1 MiB slabs that are reused once
 * every message carved from them has been written to the socket.
 *
 * A query's chunk bytes all pass through these buffers once. Fresh buffers for them would cost, besides
 * the allocation, the scavenges that V8 runs for every few tens of MB of new external memory: on a
 * store or sidecar streaming hundreds of MB/s, several per query.
 */

const SLAB_BYTES = 1 << 20;
/** Larger messages get a buffer of their own. (SeriesBatch messages are cut at 256 KiB and a little over: they must fit.) */
const MAX_CARVED_BYTES = SLAB_BYTES / 2;
/** Idle slabs kept for reuse; more are left to the garbage collector. */
const MAX_FREE_SLABS = 8;

class Slab {
  readonly buf = Buffer.allocUnsafeSlow(SLAB_BYTES);
  used = 0;
  /** Messages carved from this slab and not yet written. */
  pending = 0;
}

export class MessageArena {
  #current: Slab | undefined;
  readonly #free: Slab[] = [];
  /** The slab each message in flight was carved from, by the object it was serialized from. */
  readonly #slabs = new WeakMap<object, Slab>();

  /**
   * `bytes` bytes for the message serialized from `message`; `written(message)` once the transport is
   * done with them. A message that is never reported written only keeps its slab from being reused.
   */
  alloc(message: object, bytes: number): Buffer {
    if (bytes > MAX_CARVED_BYTES) return Buffer.allocUnsafe(bytes);
    let slab = this.#current;
    if (slab === undefined || slab.used + bytes > SLAB_BYTES) {
      if (slab !== undefined && slab.pending === 0) this.#recycle(slab);
      slab = this.#free.pop() ?? new Slab();
      this.#current = slab;
    }
    const buf = slab.buf.subarray(slab.used, slab.used + bytes);
    // 8-byte aligned starts keep the copies into the next message word-aligned.
    slab.used += (bytes + 7) & ~7;
    slab.pending++;
    this.#slabs.set(message, slab);
    return buf;
  }

  /** The transport has written the message serialized from `message`: its bytes may be reused. */
  written(message: object): void {
    const slab = this.#slabs.get(message);
    if (slab === undefined) return;
    this.#slabs.delete(message);
    if (--slab.pending > 0) return;
    if (slab === this.#current) slab.used = 0; // nothing in flight: carve it again from the start
    else this.#recycle(slab);
  }

  #recycle(slab: Slab): void {
    if (this.#free.length >= MAX_FREE_SLABS) return;
    slab.used = 0;
    this.#free.push(slab);
  }
}
