import {
  ADMISSION_OPS,
  decideAdmission,
  type AdmissionOp,
  type AdmissionRequest,
  type AdmissionVerdict,
} from '../../billboard/admission.js';
import { LIVE_STATES } from '../../model/domain-states.js';
import { BillboardError } from '../../model/errors.js';
import { canonicalMac, canonicalUuid } from '../../model/fingerprint.js';
import { nameProblem, safeText } from '../../model/text.js';
import type { VmRow } from '../../model/types.js';
import { command, type ConsoleContext } from '../context.js';
import { needEngine, str } from './util.js';

/** at most this many MACs are taken from one domain's XML (a definition may list many; the request keeps these) */
const MAX_MACS = 64;

function parseRequest(flags: Record<string, unknown>): AdmissionRequest {
  const op = str(flags.op);
  if (!ADMISSION_OPS.includes(op as AdmissionOp)) {
    throw new BillboardError('USAGE', `admit: --op is one of ${ADMISSION_OPS.join(', ')} (got "${safeText(op ?? '', 32)}")`);
  }
  const uuid = canonicalUuid(str(flags.uuid) ?? '');
  if (!uuid) throw new BillboardError('USAGE', `admit: "${safeText(str(flags.uuid) ?? '', 64)}" is not a UUID`);
  const macs: string[] = [];
  for (const m of ((flags.mac as string[] | undefined) ?? []).slice(0, MAX_MACS)) {
    const c = canonicalMac(m);
    if (!c) throw new BillboardError('USAGE', `admit: "${safeText(m, 32)}" is not a MAC address`);
    if (!macs.includes(c)) macs.push(c);
  }
  const name = str(flags.name);
  return { host: str(flags.host)!, op: op as AdmissionOp, uuid, ...(name ? { name: safeText(name, 64) } : {}), macs };
}

/** Where the Billboard sees the identity live now (a down host's last scan counts), from the engine's table. */
function runningOn(ctx: ConsoleContext, uuid: string): { host: string; up: boolean }[] {
  const engine = needEngine(ctx);
  let row: VmRow | undefined;
  try {
    row = engine.resolveVm(uuid);
  } catch {
    return [];
  }
  if (row.uuid !== uuid) return [];
  const up = new Map(engine.snapshot().hosts.map((h) => [h.name, h.up || h.unknown === true]));
  return row.instances.filter((i) => LIVE_STATES.has(i.state)).map((i) => ({ host: i.host, up: up.get(i.host) ?? true }));
}

/** An unknown identity's request, as the operator sees it in `pending`; a scan or beacon may have opened one first. */
async function requestRegistration(ctx: ConsoleContext, req: AdmissionRequest, rawName: string | undefined): Promise<void> {
  const name = rawName && !nameProblem(rawName) ? rawName : `vm-${req.uuid.slice(0, 8)}`;
  const verb = req.op === 'migrate' ? 'migrate in' : req.op === 'restore' ? 'restore' : 'start';
  try {
    await ctx.store.register(
      {
        uuid: req.uuid,
        name,
        macs: [...req.macs],
        homeHost: req.host,
        origin: 'admission',
        firstSeen: `${req.host}'s admin tried to ${verb} ${name}`,
      },
      ctx.actor,
    );
  } catch (e) {
    if (!(e instanceof BillboardError && e.code === 'CONFLICT')) throw e;
  }
  ctx.engine?.registryChanged();
}

export const admit = command({
  name: 'admit',
  args: [],
  mutating: true,
  flags: {
    host: { type: 'string', arg: 'HOST', required: true, desc: 'the host whose hook asks (as named in the config)' },
    op: { type: 'string', arg: 'OP', required: true, desc: 'prepare (a start), migrate (an incoming migration) or restore' },
    uuid: { type: 'string', arg: 'UUID', required: true, desc: "the domain's UUID, from its XML" },
    name: { type: 'string', arg: 'NAME', text: true, desc: "the domain's name, from its XML" },
    mac: { type: 'string', arg: 'MAC', repeat: true, desc: "a MAC address from the domain's XML (repeatable)" },
  },
  summary: "a host's admission hook asks whether a domain may start or migrate in (role host); yes or no, audited",
  examples: ['admit --host lab-a --op prepare --uuid 11111111-2222-3333-4444-555555555555 --name build-07 --mac 52:54:00:aa:bb:01'],
  run: async (cmd, ctx) => {
    const req = parseRequest(cmd.flags);
    const policy = ctx.config.policy.admission;
    const registration = ctx.store.registration(req.uuid);
    const jobs = (ctx.migrations?.jobs() ?? []).filter((j) => j.vm === req.uuid);
    const v: AdmissionVerdict = decideAdmission(req, {
      policy,
      hosts: ctx.config.hosts.map((h) => h.name),
      ...(ctx.role === 'host' ? { askedBy: ctx.actor } : {}),
      registration,
      runningOn: runningOn(ctx, req.uuid),
      jobs,
    });
    if (v.requestRegistration && !registration) await requestRegistration(ctx, req, str(cmd.flags.name));
    // the answer goes out only once the decision is on disk
    await ctx.store.audit(ctx.actor, 'admit', req.uuid, {
      host: req.host,
      op: req.op,
      ...(req.name ? { name: req.name } : {}),
      macs: req.macs,
      policy,
      answer: v.allow ? 'yes' : 'no',
      rule: v.rule,
      reason: v.reason,
      ...(v.allow && !v.wouldAllow ? { wouldRefuse: true } : {}),
    });
    if (!v.allow) throw new BillboardError('REFUSED', `billboard refused: ${v.reason}`);
    return { data: v, text: `billboard admits: ${v.reason}` };
  },
});
