import { STATUS_CODES } from 'node:http';
import type { ConnectionOptions } from 'node:tls';
import { Http1Client, tlsConnectOptions } from '@strata/objstore';
import { authorization, type PrometheusHttpClientConfig } from '@strata/sidecar';

/** What a POST got back: the status, the headers (names lower-cased) and the whole body. */
export interface PostResult {
  status: number;
  headers: ReadonlyMap<string, string>;
  body: Buffer;
}

/**
 * POSTs to one URL (a remote-write endpoint, an Alertmanager's alerts API, a querier's query API, which
 * may also be asked with GET) over kept-alive connections, each request bounded by `timeoutMs`. `headers` is asked for every request, so that credentials read from
 * files (password_file, bearer_token_file) take effect when rotated, as in Prometheus' HTTP clients.
 */
export class HttpPoster {
  readonly url: URL;
  readonly #client: Http1Client;
  readonly #path: string;
  readonly #timeoutMs: number;
  readonly #headers: () => Record<string, string>;

  constructor(url: string | URL, opts: { timeoutMs: number; tls?: ConnectionOptions; headers?: () => Record<string, string> }) {
    this.url = new URL(url);
    this.#client = new Http1Client(this.url.origin, opts.tls !== undefined ? { tls: opts.tls } : {});
    this.#path = `${this.url.pathname}${this.url.search}`;
    this.#timeoutMs = opts.timeoutMs;
    this.#headers = opts.headers ?? (() => ({}));
  }

  /** Rejects on a connection error, a timeout (`timeout` in the message) or `signal`'s abort. */
  post(body: Buffer, headers: Record<string, string>, signal?: AbortSignal): Promise<PostResult> {
    return this.send('POST', '', body, headers, signal);
  }

  /** Sends `method` to the URL with `search` (`?…`) appended; rejects as `post` does. */
  async send(method: 'GET' | 'POST', search: string, body: Buffer, headers: Record<string, string>, signal?: AbortSignal): Promise<PostResult> {
    // As Go's errors name the request: `Post "<url>": …`.
    const what = `${method[0]}${method.slice(1).toLowerCase()} "${redactedUrl(this.url)}${search}"`;
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, this.#timeoutMs);
    const onAbort = () => ac.abort();
    if (signal?.aborted === true) ac.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await this.#client.request(method, `${this.#path}${search}`, { ...this.#headers(), ...headers }, body, ac.signal);
      const pieces: Buffer[] = [];
      for await (const piece of res.body) pieces.push(Buffer.from(piece));
      return { status: res.status, headers: res.headers, body: Buffer.concat(pieces) };
    } catch (e) {
      if (timedOut) throw new Error(`${what}: timeout after ${this.#timeoutMs} ms`);
      throw new Error(`${what}: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

/**
 * A poster to `url` with an endpoint configuration's http_config: its Authorization header made for each
 * request (credential files read again), its TLS settings (files read now; `what` names them in errors).
 */
export function configuredPoster(url: string, http: PrometheusHttpClientConfig, timeoutMs: number, what: string): HttpPoster {
  const headers = (): Record<string, string> => {
    const value = authorization(http);
    return value !== undefined ? { Authorization: value } : {};
  };
  return new HttpPoster(url, { timeoutMs, tls: tlsConnectOptions(http.tls, `${what}: http_config.tls_config`), headers });
}

/** Go's `HTTP status 400 Bad Request`, as Prometheus and Thanos write a response's status in errors. */
export function statusText(status: number): string {
  const text = STATUS_CODES[status];
  return text !== undefined ? `${status} ${text}` : String(status);
}

/** A URL as Go's url.URL.Redacted() prints it: a password replaced by `xxxxx`. */
export function redactedUrl(url: URL): string {
  if (url.password === '') return url.href;
  const copy = new URL(url.href);
  copy.password = 'xxxxx';
  return copy.href;
}
