import { errorLine } from '../model/errors.js';
import type { Finding } from '../model/types.js';
import type { StoreApi } from '../store/api.js';
import { enforcementHosts, type Runs } from './enforcement-targets.js';
import type { FindingChange } from './findings.js';

export type EnforceAction = 'stop' | 'isolate';

/**
 * Executes an enforcement action through the host drivers (the console wires it). It calls stillWarranted() right
 * before touching the host (after its own awaits) and resolves false, acting on nothing, when that says no: an
 * operator may have approved the VM, or the cause cleared, in between.
 */
export type EnforceFn = (
  action: EnforceAction,
  uuid: string,
  host: string,
  reason: string,
  stillWarranted: () => boolean,
) => Promise<boolean>;

export interface EnforcerDeps {
  mode: 'ask' | EnforceAction;
  store: StoreApi;
  enforce?: EnforceFn;
  /** the active finding under key, if still open */
  finding(key: string): Finding | undefined;
  /** where the identity is live (hosts up), where it runs since when (not paused), and whether it is migrating */
  runs(uuid: string): Runs;
  closed(): boolean;
  /** raise the finding that says an action failed (its subject is the original finding) */
  raiseFailure(f: Finding, host: string, action: EnforceAction, error: string): void;
  /** something changed outside an ingest (rows must be rebuilt) */
  changed(): void;
  log?: { info(o: object, msg?: string): void; warn(o: object, msg?: string): void };
}

/**
 * Automatic enforcement acts only on critical findings about one VM that rest on scan or authenticated evidence:
 * a bad signature, a replay or a key of one's own costs an outsider nothing and never gets a VM stopped.
 */
export function enforceable(f: Finding): boolean {
  return f.severity === 'critical' && !!f.vm && !f.key.includes(':enforce:') && f.evidenceSource !== 'unauthenticated';
}

/**
 * Policy enforcement (`policy.enforcement` stop / isolate): once per finding and host, on the hosts enforcementHosts
 * names: an unapproved identity everywhere it runs, an approved one only as a clone away from its home host. The
 * decision is made again at the moment of acting, and an approval given or withdrawn in between cancels the action.
 * Every outcome is audited as actor `policy`.
 */
export class Enforcer {
  /** finding key → hosts already acted on */
  private readonly done = new Map<string, Set<string>>();

  constructor(private readonly d: EnforcerDeps) {}

  onFinding(f: Finding, change: FindingChange): void {
    if (change === 'resolved' || change === 'acked' || this.d.mode === 'ask' || !enforceable(f)) return;
    const approved = this.approved(f.vm);
    let done = this.done.get(f.key);
    for (const host of this.targets(f)) {
      if (done?.has(host)) continue;
      if (!done) this.done.set(f.key, (done = new Set()));
      done.add(host);
      void this.run(this.d.mode, f, host, approved);
    }
  }

  private approved(uuid: string): boolean {
    return this.d.store.registration(uuid)?.state === 'approved';
  }

  private targets(f: Finding): string[] {
    return enforcementHosts(f, { registration: this.d.store.registration(f.vm), ...this.d.runs(f.vm) });
  }

  /** a resolved finding's hosts may be acted on again if it comes back */
  forget(key: string): void {
    this.done.delete(key);
  }

  private warranted(f: Finding, host: string, approved: boolean): boolean {
    const cur = this.d.finding(f.key);
    if (this.d.closed() || !cur || !enforceable(cur) || this.approved(f.vm) !== approved) return false;
    return this.targets(cur).includes(host);
  }

  private async run(action: EnforceAction, f: Finding, host: string, approved: boolean): Promise<void> {
    const warranted = (): boolean => this.warranted(f, host, approved);
    let error: string | undefined;
    let acted = false;
    try {
      if (!this.d.enforce) throw new Error('no enforcement driver is wired');
      acted = warranted() && (await this.d.enforce(action, f.vm, host, `${f.code} ${f.id}: ${f.evidence}`, warranted));
    } catch (e) {
      error = errorLine(e);
    }
    const result = error ? 'failed' : acted ? 'ok' : 'skipped';
    if (result === 'skipped') this.done.get(f.key)?.delete(host);
    try {
      await this.d.store.audit('policy', action, f.vm, { host, finding: f.id, code: f.code, result, ...(error ? { error } : {}) });
    } catch (e) {
      this.d.log?.warn({ uuid: f.vm, host, err: errorLine(e) }, 'auditing an enforcement action failed');
    }
    const what = { uuid: f.vm, host, action, finding: f.id };
    if (result === 'skipped') return this.d.log?.info(what, 'enforcement skipped: no longer warranted');
    if (this.d.closed()) return;
    if (error) {
      this.d.log?.warn({ ...what, err: error }, 'enforcement failed');
      if (this.d.finding(f.key)) this.d.raiseFailure(f, host, action, error);
    } else this.d.log?.info(what, 'enforcement applied');
    this.d.changed();
  }
}
