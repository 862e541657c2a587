import type { FrontendMetrics } from './metrics.js';

/** What the downstream querier answered. */
export interface DownstreamAnswer {
  readonly status: number;
  readonly contentType: string;
  /** Its headers that go back to the client (Location, Cache-Control, WWW-Authenticate…). */
  readonly headers: readonly [string, string][];
  readonly body: Buffer;
}

/** Response headers not passed back: the connection's own, and what the body as read no longer has (it was decoded). */
const NOT_PASSED_BACK = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'content-type', 'date']);

/** A request to the downstream querier: `path` with its query string, under the downstream URL's path. */
export interface DownstreamRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
  readonly signal?: AbortSignal;
}

/**
 * The querier the frontend stands in front of (Thanos' --query-frontend.downstream-url), over HTTP.
 * A request that gets a 5xx answer or none is sent again, up to `maxRetries` times in all (Thanos'
 * --query-range.max-retries-per-request); the last answer or error is the result. It is asked for
 * uncompressed answers: the frontend reads them, and compresses its own.
 */
export class Downstream {
  readonly #base: URL;
  /** The request headers sent on (lower case), besides the body's content type; undefined: all. */
  readonly #forward: ReadonlySet<string> | undefined;

  /** `forwardHeaders`: only these of a request's headers are sent on (Thanos' --query-frontend.forward-header). */
  constructor(
    url: string,
    private readonly maxRetries: number,
    private readonly metrics: FrontendMetrics,
    forwardHeaders?: readonly string[],
  ) {
    this.#base = new URL(url);
    this.#forward = forwardHeaders !== undefined && forwardHeaders.length > 0 ? new Set(['content-type', ...forwardHeaders.map((h) => h.toLowerCase())]) : undefined;
  }

  async send(req: DownstreamRequest): Promise<DownstreamAnswer> {
    const url = new URL(this.#base.pathname.replace(/\/$/, '') + req.path, this.#base);
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= this.maxRetries;
      const timer = this.metrics.downstreamDuration.startTimer();
      try {
        const res = await fetch(url, {
          method: req.method,
          headers: { ...this.#forwarded(req.headers), 'accept-encoding': 'identity' },
          // A redirect (the UI's `/` to `/graph`) is the client's to follow, at the frontend's address.
          redirect: 'manual',
          ...(req.body !== undefined && req.method !== 'GET' && req.method !== 'HEAD' ? { body: req.body } : {}),
          ...(req.signal !== undefined ? { signal: req.signal } : {}),
        });
        const body = Buffer.from(await res.arrayBuffer());
        timer();
        this.metrics.downstreamRequests.inc({ code: String(res.status) });
        if (res.status < 500 || last) {
          const headers = [...res.headers].filter(([name]) => !NOT_PASSED_BACK.has(name));
          return { status: res.status, contentType: res.headers.get('content-type') ?? 'application/json', headers, body };
        }
      } catch (e) {
        timer();
        this.metrics.downstreamRequests.inc({ code: '0' });
        if (last || req.signal?.aborted === true) throw e;
      }
      this.metrics.downstreamRetries.inc();
    }
  }

  #forwarded(headers: Readonly<Record<string, string>>): Record<string, string> {
    const allowed = this.#forward;
    return allowed === undefined ? { ...headers } : Object.fromEntries(Object.entries(headers).filter(([name]) => allowed.has(name.toLowerCase())));
  }
}
