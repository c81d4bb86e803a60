import { BillboardError } from '../../model/errors.js';
import { keyFingerprint } from '../../model/fingerprint.js';
import type { Registration } from '../../model/types.js';
import { note, reason, VM } from '../grammar.js';
import { command, type Handler } from '../context.js';
import { age, table } from '../format.js';
import { str } from './util.js';

export const register = command({
  name: 'register',
  args: [{ name: 'NAME', required: true, vmName: true }],
  mutating: true,
  flags: {
    uuid: { type: 'string', arg: 'UUID', required: true, desc: "the VM's UUID (required)" },
    pubkey: {
      type: 'string',
      arg: 'KEY',
      desc: "the agent's public key (base64, from `billboard-beacon keygen`); omit for an agentless VM",
    },
    mac: { type: 'string', arg: 'MAC', repeat: true, desc: 'an expected MAC address (repeatable)' },
    os: { type: 'string', arg: 'OS', text: true, desc: 'expected operating system' },
    host: { type: 'string', arg: 'HOST', desc: 'home host: running anywhere else without an authorized migration is a finding' },
  },
  summary: 'register a VM identity (pending until approved)',
  examples: ['register web-01 --uuid 11111111-2222-3333-4444-555555555555 --mac 52:54:00:aa:bb:01 --host lab-a'],
  run: async (cmd, ctx) => {
    const uuid = str(cmd.flags.uuid);
    if (!uuid) throw new BillboardError('USAGE', 'register: --uuid UUID is required');
    const homeHost = str(cmd.flags.host);
    if (homeHost && !ctx.config.hosts.some((h) => h.name === homeHost)) {
      throw new BillboardError('USAGE', `register: --host ${homeHost} is not a host in the config`);
    }
    const reg = await ctx.store.register(
      {
        uuid,
        name: cmd.args[0]!,
        ...(str(cmd.flags.pubkey) ? { publicKey: str(cmd.flags.pubkey) } : {}),
        macs: (cmd.flags.mac as string[] | undefined) ?? [],
        ...(str(cmd.flags.os) ? { os: str(cmd.flags.os) } : {}),
        ...(homeHost ? { homeHost } : {}),
        origin: 'operator',
      },
      ctx.actor,
    );
    ctx.engine?.registryChanged();
    return { data: reg, text: `registered ${reg.name} (${reg.uuid}): pending approval` };
  },
});

export function pendingRows(regs: readonly Registration[]): Registration[] {
  return regs.filter((r) => r.state === 'pending');
}

export const pending = command({
  name: 'pending',
  args: [],
  flags: {},
  mutating: false,
  summary: 'registration requests waiting for a decision',
  examples: ['pending'],
  run: async (_cmd, ctx) => {
    const rows = pendingRows(ctx.store.registrations());
    const text = rows.length
      ? table(
          ['NAME', 'UUID', 'KEY', 'MACS', 'ORIGIN', 'FIRST SEEN', 'AGE'],
          rows.map((r) => [
            r.name,
            r.uuid,
            r.keyFp ? `${r.keyFp}${r.keyLearned ? ' (from a later beacon: approve --key)' : ''}` : '(agentless)',
            r.macs.join(',') || '-',
            r.origin,
            r.firstSeen ?? '-',
            age(r.createdAt, ctx.now()),
          ]),
        )
      : 'no pending registrations';
    return { data: rows, text };
  },
});

/**
 * Which key approve binds. A key the operator gave (`register --pubkey`) or that came with the request (and so was
 * shown in `pending`) is bound as it is. A key that arrived from a beacon after the request was made — anyone's
 * beacon may have carried it — is bound only when the operator confirms its fingerprint (`--key SHA256:…`).
 * @returns the key to bind (undefined: none, or the registration's own), or throws REFUSED naming the fingerprint
 */
export function keyToBind(reg: Registration, beaconKey: string | undefined, confirm: string | undefined): string | undefined {
  const learned = reg.publicKey ? (reg.keyLearned ? reg.publicKey : undefined) : beaconKey;
  const fp = learned ? keyFingerprint(learned) : reg.keyFp;
  if (confirm !== undefined && confirm !== fp) {
    throw new BillboardError(
      'REFUSED',
      fp
        ? `approve: ${reg.name}'s key is ${fp}, not ${confirm}: nothing approved`
        : `approve: ${reg.name} has no key to confirm (agentless)`,
    );
  }
  if (!learned) return undefined;
  if (confirm === undefined) {
    throw new BillboardError(
      'REFUSED',
      `approve: ${reg.name}'s key ${fp} came from a beacon after the request was made; check it against the agent's ` +
        `(billboard-beacon keygen printed it), then: approve ${reg.uuid} --key ${fp}`,
    );
  }
  return reg.publicKey ? undefined : learned;
}

async function decide(
  ctx: Parameters<Handler>[1],
  ref: string,
  to: 'approved' | 'rejected' | 'revoked',
  reason: string | undefined,
  confirmKey?: string,
) {
  const reg = ctx.store.resolveRegistration(ref);
  let bind: Partial<Registration> | undefined;
  if (to === 'approved' && ctx.engine) {
    // Approval binds the identity as it is seen now: the definition the scan shows, where it runs and its MACs —
    // unless the operator registered them explicitly — and only a key the operator was shown. A home host that came
    // with a request (a host's admission call names itself) is a hint: where the scans see it run wins.
    const seen = ctx.engine.bindingFor(reg.uuid);
    const key = keyToBind(reg, seen.publicKey, confirmKey);
    const ownHome = reg.origin === 'operator' && reg.homeHost;
    bind = {
      ...(seen.definitionHash ? { definitionHash: seen.definitionHash } : {}),
      ...(!ownHome && seen.homeHost && seen.homeHost !== reg.homeHost ? { homeHost: seen.homeHost } : {}),
      ...(!reg.macs.length && seen.macs.length ? { macs: seen.macs } : {}),
      ...(key ? { publicKey: key } : {}),
    };
  } else if (to === 'approved') keyToBind(reg, undefined, confirmKey);
  const r = await ctx.store.decide(reg.uuid, to, ctx.actor, reason, bind);
  ctx.engine?.registryChanged();
  return r;
}

export const approve = command({
  name: 'approve',
  args: [VM],
  mutating: true,
  flags: {
    note,
    key: {
      type: 'string',
      arg: 'SHA256:…',
      desc: 'confirm the fingerprint of a key that arrived from a beacon after the request (approve says when)',
    },
  },
  summary: 'approve a pending registration: binds its key, MACs, definition and home host',
  examples: ['approve web-01 --note "ticket 17"', 'approve 035eed6f --key SHA256:1MEFQIJtUnEB…'],
  run: async (cmd, ctx) => {
    const r = await decide(ctx, cmd.args[0]!, 'approved', str(cmd.flags.note), str(cmd.flags.key));
    return { data: r, text: `approved ${r.name} (${r.uuid})${r.keyFp ? `, key ${r.keyFp}` : ''}` };
  },
});

export const reject = command({
  name: 'reject',
  args: [VM],
  flags: { reason },
  mutating: true,
  summary: 'reject a pending registration',
  examples: ['reject 3f2a --reason "not ours"'],
  run: async (cmd, ctx) => {
    const r = await decide(ctx, cmd.args[0]!, 'rejected', str(cmd.flags.reason));
    return { data: r, text: `rejected ${r.name} (${r.uuid})` };
  },
});

export const revoke = command({
  name: 'revoke',
  args: [VM],
  flags: { reason },
  mutating: true,
  summary: 'revoke an approved VM: its beacons count as forged from now on',
  examples: ['revoke db-01 --reason "key leaked"'],
  run: async (cmd, ctx) => {
    const r = await decide(ctx, cmd.args[0]!, 'revoked', str(cmd.flags.reason));
    return { data: r, text: `revoked ${r.name} (${r.uuid}): its beacons now count as forged` };
  },
});
