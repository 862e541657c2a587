import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The receive handler's metrics, as Thanos' (thanos_receive_write_*), by answer code and tenant. */
export class ReceiveMetrics {
  readonly #timeseries: Histogram<'code' | 'tenant'>;
  readonly #samples: Histogram<'code' | 'tenant'>;

  constructor(registry: Registry) {
    const common = { labelNames: ['code', 'tenant'] as const, buckets: [10, 50, 100, 500, 1000, 5000, 10000], registers: [registry] };
    this.#timeseries = new Histogram({ name: 'thanos_receive_write_timeseries', help: 'The number of timeseries received in the incoming write requests.', ...common });
    this.#samples = new Histogram({ name: 'thanos_receive_write_samples', help: 'The number of sampled received in the incoming write requests.', ...common });
  }

  /** A request's valid series and their float samples. */
  observe(tenant: string, code: number, series: number, samples: number): void {
    const labels = { code: String(code), tenant };
    this.#timeseries.observe(labels, series);
    this.#samples.observe(labels, samples);
  }
}

/** A router's forwarded writes, as Thanos' handler counts them. */
export class RouterMetrics {
  readonly #forwards: Counter<'result'>;
  readonly #replications: Counter<'result'>;

  constructor(registry: Registry, replicationFactor: number) {
    new Gauge({ name: 'thanos_receive_replication_factor', help: 'The number of times to replicate incoming write requests.', registers: [registry] }).set(replicationFactor);
    this.#forwards = new Counter({ name: 'thanos_receive_forward_requests_total', help: 'The number of forward requests.', labelNames: ['result'], registers: [registry] });
    this.#replications = new Counter({ name: 'thanos_receive_replications_total', help: 'The number of replication operations done by the receiver. The success of replication is fulfilled when a quorum is met.', labelNames: ['result'], registers: [registry] });
    for (const result of ['success', 'error']) {
      this.#forwards.inc({ result }, 0);
      this.#replications.inc({ result }, 0);
    }
  }

  /** A write forwarded to a peer; `replicating`: a new write's copy (not one forwarded to this receiver). */
  forwarded(result: 'success' | 'error', replicating: boolean): void {
    this.#forwards.inc({ result });
    if (replicating) this.#replications.inc({ result });
  }
}
