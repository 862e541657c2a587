import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TENANT_SOURCE, requestTenant } from './tenant.js';

/** A request as fastify hands it over: its headers, and the TLS socket's peer certificate subject. */
function request(headers: Record<string, string>, subject?: Record<string, string>): FastifyRequest {
  const socket = subject === undefined ? {} : { getPeerCertificate: () => ({ subject }) };
  return { headers, socket } as unknown as FastifyRequest;
}

describe('requestTenant', () => {
  it('reads the tenant header (any case), else the default tenant', () => {
    expect(requestTenant(request({ 'thanos-tenant': 'team-a' }), DEFAULT_TENANT_SOURCE)).toBe('team-a');
    expect(requestTenant(request({}), DEFAULT_TENANT_SOURCE)).toBe('default-tenant');
    expect(requestTenant(request({ 'thanos-tenant': '' }), DEFAULT_TENANT_SOURCE)).toBe('default-tenant');
    expect(requestTenant(request({ 'x-scope-orgid': 'org-1' }), { header: 'X-Scope-OrgID', defaultTenant: 'anonymous' })).toBe('org-1');
  });

  it('falls back on THANOS-TENANT, which a query frontend in front sends, and refuses a tenant that is a path', () => {
    const custom = { header: 'X-Scope-OrgID', defaultTenant: 'anonymous' };
    expect(requestTenant(request({ 'thanos-tenant': 'from-frontend' }), custom)).toBe('from-frontend');
    expect(requestTenant(request({ 'x-scope-orgid': 'org-1', 'thanos-tenant': 'from-frontend' }), custom)).toBe('org-1');
    expect(() => requestTenant(request({ 'thanos-tenant': '../team-b' }), DEFAULT_TENANT_SOURCE)).toThrow('Tenant name not valid');
    expect(() => requestTenant(request({ 'thanos-tenant': 'a/b' }), DEFAULT_TENANT_SOURCE)).toThrow('Tenant name not valid');
    expect(requestTenant(request({ 'thanos-tenant': 'team.b' }), DEFAULT_TENANT_SOURCE)).toBe('team.b');
  });

  it('takes it from the client certificate when told which field, and refuses a certificate without it', () => {
    const source = { ...DEFAULT_TENANT_SOURCE, certificateField: 'organizationalUnit' as const };
    expect(requestTenant(request({ 'thanos-tenant': 'ignored' }, { O: 'acme', OU: 'team-b', CN: 'grafana' }), source)).toBe('team-b');
    expect(requestTenant(request({}, { O: 'acme' }), { ...source, certificateField: 'organization' })).toBe('acme');
    expect(() => requestTenant(request({}, { CN: 'grafana' }), source)).toThrow('the client certificate names no organizationalUnit to take the tenant from');
    expect(() => requestTenant(request({}), source)).toThrow('names no organizationalUnit');
  });
});
