import { BillboardError } from '../../model/errors.js';
import type { Registration } from '../../model/types.js';
import type { Handler } from '../context.js';
import { age, table } from '../format.js';
import { str } from './util.js';

export const register: Handler = async (cmd, ctx) => {
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
};

export function pendingRows(regs: readonly Registration[]): Registration[] {
  return regs.filter((r) => r.state === 'pending');
}

export const pending: Handler = async (_cmd, ctx) => {
  const rows = pendingRows(ctx.store.registrations());
  const text = rows.length
    ? table(
        ['NAME', 'UUID', 'KEY', 'MACS', 'ORIGIN', 'FIRST SEEN', 'AGE'],
        rows.map((r) => [r.name, r.uuid, r.keyFp ?? '(agentless)', r.macs.join(',') || '-', r.origin, r.firstSeen ?? '-', age(r.createdAt, ctx.now())]),
      )
    : 'no pending registrations';
  return { data: rows, text };
};

async function decide(
  ctx: Parameters<Handler>[1],
  ref: string,
  to: 'approved' | 'rejected' | 'revoked',
  reason: string | undefined,
) {
  const reg = ctx.store.resolveRegistration(ref);
  let bind: Partial<Registration> | undefined;
  if (to === 'approved' && ctx.engine) {
    // Approval binds the identity as it is seen now: the definition the scan shows, where it runs,
    // its MACs and the key its beacons carry — unless the operator registered them explicitly.
    const seen = ctx.engine.bindingFor(reg.uuid);
    bind = {
      ...(seen.definitionHash ? { definitionHash: seen.definitionHash } : {}),
      ...(!reg.homeHost && seen.homeHost ? { homeHost: seen.homeHost } : {}),
      ...(!reg.macs.length && seen.macs.length ? { macs: seen.macs } : {}),
      ...(!reg.publicKey && seen.publicKey ? { publicKey: seen.publicKey } : {}),
    };
  }
  const r = await ctx.store.decide(reg.uuid, to, ctx.actor, reason, bind);
  ctx.engine?.registryChanged();
  return r;
}

export const approve: Handler = async (cmd, ctx) => {
  const r = await decide(ctx, cmd.args[0]!, 'approved', str(cmd.flags.note));
  return { data: r, text: `approved ${r.name} (${r.uuid})` };
};

export const reject: Handler = async (cmd, ctx) => {
  const r = await decide(ctx, cmd.args[0]!, 'rejected', str(cmd.flags.reason));
  return { data: r, text: `rejected ${r.name} (${r.uuid})` };
};

export const revoke: Handler = async (cmd, ctx) => {
  const r = await decide(ctx, cmd.args[0]!, 'revoked', str(cmd.flags.reason));
  return { data: r, text: `revoked ${r.name} (${r.uuid}): its beacons now count as forged` };
};
