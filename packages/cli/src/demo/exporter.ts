import { createServer, type Server } from 'node:http';
import { parseAddress } from '@strata/runtime';
import { DemoModel } from './model.js';
import { textExposition } from './exposition.js';

export interface DemoExporter {
  /** `host:port` actually bound; also the instance name seeding the model. */
  readonly address: string;
  stop(): Promise<void>;
}

/** Serves the demo service's metrics at `/metrics` for the time of each scrape. */
export async function startDemoExporter(listenAddress: string, instance?: string): Promise<DemoExporter> {
  const { host, port } = parseAddress(listenAddress);
  let model: DemoModel | undefined;
  const server: Server = createServer((req, res) => {
    if (req.url === '/metrics' || req.url?.startsWith('/metrics?')) {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(textExposition((model as DemoModel).samples(Date.now())));
    } else if (req.url === '/-/healthy' || req.url === '/-/ready') {
      res.writeHead(200).end('OK\n');
    } else {
      res.writeHead(404).end('Not found. Metrics are at /metrics.\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const address = typeof addr === 'object' && addr !== null ? `${host}:${addr.port}` : listenAddress;
  model = new DemoModel(instance ?? address);
  return {
    address,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
