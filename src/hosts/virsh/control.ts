import type { JobControl } from '../../model/host-driver.js';
import type { JobStats, MigrateOptions } from '../../model/types.js';
import { asHostError, hostError, isolateUnsupported } from '../errors.js';
import { abortJobArgs, domainUuid, jobInfoArgs, maxDowntimeArgs, migrateArgs, setLinkDownArgs, setSpeedArgs } from './commands.js';
import { parseDomJobInfo } from './text.js';

export interface VirshRunOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** the command is a migrate of this domain: watch it for virsh's hang (see migrate-guard.ts) */
  guardMigrateOf?: string;
}

/** Runs one `virsh -c URI …` command: locally (libvirt driver) or over SSH (ssh driver). */
export type VirshRun = (args: string[], o?: VirshRunOptions) => Promise<string>;

export interface VirshControlOptions {
  /** host name for error messages */
  host: string;
  /** starts a command of its own (migrate, link state, job abort: long, or must not queue behind anything) */
  run: VirshRun;
  /**
   * serves the short, frequent job queries and tunings sampled during a migration (the SSH driver's persistent
   * virsh session: no sshd session or virsh start per sample); default `run`
   */
  quick?: VirshRun;
  migrateTimeoutMs: number;
  /**
   * where this migrate runs instead of a command of its own (the SSH driver hands over its idle session);
   * undefined: through `run`. Asked once per migrate, after the UUID check.
   */
  migrateVia?: (uuid: string) => VirshRun | undefined;
}

/**
 * What both drivers do through `virsh` rather than their own transport: the migration hooks (the native
 * binding has no migration or job stats) and link state. Every call checks its UUID first.
 */
export class VirshControl implements JobControl {
  private readonly host: string;
  private readonly run: VirshRun;
  private readonly quick: VirshRun;

  constructor(private readonly opts: VirshControlOptions) {
    this.host = opts.host;
    this.run = opts.run;
    this.quick = opts.quick ?? opts.run;
  }

  async setLinksDown(uuid: string, macs: string[]): Promise<void> {
    const u = domainUuid(this.host, uuid);
    if (!macs.length) throw hostError('HOST_ERROR', this.host, `cannot isolate ${u}: the domain has no network interface`);
    for (const mac of macs) {
      try {
        await this.run(setLinkDownArgs(u, mac));
      } catch (e) {
        const be = asHostError(this.host, e);
        if (be.code === 'UNSUPPORTED') throw isolateUnsupported(this.host, u, be.message.replace(`${this.host}: `, ''));
        throw be;
      }
    }
  }

  async migrate(uuid: string, opts: MigrateOptions, signal?: AbortSignal): Promise<void> {
    const u = domainUuid(this.host, uuid);
    const via = this.opts.migrateVia?.(u) ?? this.run;
    // killing virsh may not reach libvirt (a remote virsh may never get the signal): abort the job itself too
    const onAbort = () => void this.abortJob(u).catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await via(migrateArgs(u, opts), { timeoutMs: this.opts.migrateTimeoutMs, signal, guardMigrateOf: u });
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  jobStats(uuid: string): Promise<JobStats | null> {
    return this.jobInfo(uuid, false);
  }

  completedJobStats(uuid: string): Promise<JobStats | null> {
    return this.jobInfo(uuid, true);
  }

  async abortJob(uuid: string): Promise<void> {
    await this.run(abortJobArgs(domainUuid(this.host, uuid)));
  }

  async setMaxDowntime(uuid: string, ms: number): Promise<void> {
    await this.quick(maxDowntimeArgs(domainUuid(this.host, uuid), ms));
  }

  async setBandwidth(uuid: string, mibs: number): Promise<void> {
    await this.quick(setSpeedArgs(domainUuid(this.host, uuid), mibs));
  }

  private async jobInfo(uuid: string, completed: boolean): Promise<JobStats | null> {
    const out = await this.quick(jobInfoArgs(domainUuid(this.host, uuid), completed));
    try {
      return parseDomJobInfo(out);
    } catch (e) {
      throw hostError('HOST_ERROR', this.host, (e as Error).message);
    }
  }
}
