/** Errors of histogram arithmetic, as types the PromQL engine can map to its warnings. */

/**
 * An operation on a histogram with exponential buckets and one with custom buckets (Prometheus'
 * ErrHistogramsIncompatibleSchema); PromQL reports "vector contains a mix of histograms with
 * exponential and custom buckets schemas".
 */
export class IncompatibleSchemaError extends Error {
  constructor() {
    super('cannot apply this operation on histograms with a mix of exponential and custom bucket schemas');
    this.name = 'IncompatibleSchemaError';
  }
}
