import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import ssh2 from 'ssh2';
import { sshFingerprint } from '../hosts/ssh/known-hosts.js';
import { BillboardError } from '../model/errors.js';
import type { Operator, OperatorDirectory } from './operators.js';

// The service's SSH server: public-key authentication only, against the config's operators (the SSH user name must
// be the operator's name); an unknown key is refused and logged with its fingerprint. A session may ask for one
// exec command, or a shell (the console) after a pty. What a session then does is the service's (service.ts).

export interface SessionRequest {
  kind: 'exec' | 'shell';
  command?: string;
  pty?: { term: string; cols: number; rows: number };
  channel: ssh2.ServerChannel;
  /** window-change events of this session (the console follows the client's terminal size) */
  onResize(fn: (cols: number, rows: number) => void): void;
}

export interface SshEndpointOptions {
  listen: string;
  hostKey: Buffer;
  operators: () => OperatorDirectory;
  log: Logger;
  /** connections at once; more are refused at accept */
  maxConnections: number;
  onSession: (op: Operator, req: SessionRequest, conn: ssh2.Connection) => void;
  onClient?: (op: Operator, conn: ssh2.Connection) => void;
}

/** seconds a connection has to authenticate */
const AUTH_TIMEOUT_MS = 20_000;

export interface SshEndpoint {
  address: { address: string; port: number };
  close(): Promise<void>;
}

function authenticate(ctx: ssh2.AuthContext, opts: SshEndpointOptions, remote: string, done: (op: Operator) => void): void {
  if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
  const found = opts.operators().find(ctx.key.data);
  const fp = sshFingerprint(ctx.key.data);
  if (!found || found.operator.name !== ctx.username) {
    opts.log.warn({ remote, user: ctx.username, fingerprint: `${ctx.key.algo} ${fp}`, known: !!found }, 'ssh key refused');
    return ctx.reject(['publickey']);
  }
  if (!ctx.signature || !ctx.blob) return ctx.accept(); // the client asks whether this key would do; it signs next
  const ok = found.key.verify(ctx.blob, ctx.signature, ctx.hashAlgo);
  if (ok !== true) {
    opts.log.warn({ remote, user: ctx.username, fingerprint: fp }, 'ssh signature refused');
    return ctx.reject(['publickey']);
  }
  done(found.operator);
  ctx.accept();
}

function sessions(conn: ssh2.Connection, op: Operator, opts: SshEndpointOptions): void {
  conn.on('session', (accept) => {
    const session = accept();
    let pty: SessionRequest['pty'];
    let started = false;
    const resize: ((c: number, r: number) => void)[] = [];
    const start = (kind: SessionRequest['kind'], channel: ssh2.ServerChannel, command?: string) => {
      started = true;
      opts.onSession(op, { kind, command, pty, channel, onResize: (fn) => resize.push(fn) }, conn);
    };
    session.on('pty', (acc, _rej, info) => {
      pty = { term: String(info.term || 'xterm'), cols: info.cols || 80, rows: info.rows || 24 };
      acc?.();
    });
    session.on('window-change', (acc, _rej, info) => {
      acc?.();
      for (const fn of resize) fn(info.cols, info.rows);
    });
    session.on('env', (acc) => acc?.());
    session.on('exec', (acc, rej, info) => (started ? rej?.() : start('exec', acc(), info.command)));
    session.on('shell', (acc, rej) => (started ? rej?.() : start('shell', acc())));
    for (const refused of ['subsystem', 'sftp', 'x11', 'auth-agent', 'signal'] as const) {
      session.on(refused as 'subsystem', (_acc, rej) => rej?.());
    }
  });
  conn.on('tcpip', (_acc, rej) => rej());
  conn.on('request', (_acc, rej) => rej?.());
}

export function startSshEndpoint(opts: SshEndpointOptions): Promise<SshEndpoint> {
  let open = 0;
  const server = new ssh2.Server({ hostKeys: [opts.hostKey], ident: 'billboard' }, (conn, info) => {
    const remote = `${info.ip}:${info.port}`;
    // no Nagle: an SSH exchange is a string of small packets, and each would wait on the client's delayed ACK (about
    // 90 ms per `ssh … admit` on loopback, added to every `virsh start` behind a hook). ssh2's typings omit the method.
    (conn as unknown as { setNoDelay(on: boolean): void }).setNoDelay(true);
    open++;
    conn.on('close', () => open--);
    conn.on('error', (e) => opts.log.debug({ remote, err: e.message }, 'ssh connection error'));
    if (open > opts.maxConnections) {
      opts.log.warn({ remote, open }, 'ssh connection refused: too many connections');
      return conn.end();
    }
    const authTimer = setTimeout(() => conn.end(), AUTH_TIMEOUT_MS);
    let op: Operator | undefined;
    conn.on('authentication', (ctx) => authenticate(ctx, opts, remote, (o) => (op = o)));
    conn.on('ready', () => {
      clearTimeout(authTimer);
      if (!op) return conn.end();
      opts.log.info({ remote, operator: op.name, role: op.role }, 'operator attached');
      opts.onClient?.(op, conn);
      sessions(conn, op, opts);
    });
    conn.on('close', () => clearTimeout(authTimer));
  });
  const [host, port] = [opts.listen.slice(0, opts.listen.lastIndexOf(':')), Number(opts.listen.slice(opts.listen.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    server.once('error', (e: Error) => reject(new BillboardError('CONFIG', `serve.listen ${opts.listen}: ${e.message}`)));
    server.listen(port, host, () => {
      const a = server.address() as AddressInfo;
      resolve({
        address: { address: a.address, port: a.port },
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}
