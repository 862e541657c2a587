import { describe, expect, it } from 'vitest';
import { encodeS3Path, SigV4Signer } from './sigv4.js';

describe('SigV4Signer', () => {
  // AWS' published example "GET Object" (S3 API reference, Signature Version 4, header-based auth).
  const creds = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
  const req = { method: 'GET', host: 'examplebucket.s3.amazonaws.com', path: '/test.txt', headers: { range: 'bytes=0-9' } };
  const at = new Date('2013-05-24T00:00:00Z');

  it('signs the AWS GET object example', () => {
    const h = new SigV4Signer('us-east-1').sign(req, creds, at);
    expect(h.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
    expect(h['x-amz-date']).toBe('20130524T000000Z');
    expect(h['x-amz-content-sha256']).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(h['x-amz-security-token']).toBeUndefined();
  });

  it('signs a session token, and re-derives the key for another day or secret', () => {
    const signer = new SigV4Signer('us-east-1');
    const h = signer.sign(req, { ...creds, sessionToken: 'TOKEN' }, at);
    expect(h['x-amz-security-token']).toBe('TOKEN');
    expect(h.authorization).toContain('SignedHeaders=host;range;x-amz-content-sha256;x-amz-date;x-amz-security-token,');
    expect(signer.sign(req, creds, at).authorization).toBe(new SigV4Signer('us-east-1').sign(req, creds, at).authorization);
    const nextDay = signer.sign(req, creds, new Date('2013-05-25T00:00:00Z')).authorization;
    expect(nextDay).toBe(new SigV4Signer('us-east-1').sign(req, creds, new Date('2013-05-25T00:00:00Z')).authorization);
    expect(signer.sign(req, { ...creds, secretAccessKey: 'other' }, at).authorization).not.toBe(new SigV4Signer('us-east-1').sign(req, creds, at).authorization);
  });

  it('encodes keys as S3 signs them', () => {
    expect(encodeS3Path('a b/ü+=~/x!*(\')')).toBe('a%20b/%C3%BC%2B%3D~/x%21%2A%28%27%29');
  });
});
