import { readFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import { readKeyFile } from '../hosts/ssh/key-file.js';
import { checkHostKey, knownKeyTypes, parseKnownHosts, type HostKeyVerdict } from '../hosts/ssh/known-hosts.js';
import type { ResolvedConfig } from '../model/config.js';
import { BillboardError, errorLine } from '../model/errors.js';

// The client side of `--connect`: an SSH connection to a `billboard serve`, authenticated with an identity file or
// ssh-agent, and only to a service whose host key is in known_hosts (never an unknown one, as the host drivers do).

export const DEFAULT_SERVE_PORT = 7448;

export interface ConnectTarget {
  user: string;
  host: string;
  port: number;
  identityFile?: string;
  knownHostsFile: string;
}

export interface ConnectFlags {
  connect?: string;
  identity?: string;
  knownHosts?: string;
}

/** the operating-system user running billboard (the default actor and SSH user) */
export function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER || 'unknown';
  }
}

/** [USER@]HOST[:PORT] (an IPv6 address in brackets) → its parts; USAGE when it is not that */
export function parseTarget(s: string): { user: string; host: string; port: number } {
  const m = /^(?:([A-Za-z0-9][A-Za-z0-9._-]*)@)?(\[[0-9A-Fa-f:.]+\]|[^\s@:[\]]+)(?::(\d{1,5}))?$/.exec(s);
  const port = m?.[3] ? Number(m[3]) : DEFAULT_SERVE_PORT;
  if (!m || port < 1 || port > 65535) throw new BillboardError('USAGE', `--connect ${s}: expected [USER@]HOST[:PORT]`);
  return { user: m[1] ?? osUser(), host: m[2]!.replace(/^\[|\]$/g, ''), port };
}

/** where to attach: the flags, else the config's client.*; undefined = embedded */
export function connectTarget(flags: ConnectFlags, config: ResolvedConfig | undefined): ConnectTarget | undefined {
  const spec = flags.connect ?? config?.client?.connect;
  if (!spec) {
    if (flags.identity || flags.knownHosts) throw new BillboardError('USAGE', '--identity and --known-hosts go with --connect');
    return undefined;
  }
  const t = parseTarget(spec);
  const identityFile = flags.identity ?? config?.client?.identityFile;
  const home = process.env.HOME || homedir();
  return {
    ...t,
    ...(identityFile ? { identityFile } : {}),
    knownHostsFile: flags.knownHosts ?? config?.client?.knownHostsFile ?? join(home, '.ssh', 'known_hosts'),
  };
}

/** `target` as the header and errors name it */
export const targetName = (t: ConnectTarget) => `${t.user}@${t.host}:${t.port}`;

export async function sshConnect(t: ConnectTarget, timeoutMs = 15_000): Promise<ssh2.Client> {
  let knownText: string;
  try {
    knownText = await readFile(t.knownHostsFile, 'utf8');
  } catch (e) {
    throw new BillboardError('CONFIG', `cannot read known_hosts file ${t.knownHostsFile}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  const known = parseKnownHosts(knownText);
  const cfg: ssh2.ConnectConfig = { host: t.host, port: t.port, username: t.user, readyTimeout: timeoutMs, tryKeyboard: false };
  if (t.identityFile) {
    try {
      cfg.privateKey = await readKeyFile(t.identityFile);
    } catch (e) {
      throw new BillboardError('CONFIG', errorLine(e));
    }
  } else if (process.env.SSH_AUTH_SOCK) cfg.agent = process.env.SSH_AUTH_SOCK;
  else throw new BillboardError('USAGE', '--connect needs --identity FILE (or client.identityFile) or an ssh-agent (SSH_AUTH_SOCK)');
  const preferred = knownKeyTypes(known, t.host, t.port);
  if (preferred.length) cfg.algorithms = { serverHostKey: { prepend: preferred } as never };
  let verdict: HostKeyVerdict | undefined;
  cfg.hostVerifier = (key: Buffer) => (verdict = checkHostKey(known, t.host, t.port, key, t.knownHostsFile)).ok;
  const client = new ssh2.Client();
  return new Promise((resolve, reject) => {
    let ready = false;
    client.on('ready', () => {
      ready = true;
      client.setNoDelay(true); // commands and keys are small writes that wait for their answer: no Nagle delay
      resolve(client);
    });
    client.on('error', (e: Error & { level?: string }) => {
      if (ready) return;
      const where = targetName(t);
      if (verdict && !verdict.ok) return reject(new BillboardError('REFUSED', verdict.message));
      if (e.level === 'client-authentication') {
        return reject(
          new BillboardError(
            'REFUSED',
            `${where}: the service refused ${t.identityFile ? `the key in ${t.identityFile}` : 'the ssh-agent keys'}`,
          ),
        );
      }
      reject(new BillboardError('HOST_DOWN', `cannot connect to the service at ${where}: ${e.message}`));
    });
    client.connect(cfg);
  });
}

/** run `command` on the service; the channel is the command's stdin/stdout (stderr on channel.stderr) */
export function execChannel(client: ssh2.Client, command: string): Promise<ssh2.ClientChannel> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, ch) =>
      err ? reject(new BillboardError('HOST_ERROR', `the service refused ${command}: ${err.message}`)) : resolve(ch),
    );
  });
}

/** the `api` stream of a fresh connection: closing the stream closes the connection */
export async function openApi(t: ConnectTarget, readOnly = false): Promise<Duplex> {
  const client = await sshConnect(t);
  client.on('error', () => {});
  const ch = await execChannel(client, readOnly ? 'api --read-only' : 'api');
  ch.on('close', () => client.end());
  return ch;
}
