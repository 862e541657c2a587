import { DEFAULT_TENANT_SOURCE, type TenantSource } from '@strata/runtime';
import { Matcher } from '@strata/tsdb';

/**
 * Thanos' query tenancy (pkg/tenancy): with `enforce`, a request sees only its tenant's series. Every
 * selection it makes (PromQL selectors, match[] of the series and label endpoints, exemplar queries)
 * gets the matcher `<labelName>="<tenant>"`, in place of any it had on that label, as Thanos injects it.
 */
export interface TenancyConfig extends TenantSource {
  /** --query.enforce-tenancy. */
  enforce: boolean;
  /** --query.tenant-label-name (tenant_id). */
  labelName: string;
}

export const DEFAULT_TENANCY: TenancyConfig = { ...DEFAULT_TENANT_SOURCE, enforce: false, labelName: 'tenant_id' };

/** The matcher a tenant's selections get when tenancy is enforced. */
export function tenantMatcher(tenant: string, cfg: TenancyConfig): Matcher {
  return new Matcher('=', cfg.labelName, tenant);
}

/** `matchers` with `tenant` in place of their own matchers on its label (unchanged without one). */
export function withTenant(matchers: readonly Matcher[], tenant: Matcher | undefined): readonly Matcher[] {
  if (tenant === undefined) return matchers;
  return [...matchers.filter((m) => m.name !== tenant.name), tenant];
}
