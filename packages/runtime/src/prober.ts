import type { Registry } from 'prom-client';
import { Gauge } from 'prom-client';

/**
 * Health and readiness of a component, as Thanos' prober: healthy once started, ready once it can
 * serve (e.g. after the first bucket sync, or while Prometheus answers). Both are exported as
 * `strata_status{component, check}` so alerts can see them.
 */
export class Prober {
  #healthy = false;
  #ready = false;
  #notReadyReason = 'starting';
  readonly #gauge: Gauge<'component' | 'check'> | undefined;

  constructor(
    readonly component: string,
    registry?: Registry,
  ) {
    if (registry) {
      this.#gauge = new Gauge({
        name: 'strata_status',
        help: 'Represents status (0 indicates failure, 1 indicates success) of the component.',
        labelNames: ['component', 'check'],
        registers: [registry],
        // Of a component in several worker processes: ready (1) only where every worker is.
        aggregator: 'min',
      });
      this.#update();
    }
  }

  healthy(): void {
    this.#healthy = true;
    this.#update();
  }

  ready(): void {
    this.#ready = true;
    this.#notReadyReason = '';
    this.#update();
  }

  notReady(reason: string): void {
    this.#ready = false;
    this.#notReadyReason = reason;
    this.#update();
  }

  notHealthy(): void {
    this.#healthy = false;
    this.#update();
  }

  isHealthy(): boolean {
    return this.#healthy;
  }

  isReady(): boolean {
    return this.#ready;
  }

  get notReadyReason(): string {
    return this.#notReadyReason;
  }

  #update(): void {
    this.#gauge?.set({ component: this.component, check: 'healthy' }, this.#healthy ? 1 : 0);
    this.#gauge?.set({ component: this.component, check: 'ready' }, this.#ready ? 1 : 0);
  }
}
