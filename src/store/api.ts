import type { AuditEntry, Finding, MigrationJob, Registration, RegistrationState } from '../model/types.js';

/**
 * What the rest of the program may do with the encrypted store. Implemented by store/store.ts.
 *
 * Every mutating call is one durable write: the change is sealed and appended to the store file, then
 * fsynced (store-file.ts has the layout; compaction folds changes into a new snapshot in the background,
 * replaced atomically: temp file, fsync, rename, fsync dir). Calls are serialized. Audited mutations
 * write the change and its audit entry in the same write: if that write fails, neither the change nor the
 * entry exists (memory is rolled back) and the call rejects with BillboardError('AUDIT_FAILED' | 'STORE_WRITE').
 */
export interface StoreApi {
  readonly path: string;

  // ── registry ──
  registrations(): readonly Registration[];
  registration(uuid: string): Registration | undefined;
  /** name, full uuid, or unique uuid prefix; throws NOT_FOUND / AMBIGUOUS */
  resolveRegistration(ref: string): Registration;
  /** operator `register` (state pending) or a beacon/scan registration request; audited as "register" / "request" */
  register(reg: NewRegistration, actor: string): Promise<Registration>;
  /** approve / reject / revoke; audited; throws CONFLICT on an impossible transition */
  decide(
    uuid: string,
    to: Exclude<RegistrationState, 'pending'>,
    actor: string,
    reason?: string,
    /** identity bound at the same time (approve binds key, MACs, definitionHash, home host) */
    bind?: Partial<Pick<Registration, 'publicKey' | 'macs' | 'definitionHash' | 'homeHost' | 'os'>>,
  ): Promise<Registration>;
  /** patch fields that are not the state (e.g. bind definitionHash, homeHost after a migration); audited with `action` */
  updateRegistration(
    uuid: string,
    patch: Partial<Omit<Registration, 'uuid' | 'state'>>,
    actor: string,
    action: string,
  ): Promise<Registration>;

  // ── audit ──
  /** append one entry (e.g. "stop", "isolate", "ack"); resolves only when it is on disk */
  audit(actor: string, action: string, target: string, details?: Record<string, unknown>): Promise<AuditEntry>;
  auditLog(last?: number): readonly AuditEntry[];
  verifyAudit(): AuditVerdict;

  // ── engine and migration state (not audited: derived, but must survive a restart) ──
  findings(): readonly Finding[];
  /** the whole list; only findings whose content changed since the last save (and removals) reach the disk */
  saveFindings(findings: readonly Finding[]): Promise<void>;
  jobs(): readonly MigrationJob[];
  /** add or replace one job (by id); only that job reaches the disk */
  saveJob(job: MigrationJob): Promise<void>;
  /**
   * Each identity's replay mark (the highest beacon seq seen, per boot), so a restart does not reopen
   * replays. Not audited. `saveBeaconMarks` merges: pass only the marks that changed (each costs one small
   * record on disk). Keys are canonical UUIDs; save marks only for authenticated identities.
   */
  beaconMarks(): ReadonlyMap<string, BeaconMark>;
  saveBeaconMarks(marks: ReadonlyMap<string, BeaconMark>): Promise<void>;

  /** counters for views / benches */
  stats(): { registrations: number; auditEntries: number; bytes: number; lastWriteMs: number; compactions?: number };
  close(): Promise<void>;
}

export interface NewRegistration {
  uuid: string;
  name: string;
  publicKey?: string;
  macs?: string[];
  os?: string;
  homeHost?: string;
  definitionHash?: string;
  origin: Registration['origin'];
  firstSeen?: string;
}

/** The last authenticated beacon of one identity: its boot id, sequence number and arrival time (ms). */
export interface BeaconMark {
  bootId: string;
  seq: number;
  at: number;
}

export type AuditVerdict = { ok: true; entries: number; head: string } | { ok: false; entries: number; brokenAt: number; reason: string };
