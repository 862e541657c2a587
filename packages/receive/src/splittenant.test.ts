import { encodeTimeSeries } from '@strata/storeapi';
import { Labels } from '@strata/tsdb';
import { describe, expect, it } from 'vitest';
import { validTenant } from './handler.js';
import { splitTenantWrite } from './splittenant.js';
import { WriteError } from './writeerror.js';
import { decodeTimeSeries, type ReceivedSeries } from './writerequest.js';

const series = (record: Record<string, string>): ReceivedSeries => {
  const labels = Labels.from(record);
  const samples = [{ timestamp: 1, value: 1 }];
  return { labels, samples, raw: encodeTimeSeries({ labels: labels.toArray(), samples, histograms: [] }) };
};

describe('splitTenantWrite', () => {
  it('writes each series under the tenant its label names, the label taken off, the rest under the request’s tenant', async () => {
    const written: [string, Record<string, string>[], Record<string, string>[], number][] = [];
    const write = splitTenantWrite(
      async (tenant, s, replica) => {
        written.push([tenant, s.map((x) => x.labels.toRecord()), decodeTimeSeries(s.map((x) => x.raw)).series.map((x) => x.labels.toRecord()), replica]);
      },
      'team',
      validTenant,
    );
    await write('default-tenant', [series({ __name__: 'a', team: 'blue' }), series({ __name__: 'b' }), series({ __name__: 'c', team: 'blue' })], 0);
    expect(written.sort()).toEqual([
      ['blue', [{ __name__: 'a' }, { __name__: 'c' }], [{ __name__: 'a' }, { __name__: 'c' }], 0],
      ['default-tenant', [{ __name__: 'b' }], [{ __name__: 'b' }], 0],
    ]);
  });

  it('refuses a tenant name that is not valid (400), and fails with the most retryable error of its tenants', async () => {
    const ok = splitTenantWrite(async () => undefined, 'team', validTenant);
    await expect(ok('t', [series({ __name__: 'a', team: '..' })], 0)).rejects.toMatchObject({ failure: 'invalid' });
    const failing = splitTenantWrite(
      async (tenant) => {
        throw new WriteError(tenant === 'x' ? 'conflict' : 'unavailable', tenant);
      },
      'team',
      validTenant,
    );
    await expect(failing('t', [series({ __name__: 'a', team: 'x' }), series({ __name__: 'a', team: 'y' })], 0)).rejects.toMatchObject({ failure: 'unavailable', message: 'y' });
  });
});
