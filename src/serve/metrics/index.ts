import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BillboardError, errorLine } from '../../model/errors.js';
import { buildRegistry, type MetricsSources } from './registry.js';

export type { MetricsSources } from './registry.js';

export interface MetricsServer {
  address: string;
  port: number;
  close(): Promise<void>;
}

/** a scrape is small and quick: anything slower is a stuck or hostile client */
const REQUEST_TIMEOUT_MS = 10_000;
const MAX_CONNECTIONS = 64;

/**
 * `serve.metrics`: GET /metrics (Prometheus text format, written by prom-client) and GET /healthz (200 when the
 * store is writable and every listener is up; else 503 with a JSON body that says why). Nothing else is served and
 * no request body is read. Listen on loopback unless a scraper elsewhere needs it: the series name hosts and sinks.
 */
export async function startMetrics(listen: string, sources: MetricsSources): Promise<MetricsServer> {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i);
  const port = Number(listen.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new BillboardError('CONFIG', `serve.metrics: expected HOST:PORT, got "${listen}"`);
  }
  const { registry, detach } = buildRegistry(sources);
  const server = createServer((req, res) => void answer(req, res));
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  server.maxConnections = MAX_CONNECTIONS;

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'text/plain', 'GET only\n', { allow: 'GET, HEAD' });
    try {
      if (path === '/metrics') return reply(res, 200, registry.contentType, await registry.metrics());
      if (path === '/healthz') {
        const h = sources.runtime.alerts.health();
        return reply(res, h.ok ? 200 : 503, 'application/json', JSON.stringify(h) + '\n');
      }
      reply(res, 404, 'text/plain', 'not found: /metrics and /healthz are served here\n');
    } catch (e) {
      reply(res, 500, 'text/plain', `${errorLine(e)}\n`);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new BillboardError('CONFIG', `serve.metrics: cannot listen on ${listen}: ${errorLine(e)}`)));
    server.listen(port, host, () => resolve());
  }).catch((e: unknown) => {
    detach();
    throw e;
  });
  const a = server.address() as AddressInfo;
  sources.runtime.alerts.sessionHealth.addListener('metrics', () => ({ up: server.listening, detail: `http ${a.address}:${a.port}` }));
  return {
    address: a.address,
    port: a.port,
    close: () =>
      new Promise<void>((resolve) => {
        detach();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function reply(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
