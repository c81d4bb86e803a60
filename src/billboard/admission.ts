import { isTerminal } from '../model/domain-states.js';
import type { JobState, Registration } from '../model/types.js';

export const ADMISSION_OPS = ['prepare', 'migrate', 'restore'] as const;
export type AdmissionOp = (typeof ADMISSION_OPS)[number];
export type AdmissionPolicy = 'off' | 'audit' | 'enforce';

/** What a host's hook asks: the domain's own values from the XML libvirt handed it. */
export interface AdmissionRequest {
  readonly host: string;
  readonly op: AdmissionOp;
  readonly uuid: string;
  readonly name?: string;
  readonly macs: readonly string[];
}

/** A migration job as admission reads it. */
export interface AdmissionJob {
  readonly id: string;
  readonly source: string;
  readonly destination: string;
  readonly state: JobState;
  readonly authorizedBy?: string;
}

/** Everything besides the request that the decision looks at; the caller gathers it, the decision reads it. */
export interface AdmissionContext {
  readonly policy: AdmissionPolicy;
  /** the hosts of the config */
  readonly hosts: readonly string[];
  /** the operator asking: a `host` role asks only for its own host (named host-NAME); undefined = not a host key */
  readonly askedBy?: string;
  readonly registration?: Readonly<Registration>;
  /** where the latest scans show this identity live, and whether that host is up (a down host's last word counts) */
  readonly runningOn: readonly { readonly host: string; readonly up: boolean }[];
  /** this VM's migration jobs, any state */
  readonly jobs: readonly AdmissionJob[];
}

export type AdmissionRule =
  | 'wrong-host'
  | 'unknown-host'
  | 'unknown-identity'
  | 'pending'
  | 'rejected'
  | 'revoked'
  | 'running-elsewhere'
  | 'unauthorized-migration'
  | 'not-home'
  | 'home-host'
  | 'no-home-bound'
  | 'migration-destination'
  | 'moved-here';

export interface AdmissionVerdict {
  /** the answer the hook gets */
  readonly allow: boolean;
  /** the answer under enforce (what audit mode records as a would-be refusal) */
  readonly wouldAllow: boolean;
  readonly rule: AdmissionRule;
  /** one line, shown by libvirt to whoever started the domain */
  readonly reason: string;
  /** an unknown identity: open a pending registration request (policy audit or enforce) */
  readonly requestRegistration: boolean;
}

/** an operator authorized it and it has not ended: the migration is under way */
function authorizedLive(j: AdmissionJob): boolean {
  return j.authorizedBy !== undefined && j.state !== 'awaiting-authorization' && !isTerminal(j.state);
}

interface Judged {
  ok: boolean;
  rule: AdmissionRule;
  reason: string;
}

/**
 * Admission: may this domain start (prepare, restore) or migrate in (migrate) on this host? The rule is the paper's:
 * nothing runs on a hypervisor without an identity the Billboard Manager approved, where it was approved to run.
 * - An approved identity may start on its home host, on the destination of an authorized migration under way, or
 *   where its last completed migration took it; one approved with no home host bound may start anywhere.
 * - An incoming migration needs an authorized job for that VM whose destination is this host and whose source is
 *   where the VM runs: a bare `virsh migrate` behind billboard's back is refused at the destination.
 * - A UUID already live on another host is refused (the clone never boots), except on the destination of the
 *   authorized job that moves it from there.
 * - An unknown identity is refused and becomes a registration request the operator can approve; pending, rejected
 *   and revoked identities are refused. A host key asks only for its own host.
 * Policy `off` answers yes, `audit` answers yes and keeps the would-be refusal, `enforce` answers as judged.
 */
export function decideAdmission(req: Readonly<AdmissionRequest>, ctx: Readonly<AdmissionContext>): AdmissionVerdict {
  const j = judge(req, ctx);
  const allow = ctx.policy === 'enforce' ? j.ok : true;
  const requestRegistration = j.rule === 'unknown-identity' && ctx.policy !== 'off';
  const reason = j.ok || ctx.policy === 'enforce' ? j.reason : `${j.reason} (policy ${ctx.policy}: allowed anyway)`;
  return { allow, wouldAllow: j.ok, rule: j.rule, reason, requestRegistration };
}

function judge(req: Readonly<AdmissionRequest>, ctx: Readonly<AdmissionContext>): Judged {
  const who = ctx.registration?.name ?? req.name ?? req.uuid;
  const vm = `${who} (${req.uuid})`;
  if (ctx.askedBy !== undefined && ctx.askedBy !== `host-${req.host}`) {
    return { ok: false, rule: 'wrong-host', reason: `${ctx.askedBy} may ask only for its own host, not ${req.host}` };
  }
  if (!ctx.hosts.includes(req.host)) {
    return { ok: false, rule: 'unknown-host', reason: `${req.host} is not a host in billboard's config` };
  }
  const reg = ctx.registration;
  if (!reg) {
    const verb = req.op === 'migrate' ? 'migrate in' : req.op === 'restore' ? 'restore' : 'start';
    return {
      ok: false,
      rule: 'unknown-identity',
      reason:
        `${req.host}'s admin tried to ${verb} ${vm}: unknown to billboard; a registration request awaits the operator ` +
        '(retry after approve)',
    };
  }
  if (reg.state !== 'approved') {
    const why =
      reg.state === 'pending'
        ? 'registration pending operator approval'
        : `registration ${reg.state}${reg.reason ? ` (${reg.reason})` : ''}`;
    return { ok: false, rule: reg.state, reason: `${vm}: ${why}` };
  }
  const live = ctx.jobs.filter(authorizedLive);
  const inbound = live.filter((jb) => jb.destination === req.host);
  const elsewhere = ctx.runningOn.filter((r) => r.host !== req.host);
  const where = elsewhere.map((r) => (r.up ? r.host : `${r.host} (down; as last scanned)`)).join(', ');
  if (req.op === 'migrate') return judgeMigration(req, vm, inbound, elsewhere, where);
  if (elsewhere.length) {
    const moving = inbound.find((jb) => elsewhere.every((r) => r.host === jb.source));
    if (moving) return { ok: true, rule: 'migration-destination', reason: `${vm}: destination of authorized job ${moving.id}` };
    return { ok: false, rule: 'running-elsewhere', reason: `${vm} is already running on ${where}: a second copy is refused` };
  }
  if (reg.homeHost === req.host) return { ok: true, rule: 'home-host', reason: `${vm}: approved, home host ${req.host}` };
  if (inbound.length) return { ok: true, rule: 'migration-destination', reason: `${vm}: destination of authorized job ${inbound[0]!.id}` };
  const moved = lastCompleted(ctx.jobs);
  if (moved?.destination === req.host) {
    return { ok: true, rule: 'moved-here', reason: `${vm}: moved here by authorized job ${moved.id}` };
  }
  if (!reg.homeHost) return { ok: true, rule: 'no-home-bound', reason: `${vm}: approved (no home host bound)` };
  return {
    ok: false,
    rule: 'not-home',
    reason: `${vm} is approved on ${reg.homeHost}, not ${req.host}, and no authorized migration brings it here`,
  };
}

function judgeMigration(
  req: Readonly<AdmissionRequest>,
  vm: string,
  inbound: readonly AdmissionJob[],
  elsewhere: readonly { host: string }[],
  where: string,
): Judged {
  if (!inbound.length) {
    return { ok: false, rule: 'unauthorized-migration', reason: `${vm}: no authorized migration job moves it to ${req.host}` };
  }
  const job = inbound.find((jb) => elsewhere.length > 0 && elsewhere.every((r) => r.host === jb.source));
  if (!job) {
    const from = inbound.map((jb) => `${jb.id} from ${jb.source}`).join(', ');
    const runs = where ? `it runs on ${where}` : 'billboard sees it running nowhere';
    return { ok: false, rule: 'unauthorized-migration', reason: `${vm}: authorized ${from}, but ${runs}` };
  }
  return { ok: true, rule: 'migration-destination', reason: `${vm}: authorized job ${job.id} moves it from ${job.source}` };
}

/** the most recent completed migration with an authorization (jobs in request order) */
function lastCompleted(jobs: readonly AdmissionJob[]): AdmissionJob | undefined {
  for (let i = jobs.length - 1; i >= 0; i--) {
    const jb = jobs[i]!;
    if (jb.state === 'completed' && jb.authorizedBy !== undefined) return jb;
  }
  return undefined;
}
