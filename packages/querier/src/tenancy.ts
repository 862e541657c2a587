import { DEFAULT_TENANT_SOURCE, requestTenant, type TenantSource } from '@strata/runtime';
import { Matcher } from '@strata/tsdb';
import type { FastifyRequest } from 'fastify';

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

/** The matcher a request's selections get, when tenancy is enforced. */
export function tenantMatcher(req: FastifyRequest, cfg: TenancyConfig): Matcher | undefined {
  return cfg.enforce ? new Matcher('=', cfg.labelName, requestTenant(req, cfg)) : undefined;
}

/** `matchers` with `tenant` in place of their own matchers on its label (unchanged without one). */
export function withTenant(matchers: readonly Matcher[], tenant: Matcher | undefined): readonly Matcher[] {
  if (tenant === undefined) return matchers;
  return [...matchers.filter((m) => m.name !== tenant.name), tenant];
}
