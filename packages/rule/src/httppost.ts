import { STATUS_CODES } from 'node:http';
import type { ConnectionOptions } from 'node:tls';
import { Http1Client } from '@strata/objstore';

/** What a POST got back: the status, the headers (names lower-cased) and the whole body. */
export interface PostResult {
  status: number;
  headers: ReadonlyMap<string, string>;
  body: Buffer;
}

/**
 * POSTs to one URL (a remote-write endpoint, an Alertmanager's alerts API) over kept-alive connections,
 * each request bounded by `timeoutMs`. `headers` is asked for every request, so that credentials read from
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
  async post(body: Buffer, headers: Record<string, string>, signal?: AbortSignal): Promise<PostResult> {
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
      const res = await this.#client.request('POST', this.#path, { ...this.#headers(), ...headers }, body, ac.signal);
      const pieces: Buffer[] = [];
      for await (const piece of res.body) pieces.push(Buffer.from(piece));
      return { status: res.status, headers: res.headers, body: Buffer.concat(pieces) };
    } catch (e) {
      if (timedOut) throw new Error(`Post "${redactedUrl(this.url)}": timeout after ${this.#timeoutMs} ms`);
      throw new Error(`Post "${redactedUrl(this.url)}": ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }
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
