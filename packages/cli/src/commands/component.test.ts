import { describe, expect, it } from 'vitest';
import { clientTlsFromFlags, serverTlsFromFlags } from './component.js';

describe('gRPC TLS flags', () => {
  it('leave TLS off when none is given', async () => {
    expect(await serverTlsFromFlags({})).toBeUndefined();
    expect(await clientTlsFromFlags({ grpcClientTlsSecure: false })).toBeUndefined();
  });

  it('say which flag is missing', async () => {
    await expect(serverTlsFromFlags({ grpcServerTlsCert: 'a.crt' })).rejects.toThrow(/--grpc-server-tls-cert and --grpc-server-tls-key must be given together/);
    await expect(serverTlsFromFlags({ grpcServerTlsClientCa: 'ca.crt' })).rejects.toThrow(/--grpc-server-tls-client-ca needs/);
    await expect(clientTlsFromFlags({ grpcClientTlsCa: 'ca.crt' })).rejects.toThrow(/need --grpc-client-tls-secure/);
    await expect(clientTlsFromFlags({ grpcClientTlsSkipVerify: true })).rejects.toThrow(/need --grpc-client-tls-secure/);
    await expect(clientTlsFromFlags({ grpcClientTlsSecure: true, grpcClientTlsKey: 'c.key' })).rejects.toThrow(/--grpc-client-tls-cert and --grpc-client-tls-key must be given together/);
  });

  it('secure alone verifies against the system roots', async () => {
    expect(await clientTlsFromFlags({ grpcClientTlsSecure: true, grpcClientServerName: 'store.internal' })).toEqual({ serverName: 'store.internal', minVersion: 'TLSv1.3' });
  });

  it("take Thanos' min-version names, TLS 1.3 unless told", async () => {
    expect((await clientTlsFromFlags({ grpcClientTlsSecure: true, grpcClientTlsMinVersion: '1.2' }))?.minVersion).toBe('TLSv1.2');
    expect((await clientTlsFromFlags({ grpcClientTlsSecure: true, grpcClientTlsMinVersion: 'TLS11' }))?.minVersion).toBe('TLSv1.1');
    await expect(clientTlsFromFlags({ grpcClientTlsSecure: true, grpcClientTlsMinVersion: '1.4' })).rejects.toThrow('--grpc-client-tls-min-version: 1.4 is not a TLS version (1.0, 1.1, 1.2 or 1.3)');
  });
});
