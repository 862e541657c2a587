/** Errors raised while evaluating a query, with Prometheus' wording. */

/** An error in the query's data or arguments (Prometheus' errorType "execution"). */
export class EvalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvalError';
  }
}

export class TooManySamplesError extends EvalError {
  constructor() {
    super('query processing would load too many samples into memory in query execution');
    this.name = 'TooManySamplesError';
  }
}

export class QueryTimeoutError extends Error {
  constructor(where: string) {
    super(`query timed out in ${where}`);
    this.name = 'QueryTimeoutError';
  }
}

export class QueryCanceledError extends Error {
  constructor(where: string) {
    super(`query was canceled in ${where}`);
    this.name = 'QueryCanceledError';
  }
}

export const DUPLICATE_LABELSET = 'vector cannot contain metrics with the same labelset';
