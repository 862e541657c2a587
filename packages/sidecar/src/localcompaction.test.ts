import { createLogger } from '@strata/runtime';
import { describe, expect, it } from 'vitest';
import { checkLocalCompaction, ConfigError } from './localcompaction.js';

describe('checkLocalCompaction', () => {
  const warnings: string[] = [];
  const log = createLogger({ write: (line) => warnings.push(line) });
  const check = (flags: Record<string, string>, ignoreUnequalBlockSize = false) => () => checkLocalCompaction(flags, { shipperFile: '/prom/data/thanos.shipper.json', ignoreUnequalBlockSize }, log);
  const compacting = { 'storage.tsdb.min-block-duration': '2h', 'storage.tsdb.max-block-duration': '1d12h' };

  it('lets Prometheus ship blocks it does not compact', () => {
    expect(check({ 'storage.tsdb.min-block-duration': '2h', 'storage.tsdb.max-block-duration': '2h' })).not.toThrow();
    expect(check({ 'storage.tsdb.min-block-duration': '2h', 'storage.tsdb.max-block-duration': '120m' })).not.toThrow();
  });

  it('refuses local compaction, naming both ways out', () => {
    expect(check(compacting)).toThrow(ConfigError);
    expect(check(compacting)).toThrow(/--storage\.tsdb\.max-block-duration=2h .*--storage\.tsdb\.delay-compact-file\.path=\/prom\/data\/thanos\.shipper\.json/);
  });

  it("takes local compaction that waits for the shipper's uploads (Prometheus 3.9's delay file), and only with the shipper's own state file", () => {
    expect(check({ ...compacting, 'storage.tsdb.delay-compact-file.path': '/prom/data/thanos.shipper.json' })).not.toThrow();
    expect(check({ ...compacting, 'storage.tsdb.delay-compact-file.path': '/prom/data/./thanos.shipper.json' })).not.toThrow();
    expect(check({ ...compacting, 'storage.tsdb.delay-compact-file.path': '/prom/other.json' })).toThrow(
      'Prometheus waits for the blocks listed in /prom/other.json (storage.tsdb.delay-compact-file.path) before it compacts them, but the shipper lists its uploads in /prom/data/thanos.shipper.json: start Prometheus with --storage.tsdb.delay-compact-file.path=/prom/data/thanos.shipper.json.',
    );
    // Empty, as Prometheus reports the flag unset.
    expect(check({ ...compacting, 'storage.tsdb.delay-compact-file.path': '' })).toThrow(ConfigError);
  });

  it('ships anyway with --shipper.ignore-unequal-block-size, warning', () => {
    warnings.length = 0;
    expect(check(compacting, true)).not.toThrow();
    expect(warnings.join('')).toContain('--shipper.ignore-unequal-block-size');
  });
});
