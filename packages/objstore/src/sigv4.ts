import { createHash, createHmac } from 'node:crypto';

/** SHA-256 of the empty payload: the x-amz-content-sha256 of a request without a body. */
export const EMPTY_PAYLOAD_SHA256 = createHash('sha256').update('').digest('hex');

export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** A request to sign: `path` is already URI-encoded (S3 signs it as sent, without normalising). */
export interface SigV4Request {
  method: string;
  host: string;
  path: string;
  /** The canonical query string (encoded, sorted), if any. */
  query?: string;
  /** Extra headers to sign (lower-case names), e.g. range. */
  headers?: Record<string, string>;
}

/**
 * AWS Signature Version 4 for S3 requests without a body or query string (object reads). Returns the
 * headers to send besides the caller's: host, x-amz-date, x-amz-content-sha256, x-amz-security-token
 * when the credentials carry a session token, and authorization.
 */
export class SigV4Signer {
  readonly #region: string;
  readonly #service: string;
  // The signing key depends only on the secret, the day, region and service: derived once a day.
  #keyDay = '';
  #keySecret = '';
  #key: Buffer = Buffer.alloc(0);

  constructor(region: string, service = 's3') {
    this.#region = region;
    this.#service = service;
  }

  sign(req: SigV4Request, creds: SigV4Credentials, now: Date = new Date()): Record<string, string> {
    const amzDate = now.toISOString().replace(/[-:]|\.\d{3}/g, '');
    const day = amzDate.slice(0, 8);
    const headers: Record<string, string> = { host: req.host, 'x-amz-content-sha256': EMPTY_PAYLOAD_SHA256, 'x-amz-date': amzDate, ...req.headers };
    if (creds.sessionToken) headers['x-amz-security-token'] = creds.sessionToken;
    const names = Object.keys(headers).sort();
    let canonicalHeaders = '';
    for (const n of names) canonicalHeaders += `${n}:${headers[n]!.trim()}\n`;
    const signedHeaders = names.join(';');
    const canonicalRequest = `${req.method}\n${req.path}\n${req.query ?? ''}\n${canonicalHeaders}\n${signedHeaders}\n${EMPTY_PAYLOAD_SHA256}`;
    const scope = `${day}/${this.#region}/${this.#service}/aws4_request`;
    const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
    const signature = createHmac('sha256', this.#signingKey(day, creds.secretAccessKey)).update(stringToSign).digest('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope},SignedHeaders=${signedHeaders},Signature=${signature}`;
    return headers;
  }

  #signingKey(day: string, secret: string): Buffer {
    if (day !== this.#keyDay || secret !== this.#keySecret) {
      const kDate = createHmac('sha256', `AWS4${secret}`).update(day).digest();
      const kRegion = createHmac('sha256', kDate).update(this.#region).digest();
      const kService = createHmac('sha256', kRegion).update(this.#service).digest();
      this.#key = createHmac('sha256', kService).update('aws4_request').digest();
      this.#keyDay = day;
      this.#keySecret = secret;
    }
    return this.#key;
  }
}

/** S3's URI encoding of a key or bucket: every byte but A-Z a-z 0-9 - . _ ~ is %XX, '/' kept between segments. */
export function encodeS3Path(key: string): string {
  return encodeURIComponent(key)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%2F/g, '/');
}
