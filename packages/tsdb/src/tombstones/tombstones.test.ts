import { describe, expect, it } from 'vitest';
import { decodeTombstones, encodeTombstones, isDeleted, Tombstones } from './tombstones.js';

describe('tombstones', () => {
  it('encodes an empty file as the 9 bytes every new block has', () => {
    expect([...encodeTombstones(new Tombstones())]).toEqual([0x01, 0x30, 0xba, 0x30, 0x01, 0, 0, 0, 0]);
  });

  it('round-trips and merges overlapping and adjacent intervals', () => {
    const t = new Tombstones();
    t.add(7, { mint: 100, maxt: 200 });
    t.add(3, { mint: -5, maxt: 5 });
    t.add(7, { mint: 201, maxt: 300 });
    t.add(7, { mint: 500, maxt: 600 });
    t.add(7, { mint: 550, maxt: 700 });
    const back = decodeTombstones(encodeTombstones(t), 'tombstones');
    expect(back.get(7)).toEqual([
      { mint: 100, maxt: 300 },
      { mint: 500, maxt: 700 },
    ]);
    expect(back.get(3)).toEqual([{ mint: -5, maxt: 5 }]);
    expect(back.numIntervals()).toBe(3);
    const ivs = back.get(7) ?? [];
    expect([99, 100, 300, 301, 499, 500, 700, 701].map((x) => isDeleted(ivs, x))).toEqual([false, true, true, false, false, true, true, false]);
  });

  it('names the file and offset of corruption', () => {
    const t = new Tombstones();
    t.add(1, { mint: 1, maxt: 2 });
    const b = encodeTombstones(t);
    const bad = Uint8Array.from(b);
    bad[6] = (bad[6] as number) ^ 1;
    expect(() => decodeTombstones(bad, 'blk/tombstones')).toThrow(`blk/tombstones: checksum mismatch`);
    expect(() => decodeTombstones(b.subarray(0, 5), 'blk/tombstones')).toThrow('blk/tombstones: file too short: 5 bytes, want at least 9 at offset 0');
    const magic = Uint8Array.from(b);
    magic[0] = 9;
    expect(() => decodeTombstones(magic, 'blk/tombstones')).toThrow('blk/tombstones: invalid magic 0x930ba30, want 0x130ba30 at offset 0');
  });
});
