import { errorLine } from '../model/errors.js';
import type { MigrationJob, VmRow } from '../model/types.js';
import type { StoreApi } from '../store/api.js';
import { activation, type Activation, type ActivationInput } from './activation.js';
import type { ExecutionEnd } from './executor.js';
import { runningOn, runsOn } from './facts.js';
import type { MigrationEngineHooks, MigrationLog } from './hooks.js';
import { SYSTEM, type JobJournal } from './journal.js';

export interface VerifierOptions {
  store: StoreApi;
  engine: MigrationEngineHooks;
  journal: JobJournal;
  now: () => number;
  /** how long commitment / activation checks may take */
  verifyTimeoutMs: number;
  /** how long to wait for the re-verifying beacon of a keyed VM */
  activationTimeoutMs: number;
  log?: MigrationLog;
}

/**
 * What follows an execution, the same for every executor: after commitment, the source must be discharged and the
 * VM activated on the destination (activation.ts); after an abort or a failure, the hosts are scanned and the end
 * line says where the VM runs.
 */
export class Verifier {
  constructor(private readonly options: VerifierOptions) {}

  /**
   * `committed` marks the job past commitment (nothing to abort, nothing to tune); `sourceDefinition` is the
   * source's definition hash at authorization (the approval moves with it to the destination's)
   */
  async afterCommit(
    job: MigrationJob,
    end: Extract<ExecutionEnd, { kind: 'committed' }>,
    committed: () => void,
    sourceDefinition?: string,
  ): Promise<void> {
    const { engine, journal } = this.options;
    const baseline = engine.lastBeacon(job.vm);
    const commitAt = this.options.now();
    committed();
    journal.enter(job, 'commitment', `${end.by} committed the move; verifying ${job.source} is discharged`);
    engine.commitMigration(job.id);
    try {
      await end.place?.();
    } catch (e) {
      return this.afterFailure(job, errorLine(e));
    }
    await engine.requestScan([job.source, job.destination]).catch((e) => this.info(job, `scan failed: ${errorLine(e)}`));
    const discharged = await engine.waitFor((r) => !!r && !runsOn(r, job.source), job.vm, this.options.verifyTimeoutMs);
    if (!discharged) return this.afterFailure(job, `${job.source} still runs ${job.vmName} after commitment (MIGRATION_GHOST)`);

    journal.enter(job, 'activation', `${job.source} discharged; verifying ${job.vmName} on ${job.destination}`);
    const seen = await this.activated(job, baseline, commitAt);
    if (seen.verdict === 'pending') return this.afterFailure(job, `not verified on ${job.destination} in time: ${seen.why}`);
    if (seen.verdict === 'failed') return this.afterFailure(job, seen.why);
    await this.options.store
      .updateRegistration(job.vm, { homeHost: job.destination, ...this.carriedDefinition(job, sourceDefinition) }, SYSTEM, 'migrate-home')
      .catch((e) => this.info(job, `home host not updated: ${errorLine(e)}`));
    job.result = seen.evidence;
    const downtimeMs = await end.downtimeMs;
    const pause = downtimeMs !== undefined ? `, downtime ${Math.round(downtimeMs)} ms` : '';
    await journal.finish(job, 'completed', `${job.vmName} now on ${job.destination}${pause}; ${seen.evidence}`);
  }

  async afterAbort(job: MigrationJob, by: string): Promise<void> {
    const { engine } = this.options;
    await engine.requestScan([job.source, job.destination]).catch(() => {});
    const onSource = await engine.waitFor((r) => !!r && runsOn(r, job.source), job.vm, this.options.verifyTimeoutMs);
    const where = onSource ? `${job.vmName} keeps running on ${job.source}` : `WARNING: ${job.vmName} not seen running on ${job.source}`;
    await this.options.journal.finish(job, 'aborted', `aborted by ${by}; ${where}`);
  }

  async afterFailure(job: MigrationJob, reason: string): Promise<void> {
    const { engine } = this.options;
    await engine.requestScan([job.source, job.destination]).catch(() => {});
    let where = '';
    try {
      const on = runningOn(engine.resolveVm(job.vm));
      where = on.length ? `; ${job.vmName} is running on ${on.join(', ')}` : `; ${job.vmName} is not running anywhere scanned`;
    } catch {
      /* unknown VM now */
    }
    job.error = reason;
    await this.options.journal.finish(job, 'failed', reason + where);
  }

  /** the activation verdict once it is no longer pending, or the last pending one at the timeout */
  private async activated(job: MigrationJob, baseline: VmRow['lastBeacon'], commitAt: number): Promise<Activation> {
    const reg = this.options.store.registration(job.vm);
    const keyed = !!(reg?.publicKey || reg?.keyFp);
    const input: ActivationInput = {
      destination: job.destination,
      vmName: job.vmName,
      keyed,
      keyFp: reg?.keyFp,
      baseline,
      commitAt,
      matchAddress: !job.simulated,
    };
    const last: { seen: Activation } = { seen: { verdict: 'pending', why: `${job.vmName} not yet seen on ${job.destination}` } };
    const judge = (r: VmRow | undefined) => (last.seen = activation(r, input)).verdict !== 'pending';
    await this.options.engine.waitFor(judge, job.vm, keyed ? this.options.activationTimeoutMs : this.options.verifyTimeoutMs);
    return last.seen;
  }

  /**
   * The approval moves with the VM: the destination's definition (as its host renders it) is bound in place of the
   * source's, if the source's was the approved one. A definition that had drifted before the move stays drifted.
   */
  private carriedDefinition(job: MigrationJob, sourceDefinition: string | undefined): { definitionHash?: string } {
    const bound = this.options.store.registration(job.vm)?.definitionHash;
    const destination = definitionOn(this.options.engine, job.vm, job.destination);
    if (!bound || sourceDefinition !== bound || !destination || destination === bound) return {};
    return { definitionHash: destination };
  }

  private info(job: MigrationJob, message: string): void {
    this.options.log?.info({ job: job.id }, message);
  }
}

/** the definition hash of the VM's instance on `host` as last scanned (undefined when unknown there) */
function definitionOn(engine: MigrationEngineHooks, vm: string, host: string): string | undefined {
  try {
    return engine.resolveVm(vm).instances.find((i) => i.host === host)?.definitionHash || undefined;
  } catch {
    return undefined;
  }
}
