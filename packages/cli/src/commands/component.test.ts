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
    expect(await clientTlsFromFlags({ grpcClientTlsSecure: true, grpcClientServerName: 'store.internal' })).toEqual({ serverName: 'store.internal' });
  });
});
