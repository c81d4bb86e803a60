// A real HTTP receiver on loopback for the alert tests: it records every POST and answers as the test scripts it
// (a status, or no answer at all until the client gives up).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Answer = number | 'hang';

export interface Received {
  at: number;
  headers: IncomingMessage['headers'];
  body: string;
  json: Record<string, unknown>;
  answered: Answer;
}

export class AlertReceiver {
  readonly received: Received[] = [];
  /** answers for the next requests, in order; then `otherwise` */
  script: Answer[] = [];
  otherwise: Answer = 200;
  private server: Server | undefined;
  private readonly hung = new Set<ServerResponse>();
  private waiters: (() => void)[] = [];

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const answered = this.script.length ? this.script.shift()! : this.otherwise;
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(body) as Record<string, unknown>;
        } catch {
          // recorded as is
        }
        this.received.push({ at: Date.now(), headers: req.headers, body, json, answered });
        for (const w of this.waiters.splice(0)) w();
        if (answered === 'hang') {
          this.hung.add(res);
          res.on('close', () => this.hung.delete(res));
          return;
        }
        res.writeHead(answered, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  /** resolves once pred holds over what was received (checked on every arrival), rejects after ms */
  async waitFor(pred: (r: Received[]) => boolean, ms = 10_000): Promise<void> {
    const until = Date.now() + ms;
    while (!pred(this.received)) {
      const left = until - Date.now();
      if (left <= 0) throw new Error(`receiver: condition not met within ${ms} ms (${this.received.length} received)`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async stop(): Promise<void> {
    for (const res of this.hung) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
