import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { getBuffer } from './io.js';
import { InMemoryBucket } from './memory.js';
import { InstrumentedBucket } from './metrics.js';

async function value(reg: Registry, name: string, operation: string): Promise<number> {
  const m = (await reg.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => x.labels.operation === operation && x.labels.bucket === 'test' && !('le' in x.labels) && (x as { metricName?: string }).metricName === undefined);
  return v?.value ?? NaN;
}

describe('InstrumentedBucket', () => {
  it("counts operations and failures under Thanos' names with the strata_ prefix", async () => {
    const reg = new Registry();
    const b = new InstrumentedBucket(new InMemoryBucket('test'), reg);
    await b.upload('a', Buffer.from('abc'));
    await getBuffer(b, 'a');
    await b.exists('missing');
    await expect(b.get('missing')).rejects.toThrow(/not found/);
    await expect(b.getRange('a', -1, 2)).rejects.toThrow(/invalid range offset/);
    expect(await value(reg, 'strata_objstore_bucket_operations_total', 'upload')).toBe(1);
    expect(await value(reg, 'strata_objstore_bucket_operations_total', 'get')).toBe(2);
    // Not found is an expected answer, not a failure; a bad range is a failure.
    expect(await value(reg, 'strata_objstore_bucket_operation_failures_total', 'get')).toBe(0);
    expect(await value(reg, 'strata_objstore_bucket_operation_failures_total', 'get_range')).toBe(1);
    expect(await value(reg, 'strata_objstore_bucket_operation_failures_total', 'iter')).toBe(0);
    const text = await reg.metrics();
    expect(text).toContain('strata_objstore_bucket_operation_duration_seconds_count{bucket="test",operation="get"} 2');
    // A second bucket on the same registry shares the metric families.
    new InstrumentedBucket(new InMemoryBucket('other'), reg);
  });
});
