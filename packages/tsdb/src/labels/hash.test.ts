import xxhash from 'xxhash-wasm';
import { describe, expect, it } from 'vitest';
import { labelsHash, labelsHashWithPrefix } from './hash.js';
import { Labels } from './labels.js';

const { h64Raw } = await xxhash();

/** The bytes Labels.Hash hashes for these names and values: each in UTF-8, then 0xff. */
const hashed = (...parts: string[]) => h64Raw(Buffer.concat(parts.flatMap((p) => [Buffer.from(p, 'utf8'), Buffer.from([0xff])])), 0n);

describe('labelsHash', () => {
  it("hashes labels as Prometheus' Labels.Hash: xxhash64 of name, 0xff, value, 0xff, …", () => {
    // xxhash64 of no bytes (the published test vector) and of "a\xffb\xff" built by hand.
    expect(labelsHash(Labels.EMPTY)).toBe(0xef46db3751d8e999n);
    expect(labelsHash(Labels.from({ a: 'b' }))).toBe(h64Raw(new Uint8Array([0x61, 0xff, 0x62, 0xff]), 0n));
    expect(labelsHash(Labels.from({ a: 'b' }))).not.toBe(labelsHash(Labels.from({ ab: '' })));
  });

  it('hashes only the labels `keep` keeps, in UTF-8, however long they are', () => {
    const ls = Labels.from({ job: 'api', pod: 'p-1', zone: 'ü' });
    expect(labelsHash(ls, (n) => n === 'pod')).toBe(hashed('pod', 'p-1'));
    expect(labelsHash(ls, (n) => n !== 'pod')).toBe(hashed('job', 'api', 'zone', 'ü'));
    const long = Labels.from({ a: 'x'.repeat(5000), b: '€'.repeat(2000) });
    expect(labelsHash(long)).toBe(hashed('a', 'x'.repeat(5000), 'b', '€'.repeat(2000)));
    // The scratch buffer grown for the long labels hashes short ones as before.
    expect(labelsHash(Labels.from({ a: 'b' }))).toBe(hashed('a', 'b'));
  });
});

describe('labelsHashWithPrefix', () => {
  it("hashes the prefix, 0xff, then the labels, as Thanos' labelpb.HashWithPrefix", () => {
    expect(labelsHashWithPrefix('', Labels.EMPTY)).toBe(h64Raw(new Uint8Array([0xff]), 0n));
    expect(labelsHashWithPrefix('t', Labels.from({ a: 'b' }))).toBe(h64Raw(new Uint8Array([0x74, 0xff, 0x61, 0xff, 0x62, 0xff]), 0n));
    const ls = Labels.from({ __name__: 'up', job: 'api', zone: 'ü' });
    expect(labelsHashWithPrefix('tenant-ä', ls)).toBe(hashed('tenant-ä', '__name__', 'up', 'job', 'api', 'zone', 'ü'));
    expect(labelsHashWithPrefix('tenant', ls)).not.toBe(labelsHashWithPrefix('tenant2', ls));
  });

  it('grows the scratch buffer for a long prefix and long labels', () => {
    const prefix = '€'.repeat(3000);
    const long = Labels.from({ a: 'x'.repeat(5000) });
    expect(labelsHashWithPrefix(prefix, long)).toBe(hashed(prefix, 'a', 'x'.repeat(5000)));
    expect(labelsHashWithPrefix('t', Labels.from({ a: 'b' }))).toBe(hashed('t', 'a', 'b'));
  });
});
