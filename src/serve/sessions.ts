import { childEnv } from '../model/child-env.js';
import { spawn } from 'node:child_process';
import { PassThrough, type Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type ssh2 from 'ssh2';
import type { ConsoleApi } from '../console/api.js';
import type { Console } from '../console/console.js';
import type { Runtime } from '../console/runtime.js';
import type { MigrationService } from '../console/services.js';
import { admitSession } from './admit-session.js';
import { serveApi } from './api-session.js';
import type { Feed } from './feed.js';
import type { Operator } from './operators.js';
import type { SessionRequest } from './ssh-endpoint.js';

// What an attached session does: `script [--json] [--stop-on-error] [--read-only]` runs the grammar from the
// channel, `api` serves the feed to `billboard --connect`, and a shell (with a pty) is the console, rendered by a
// child process per session so that no operator's screen slows the service. Every session acts under its operator's
// name and role; a command runs to its end, and is audited, even when its client goes away.

export type ScriptRunner = (
  target: { console: Pick<ConsoleApi, 'run' | 'jobs'>; migrations: Pick<MigrationService, 'watch'> },
  opts: {
    json: boolean;
    stopOnError: boolean;
    input: NodeJS.ReadableStream;
    out: (s: string) => void;
    err: (s: string) => void;
    settle: boolean;
  },
) => Promise<number>;

export interface SessionDeps {
  runtime: Runtime;
  feed: Feed;
  log: Logger;
  runScript: ScriptRunner;
  consoleChild: string[];
  console: (op: Operator, readOnly: boolean) => Console;
}

/** bytes queued for a client that does not read before it is dropped */
export const MAX_CLIENT_BUFFER = 4 * 1024 * 1024;
/** the feed's whole state for a big lab goes through the pipe to a console child at once */
const MAX_CHILD_BUFFER = 64 * 1024 * 1024;

const USAGE =
  'this service runs `script [--json] [--stop-on-error] [--read-only]` (the grammar on stdin), `api` (for ' +
  '`billboard --connect`), or, with `ssh -t`, the console';

function finish(channel: ssh2.ServerChannel, code: number): void {
  if (channel.destroyed) return;
  channel.exit(code);
  channel.end();
}

function refuse(channel: ssh2.ServerChannel, message: string): void {
  channel.stderr.write(`billboard: ${message}\n`);
  finish(channel, 2);
}

export function runSession(op: Operator, req: SessionRequest, deps: SessionDeps): void {
  const channel = req.channel;
  channel.on('error', () => {});
  if (req.kind === 'shell') {
    if (!req.pty) return refuse(channel, 'the console needs a terminal: ssh -t …; ' + USAGE);
    return consoleSession(op, req, deps);
  }
  const words = (req.command ?? '').trim().split(/\s+/).filter(Boolean);
  const flags = new Set(words.slice(1));
  const known = words[0] === 'script' ? ['--json', '--stop-on-error', '--read-only'] : ['--read-only'];
  const unknown = [...flags].find((f) => !known.includes(f));
  if (words[0] === 'admit') return admitSession(op, channel, req.command ?? '', deps);
  if (words[0] !== 'script' && words[0] !== 'api') return refuse(channel, `unknown command "${words[0] ?? ''}": ${USAGE}`);
  if (unknown)
    return refuse(channel, `${words[0]}: unknown option ${unknown}${unknown === '--actor' ? ' (the actor is who you attached as)' : ''}`);
  const con = deps.console(op, flags.has('--read-only'));
  const unsubscribe = con.subscribe(() => deps.feed.poke());
  const done = () => {
    unsubscribe();
    con.dispose();
  };
  if (words[0] === 'api') {
    apiSession(op, channel, con, deps, flags.has('--read-only'));
    channel.on('close', done);
    return;
  }
  void scriptSession(op, channel, con, deps, { json: flags.has('--json'), stopOnError: flags.has('--stop-on-error') }).finally(done);
}

function apiSession(op: Operator, stream: Duplex, con: Console, deps: SessionDeps, readOnly: boolean, maxBuffer = MAX_CLIENT_BUFFER): void {
  serveApi(
    stream,
    con,
    deps.feed,
    { actor: op.name, role: op.role, readOnly, service: 'billboard' },
    { maxBuffer, onDrop: (why) => deps.log.warn({ operator: op.name, why }, 'attached console dropped') },
  );
}

async function scriptSession(
  op: Operator,
  channel: ssh2.ServerChannel,
  con: Console,
  deps: SessionDeps,
  o: { json: boolean; stopOnError: boolean },
) {
  let dropped = false;
  const bounded = (w: { write(s: string): unknown; writableLength: number }) => (s: string) => {
    if (dropped || channel.destroyed) return;
    if (w.writableLength + channel.writableLength > MAX_CLIENT_BUFFER) {
      dropped = true;
      deps.log.warn({ operator: op.name }, 'script client not reading: dropped (running commands finish and are audited)');
      channel.destroy();
      return;
    }
    w.write(s);
  };
  // the runner's reader ends its stream when the input ends: give it its own, so the channel stays open for the exit code
  const input = new PassThrough();
  channel.pipe(input);
  channel.on('close', () => input.end());
  let code = 1;
  try {
    code = await deps.runScript(
      { console: con, migrations: deps.runtime.migrations },
      { ...o, input, out: bounded(channel), err: bounded(channel.stderr), settle: false },
    );
  } catch (e) {
    deps.log.debug({ operator: op.name, err: String(e) }, 'script session ended early');
  }
  finish(channel, code);
}

function consoleSession(op: Operator, req: SessionRequest, deps: SessionDeps): void {
  const channel = req.channel;
  const pty = req.pty!;
  const [cmd, ...args] = deps.consoleChild;
  // the child gets a minimal environment (never the service's, which holds the store key) and its settings as argv
  const size = `--size=${pty.cols}x${pty.rows}`;
  const target = `--target=service ${deps.runtime.ctx.config.serve.listen}`;
  const term = /^[A-Za-z0-9._-]{1,64}$/.test(pty.term) ? pty.term : 'xterm';
  const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...(process.env.NO_COLOR ? { NO_COLOR: process.env.NO_COLOR } : {}) };
  const child = spawn(cmd!, [...args, size, target], {
    stdio: ['pipe', 'pipe', 'ignore', 'pipe', 'pipe'],
    env: childEnv({ TERM: term }, base),
  });
  const con = deps.console(op, false);
  const unsubscribe = con.subscribe(() => deps.feed.poke());
  apiSession(op, child.stdio[3] as Duplex, con, deps, false, MAX_CHILD_BUFFER);
  const control = child.stdio[4] as Duplex;
  control.on('error', () => {});
  req.onResize((cols, rows) => control.write(JSON.stringify({ cols, rows }) + '\n'));
  channel.pipe(child.stdin!).on('error', () => {});
  child.stdout!.on('data', (d: Buffer) => {
    if (channel.destroyed) return;
    if (channel.writableLength > MAX_CLIENT_BUFFER) {
      deps.log.warn({ operator: op.name }, 'console client not reading: dropped');
      child.kill('SIGTERM');
      channel.destroy();
      return;
    }
    channel.write(d);
  });
  child.on('exit', (code) => {
    unsubscribe();
    con.dispose();
    deps.feed.poke();
    finish(channel, code ?? 1);
  });
  channel.on('close', () => child.kill('SIGTERM'));
}
