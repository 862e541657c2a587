/**
 * Prometheus' API error types and their HTTP status codes (web/api/v1/api.go): the envelope is
 * `{"status":"error","errorType":"bad_data","error":"…"}`.
 */
export type ErrorType = 'bad_data' | 'execution' | 'timeout' | 'canceled' | 'internal' | 'not_found' | 'unavailable';

export const STATUS_OF: Record<ErrorType, number> = {
  bad_data: 400,
  execution: 422,
  timeout: 503,
  canceled: 503,
  internal: 500,
  not_found: 404,
  unavailable: 500,
};

export class ApiError extends Error {
  constructor(
    readonly type: ErrorType,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** `invalid parameter "name": reason`, as Prometheus words bad parameters. */
export function invalidParam(name: string, reason: string): ApiError {
  return new ApiError('bad_data', `invalid parameter ${JSON.stringify(name)}: ${reason}`);
}
