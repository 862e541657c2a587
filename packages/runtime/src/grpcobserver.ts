/** A gRPC call as the StoreAPI server describes it to its observers. */
export interface GrpcCallInfo {
  /** The client's `host:port`. */
  peer: string;
}

/** Receives the gRPC server's per-call events (the StoreAPI server's observer hook). */
export interface GrpcServerObserver {
  started(service: string, method: string, call: GrpcCallInfo): void;
  /** `details` is the status message ('' when OK). */
  handled(service: string, method: string, code: string, seconds: number, call: GrpcCallInfo, details: string): void;
}

/** A StoreAPI method's gRPC type: Info, LabelNames and LabelValues are unary; the others stream their answers. */
export function grpcMethodType(method: string): 'unary' | 'server_stream' {
  return method === 'Info' || method === 'LabelNames' || method === 'LabelValues' ? 'unary' : 'server_stream';
}

/** One observer that passes each event to all of `observers`. */
export function observeAll(...observers: GrpcServerObserver[]): GrpcServerObserver {
  if (observers.length === 1) return observers[0] as GrpcServerObserver;
  return {
    started: (service, method, call) => {
      for (const o of observers) o.started(service, method, call);
    },
    handled: (service, method, code, seconds, call, details) => {
      for (const o of observers) o.handled(service, method, code, seconds, call, details);
    },
  };
}
