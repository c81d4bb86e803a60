import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';
import { readKeyFile } from '../../hosts/ssh/key-file.js';
import { newSshKeyPair } from '../../hosts/ssh/keys.js';
import { sshFingerprint } from '../../hosts/ssh/known-hosts.js';
import { BillboardError, errorLine } from '../../model/errors.js';
import type { AdmissionHookFile } from '../../model/host-driver.js';
import { SHIPPED_HOOK } from '../admission-hooks.js';
import { command, type ConsoleContext } from '../context.js';
import { needScanner, str } from './util.js';

// `hosts install-hook HOST`: the steps of docs/admission.md done over the host's own SSH connection. A fresh key for
// the host is made here, sent once and never kept: the operator entry to add to the config is printed instead.

/** "ssh-ed25519 AAAA…" of the service's host key, for the host's known_hosts */
async function serviceHostKey(ctx: ConsoleContext): Promise<string> {
  const path = ctx.config.hostKeyPath;
  if (!path) throw new BillboardError('CONFIG', 'hosts install-hook: the service has no host key (run `billboard init`)');
  let parsed;
  try {
    parsed = ssh2.utils.parseKey(await readKeyFile(path));
  } catch (e) {
    throw new BillboardError('CONFIG', `hosts install-hook: host key ${path}: ${errorLine(e)} (run \`billboard init\`)`);
  }
  if (parsed instanceof Error) throw new BillboardError('CONFIG', `hosts install-hook: host key ${path}: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0]! : parsed;
  return `${key.type} ${key.getPublicSSH().toString('base64')}`;
}

/** ADDRESS:PORT the host dials: --connect, else serve.listen unless that is a wildcard only the service can read */
function dialTarget(ctx: ConsoleContext, given: string | undefined): { address: string; port: string } {
  const target = given ?? ctx.config.serve.listen;
  const m = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(target);
  if (!m) throw new BillboardError('USAGE', `hosts install-hook: --connect ADDRESS:PORT (got "${target}")`);
  if (!given && /^(0\.0\.0\.0|\[::\])$/.test(m[1]!)) {
    throw new BillboardError(
      'USAGE',
      `hosts install-hook: serve.listen is ${target}: say where the host reaches the service (--connect ADDRESS:PORT)`,
    );
  }
  return { address: m[1]!.replace(/^\[|\]$/g, ''), port: m[2]! };
}

export function hookFiles(o: {
  dir: string;
  host: string;
  address: string;
  port: string;
  unreachable: 'allow' | 'deny';
  timeoutS: number;
  serviceKey: string;
  privateKey: string;
  hook: string;
}): AdmissionHookFile[] {
  const known = o.port === '22' ? o.address : `[${o.address}]:${o.port}`;
  const conf = [
    '# billboard-admit settings, written by `billboard hosts install-hook`; read as KEY=value data, never sourced',
    `TARGET=host-${o.host}@${o.address}:${o.port}`,
    `IDENTITY=${o.dir}/billboard-admit.key`,
    `KNOWN_HOSTS=${o.dir}/billboard-admit.known_hosts`,
    `HOST=${o.host}`,
    `UNREACHABLE=${o.unreachable}`,
    `TIMEOUT=${o.timeoutS}`,
  ];
  return [
    { name: 'billboard-admit.key', mode: 0o600, content: o.privateKey },
    { name: 'billboard-admit.known_hosts', mode: 0o644, content: `${known} ${o.serviceKey}\n` },
    { name: 'billboard-admit.conf', mode: 0o644, content: `${conf.join('\n')}\n` },
    { name: 'qemu', mode: 0o755, content: o.hook },
  ];
}

export const installHook = command({
  name: 'hosts install-hook',
  args: [{ name: 'HOST', required: true }],
  mutating: true,
  flags: {
    connect: { type: 'string', arg: 'ADDRESS:PORT', desc: "where the host reaches the service's SSH endpoint (default serve.listen)" },
    unreachable: {
      type: 'string',
      arg: 'allow|deny',
      desc: 'what the hook does when the service cannot be asked (default admission.unreachable)',
    },
    replace: {
      type: 'boolean',
      desc: 'replace an existing qemu hook that is not billboard-admit (it is kept as qemu.before-billboard.TIME)',
    },
  },
  summary: "install the admission hook on an ssh host over its own connection; prints the host's operator entry",
  examples: ['hosts install-hook lab-a --connect console.lab:7448'],
  run: async (cmd, ctx) => {
    const host = cmd.args[0]!;
    if (!ctx.config.hosts.some((h) => h.name === host))
      throw new BillboardError('NOT_FOUND', `hosts install-hook: no host ${host} in the config`);
    const unreachable = str(cmd.flags.unreachable) ?? ctx.config.admission.unreachable;
    if (unreachable !== 'allow' && unreachable !== 'deny')
      throw new BillboardError('USAGE', 'hosts install-hook: --unreachable is allow or deny');
    const driver = needScanner(ctx).driver(host);
    if (!driver.installAdmissionHook) {
      throw new BillboardError('UNSUPPORTED', `hosts install-hook: ${host} is a ${driver.kind} host; install by hand (docs/admission.md)`);
    }
    const { address, port } = dialTarget(ctx, str(cmd.flags.connect));
    const hook = readFileSync(SHIPPED_HOOK, 'utf8');
    const pair = newSshKeyPair(`host-${host}`);
    const pub = pair.public.trim();
    const o = { host, address, port, unreachable, timeoutS: ctx.config.admission.timeoutS, hook } as const;
    const serviceKey = await serviceHostKey(ctx);
    const files = (dir: string) => hookFiles({ ...o, dir, serviceKey, privateKey: pair.private });
    const done = await driver.installAdmissionHook(files, { replace: cmd.flags.replace === true });
    const sha256 = createHash('sha256').update(hook).digest('hex');
    const keyFp = sshFingerprint(Buffer.from(pub.split(' ')[1]!, 'base64'));
    await ctx.store.audit(ctx.actor, 'install-hook', host, {
      hookSha256: sha256,
      keyFp,
      unreachable,
      ...(done.replaced ? { replaced: done.replaced } : {}),
    });
    const operator = { name: `host-${host}`, role: 'host', keys: [pub] };
    const text = [
      `installed billboard-admit on ${host} (qemu hook sha256 ${sha256.slice(0, 16)}…; key ${keyFp})`,
      ...(done.replaced ? [`the previous qemu hook (sha256 ${done.replaced.slice(0, 16)}…) is kept as qemu.before-billboard.TIME`] : []),
      'add (or replace) this operator in the config, then reload the service (kill -HUP):',
      `  ${JSON.stringify(operator)}`,
      `restart libvirtd (or virtqemud) on ${host}: libvirt finds hooks when it starts`,
    ].join('\n');
    return { data: { host, hookSha256: sha256, keyFp, operator, ...done }, text };
  },
});
