import { describe, expect, it } from 'vitest';
import { MessageArena } from './arena.js';

describe('MessageArena', () => {
  it('reuses a slab only when every message carved from it has been written', () => {
    const arena = new MessageArena();
    const [a, b] = [{}, {}];
    const bufA = arena.alloc(a, 100_000);
    const bufB = arena.alloc(b, 100_000);
    expect(bufB.buffer).toBe(bufA.buffer);
    expect(bufB.byteOffset).toBeGreaterThanOrEqual(bufA.byteOffset + 100_000);
    arena.written(a);
    const c = {};
    expect(arena.alloc(c, 10).byteOffset).toBeGreaterThan(bufB.byteOffset); // b is still in flight
    arena.written(b);
    arena.written(c);
    expect(arena.alloc({}, 10).byteOffset).toBe(bufA.byteOffset); // nothing in flight: from the start again
  });

  it('moves to another slab when one is full, and recycles the full one once written', () => {
    const arena = new MessageArena();
    const msgs = Array.from({ length: 5 }, () => ({}));
    const bufs = msgs.map((m) => arena.alloc(m, 250_000));
    expect(bufs[4]!.buffer).not.toBe(bufs[0]!.buffer); // 4 × 250 000 bytes fill the first 1 MiB slab
    for (const m of msgs.slice(0, 4)) arena.written(m);
    const next = Array.from({ length: 4 }, () => arena.alloc({}, 250_000));
    expect(next.map((b) => b.buffer)).toContain(bufs[0]!.buffer);
  });

  it('gives large messages buffers of their own; unknown messages are ignored', () => {
    const arena = new MessageArena();
    const small = arena.alloc({}, 10);
    const big = arena.alloc({}, 600_000);
    expect(big.length).toBe(600_000);
    expect(big.buffer).not.toBe(small.buffer);
    expect(() => arena.written({})).not.toThrow();
  });
});
