/**
 * `--receive.split-tenant-label-name`: the tenant of each series is the value of that label, taken off
 * the series, where it has one (over the request's tenant header), as Thanos' handler splits a write.
 * Each tenant's series are written as a write of their own, at once; the request fails with the most
 * retryable of their errors (unavailable, then not ready, then conflict), as Thanos' writeErrors.
 */
import { WriteError, type WriteFailure } from './writeerror.js';
import { type ReceivedSeries, withOtherLabels } from './writerequest.js';
import type { Write } from './writer.js';

const PRIORITY: readonly WriteFailure[] = ['unavailable', 'not-ready', 'conflict'];

/** `write` with each series written under the tenant its `label` names; `validTenant` as the header's tenant is checked. */
export function splitTenantWrite(write: Write, label: string, validTenant: (t: string) => boolean): Write {
  return async (tenant, series, replica) => {
    const byTenant = new Map<string, ReceivedSeries[]>();
    for (const s of series) {
      const named = s.labels.get(label);
      let t = tenant;
      let own = s;
      if (named !== '') {
        if (!validTenant(named)) throw new WriteError('invalid', `tenant name not valid: ${JSON.stringify(named)} (label ${label})`);
        t = named;
        own = withOtherLabels(s, s.labels.without([label]));
      }
      let group = byTenant.get(t);
      if (group === undefined) byTenant.set(t, (group = []));
      group.push(own);
    }
    const results = await Promise.allSettled([...byTenant].map(([t, s]) => write(t, s, replica)));
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (errors.length === 0) return;
    const writeErrors = errors.filter((e): e is WriteError => e instanceof WriteError);
    if (writeErrors.length < errors.length) throw errors.find((e) => !(e instanceof WriteError));
    throw PRIORITY.map((f) => writeErrors.find((e) => e.failure === f)).find((e) => e !== undefined) ?? writeErrors[0];
  };
}
