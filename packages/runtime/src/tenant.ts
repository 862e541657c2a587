import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';

/**
 * Where a request's tenant comes from, as Thanos' query and query frontend read it (pkg/tenancy): a
 * header (THANOS-TENANT), or a field of the client certificate, else a default tenant.
 */
export interface TenantSource {
  /** --query.tenant-header, --query-frontend.tenant-header. */
  header: string;
  /** --query.default-tenant-id, --query-frontend.default-tenant. */
  defaultTenant: string;
  /** --query(-frontend).tenant-certificate-field (HTTPS with client certificates). */
  certificateField?: CertificateField;
}

/** The header Thanos' components name a request's tenant with among themselves, whatever header their clients use (tenancy.DefaultTenantHeader). */
export const INTERNAL_TENANT_HEADER = 'THANOS-TENANT';

export const DEFAULT_TENANT_SOURCE: TenantSource = { header: INTERNAL_TENANT_HEADER, defaultTenant: 'default-tenant' };

const CERTIFICATE_FIELDS = { organization: 'O', organizationalUnit: 'OU', commonName: 'CN' } as const;
export type CertificateField = keyof typeof CERTIFICATE_FIELDS;

export function isCertificateField(v: string): v is CertificateField {
  return v in CERTIFICATE_FIELDS;
}

/** requestTenant, the default tenant where the request names none it may have (a client certificate without the field): for metrics, which label every request. */
export function requestTenantOrDefault(source: TenantSource): (req: FastifyRequest) => string {
  return (req) => {
    try {
      return requestTenant(req, source);
    } catch {
      return source.defaultTenant;
    }
  };
}

/**
 * The request's tenant, as Thanos' GetTenantFromHTTP reads it: the certificate's field where one is
 * configured, else the tenant header, else THANOS-TENANT (what a query frontend in front sends), else
 * the default tenant. Throws when the certificate names none, or the tenant is no plain name (a path).
 */
export function requestTenant(req: FastifyRequest, source: TenantSource): string {
  const tenant = source.certificateField !== undefined ? certificateTenant(req, source.certificateField) : (header(req, source.header) ?? header(req, INTERNAL_TENANT_HEADER) ?? source.defaultTenant);
  // Thanos' IsTenantValid: a tenant is its own path.Base, which only "/" of the names with a slash is.
  if (tenant.includes('/') && tenant !== '/') throw new Error('Tenant name not valid');
  return tenant;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  const value = Array.isArray(v) ? v[0] : v;
  return value === undefined || value === '' ? undefined : value;
}

function certificateTenant(req: FastifyRequest, field: CertificateField): string {
  const socket = req.socket as Partial<TLSSocket>;
  const subject = socket.getPeerCertificate?.()?.subject as Record<string, string | string[] | undefined> | undefined;
  const value = subject?.[CERTIFICATE_FIELDS[field]];
  const tenant = Array.isArray(value) ? value[0] : value;
  if (tenant === undefined || tenant === '') throw new Error(`the client certificate names no ${field} to take the tenant from`);
  return tenant;
}
