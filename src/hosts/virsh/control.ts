import type { JobStats, MigrateOptions } from '../../model/types.js';
import { asHostError, hostError, isolateUnsupported } from '../errors.js';
import { abortJobArgs, jobInfoArgs, maxDowntimeArgs, migrateArgs, setLinkDownArgs, setSpeedArgs } from './commands.js';
import { parseDomJobInfo } from './text.js';

export interface VirshRunOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** the command is a migrate of this domain: watch it for virsh's hang (see migrate-guard.ts) */
  guardMigrateOf?: string;
}

/** Runs one `virsh -c URI …` command: locally (libvirt driver) or over SSH (ssh driver). */
export type VirshRun = (args: string[], o?: VirshRunOptions) => Promise<string>;

/**
 * What both drivers do through `virsh` rather than their own transport: link state and the migration hooks
 * (the native binding has no migration or job stats). UUIDs are checked by the caller.
 */
export class VirshControl {
  /**
   * `run` starts a command of its own (migrate, link state, job abort: long, or must not queue behind
   * anything); `quick`, when given, serves the short, frequent job queries and tunings sampled during a
   * migration (the SSH driver's persistent virsh session: no sshd session or virsh start per sample).
   */
  constructor(
    private readonly host: string,
    private readonly run: VirshRun,
    private readonly migrateTimeoutMs: number,
    private readonly quick: VirshRun = run,
  ) {}

  async setLinksDown(uuid: string, macs: string[]): Promise<void> {
    if (!macs.length) throw hostError('HOST_ERROR', this.host, `cannot isolate ${uuid}: the domain has no network interface`);
    for (const mac of macs) {
      try {
        await this.run(setLinkDownArgs(uuid, mac));
      } catch (e) {
        const be = asHostError(this.host, e);
        if (be.code === 'UNSUPPORTED') throw isolateUnsupported(this.host, uuid, be.message.replace(`${this.host}: `, ''));
        throw be;
      }
    }
  }

  /** `via`: where the migrate command runs (default: a command of its own through `run`). */
  async migrate(uuid: string, opts: MigrateOptions, signal?: AbortSignal, via: VirshRun = this.run): Promise<void> {
    // killing virsh may not reach libvirt (a remote virsh may never get the signal): abort the job itself too
    const onAbort = () => void this.abortJob(uuid).catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await via(migrateArgs(uuid, opts), { timeoutMs: this.migrateTimeoutMs, signal, guardMigrateOf: uuid });
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async jobStats(uuid: string, completed = false): Promise<JobStats | null> {
    const out = await this.quick(jobInfoArgs(uuid, completed));
    try {
      return parseDomJobInfo(out);
    } catch (e) {
      throw hostError('HOST_ERROR', this.host, (e as Error).message);
    }
  }

  async abortJob(uuid: string): Promise<void> {
    await this.run(abortJobArgs(uuid));
  }

  async setMaxDowntime(uuid: string, ms: number): Promise<void> {
    await this.quick(maxDowntimeArgs(uuid, ms));
  }

  async setBandwidth(uuid: string, mibs: number): Promise<void> {
    await this.quick(setSpeedArgs(uuid, mibs));
  }
}
