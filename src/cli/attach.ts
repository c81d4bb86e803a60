import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { BillboardError, errorLine } from '../model/errors.js';
import { RemoteConsole } from '../serve/remote-console.js';
import { execChannel, openApi, sshConnect, targetName, type ConnectTarget } from './connect.js';

// The consoles that attach to a service: `script --connect` (the service runs the grammar; this side only carries
// stdin, stdout, stderr and the exit code), `billboard --connect` (the TUI renders here from the feed) and the
// console child the service starts for an `ssh -t` session (the TUI over pipes to the service).

/** a connect error (refused key, unknown service key, no route) is exit 2, as DESIGN.md's exit codes say */
function fail(e: unknown): number {
  process.stderr.write(`billboard: ${errorLine(e)}\n`);
  return 2;
}

export interface AttachedScriptOptions {
  json: boolean;
  stopOnError: boolean;
  readOnly: boolean;
}

/** `script --connect`: stdin to the service's `script`, its output here; exit code as the service says */
export async function runScriptAttached(t: ConnectTarget, o: AttachedScriptOptions): Promise<number> {
  try {
    const client = await sshConnect(t);
    client.on('error', () => {});
    const flags = [o.json ? ' --json' : '', o.stopOnError ? ' --stop-on-error' : '', o.readOnly ? ' --read-only' : ''].join('');
    const ch = await execChannel(client, `script${flags}`);
    return await new Promise<number>((resolve) => {
      let code: number | undefined;
      ch.on('exit', (c: number | null) => (code = c ?? undefined));
      ch.pipe(process.stdout, { end: false });
      ch.stderr.pipe(process.stderr, { end: false });
      process.stdin.pipe(ch);
      ch.on('close', () => {
        process.stdin.unpipe(ch);
        process.stdin.pause();
        client.end();
        if (code === undefined) process.stderr.write(`billboard: the connection to ${targetName(t)} ended before the script did\n`);
        resolve(code ?? 2);
      });
    });
  } catch (e) {
    return fail(e);
  }
}

/** `billboard --connect`: the console, rendered here, over the service's feed; it reconnects by itself */
export async function runTuiAttached(t: ConnectTarget, o: { readOnly: boolean }): Promise<number> {
  const tui = import('../tui/app.js');
  tui.catch(() => {});
  const remote = new RemoteConsole({
    connect: () => openApi(t, o.readOnly),
    target: `service ${t.host}:${t.port}`,
    reconnect: true,
  });
  try {
    await remote.start();
  } catch (e) {
    remote.close();
    return fail(e);
  }
  try {
    const { runTui } = await tui;
    return await runTui(remote, { readOnly: o.readOnly || remote.readOnly, noColor: !!process.env.NO_COLOR });
  } finally {
    remote.close();
  }
}

/** fd 3: the api stream; fd 4: the client's terminal size; stdin/stdout: the SSH channel (its client has the pty) */
export async function runConsoleChild(opts: { size: string; target: string }): Promise<number> {
  const [cols, rows] = opts.size.split('x').map(Number);
  const stdout = process.stdout as NodeJS.WriteStream & { columns: number; rows: number };
  const stdin = process.stdin as NodeJS.ReadStream;
  // the SSH client's terminal is the TTY: this side has pipes, so it says it is one and writes as a terminal expects
  Object.assign(stdout, { isTTY: true, columns: cols || 80, rows: rows || 24 });
  Object.assign(stdin, { isTTY: true, setRawMode: () => stdin });
  const write = stdout.write.bind(stdout) as (c: unknown, ...rest: unknown[]) => boolean;
  stdout.write = ((c: unknown, ...rest: unknown[]) =>
    write(typeof c === 'string' ? c.replace(/\r?\n/g, '\r\n') : c, ...rest)) as typeof stdout.write;
  const control = new Socket({ fd: 4, readable: true, writable: false });
  control.setEncoding('utf8').on('data', (d: string) => {
    for (const line of d.split('\n')) {
      const m = /^\{"cols":(\d{1,4}),"rows":(\d{1,4})\}$/.exec(line.trim());
      if (!m) continue;
      Object.assign(stdout, { columns: Number(m[1]), rows: Number(m[2]) });
      stdout.emit('resize');
    }
  });
  control.on('error', () => {});
  const api: Duplex = new Socket({ fd: 3, readable: true, writable: true });
  const remote = new RemoteConsole({
    connect: async () => api,
    target: opts.target,
    reconnect: false,
    onFatal: () => process.exit(0),
  });
  const tui = import('../tui/app.js');
  try {
    await remote.start();
  } catch (e) {
    throw new BillboardError('INTERNAL', `console child: ${errorLine(e)}`);
  }
  const { runTui } = await tui;
  const code = await runTui(remote, { readOnly: remote.readOnly, noColor: !!process.env.NO_COLOR });
  control.destroy();
  api.destroy();
  return code;
}
