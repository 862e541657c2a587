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

export const DEFAULT_TENANT_SOURCE: TenantSource = { header: 'THANOS-TENANT', defaultTenant: 'default-tenant' };

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

/** The request's tenant; throws when its certificate should name one and does not. */
export function requestTenant(req: FastifyRequest, source: TenantSource): string {
  if (source.certificateField !== undefined) {
    const socket = req.socket as Partial<TLSSocket>;
    const subject = socket.getPeerCertificate?.()?.subject as Record<string, string | string[] | undefined> | undefined;
    const value = subject?.[CERTIFICATE_FIELDS[source.certificateField]];
    const tenant = Array.isArray(value) ? value[0] : value;
    if (tenant === undefined || tenant === '') throw new Error(`the client certificate names no ${source.certificateField} to take the tenant from`);
    return tenant;
  }
  const v = req.headers[source.header.toLowerCase()];
  const tenant = Array.isArray(v) ? v[0] : v;
  return tenant === undefined || tenant === '' ? source.defaultTenant : tenant;
}
