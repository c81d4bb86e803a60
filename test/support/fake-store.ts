import { BillboardError } from '../../src/model/errors.js';
import { keyFingerprint } from '../../src/model/fingerprint.js';
import type { AuditEntry, Finding, MigrationJob, Registration, RegistrationState } from '../../src/model/types.js';
import type { AuditVerdict, BeaconMark, NewRegistration, StoreApi } from '../../src/store/api.js';

/**
 * The one in-memory StoreApi of the tests (no encryption, no disk): the engine's unit and scenario tests, the
 * migration tests and the fake console use it. Keeps the same contracts that matter to callers: CONFLICT on a
 * duplicate register or an impossible transition, NOT_FOUND / AMBIGUOUS on resolve, approval binding what it is
 * given, an audit entry per audited mutation. `failAudit` / `failSave` simulate a broken disk.
 */
export class FakeStore implements StoreApi {
  readonly path = ':memory:';
  readonly regs = new Map<string, Registration>();
  readonly entries: AuditEntry[] = [];
  saved: Finding[] = [];
  saves = 0;
  readonly jobList: MigrationJob[] = [];
  failAudit = false;
  failSave = false;

  constructor(
    init: { registrations?: Registration[]; findings?: Finding[] } = {},
    private readonly clock: () => number = Date.now,
  ) {
    for (const r of init.registrations ?? []) this.regs.set(r.uuid, r);
    this.saved = [...(init.findings ?? [])];
  }

  registrations(): readonly Registration[] {
    return [...this.regs.values()];
  }
  registration(uuid: string): Registration | undefined {
    return this.regs.get(uuid);
  }
  /** as the real store: a full UUID wins; a name (exact) and a UUID prefix both matching is AMBIGUOUS */
  resolveRegistration(ref: string): Registration {
    const exact = this.regs.get(ref.trim().toLowerCase());
    if (exact) return exact;
    const all = [...this.regs.values()];
    const p = ref.trim().toLowerCase();
    const pre = /^[0-9a-f-]{4,}$/.test(p) ? all.filter((r) => r.uuid.startsWith(p)) : [];
    const found = [...new Set([...all.filter((r) => r.name === ref), ...pre])];
    if (found.length === 1) return found[0];
    if (found.length > 1)
      throw new BillboardError('AMBIGUOUS', `"${ref}" matches several VMs: ${found.map((r) => `${r.name} (${r.uuid})`).join('; ')}`);
    throw new BillboardError('NOT_FOUND', `no registration "${ref}"`);
  }
  async register(reg: NewRegistration, actor: string): Promise<Registration> {
    if (this.regs.has(reg.uuid)) throw new BillboardError('CONFLICT', `${reg.uuid} is already registered`);
    const r: Registration = {
      uuid: reg.uuid,
      name: reg.name,
      publicKey: reg.publicKey,
      keyFp: reg.publicKey ? keyFingerprint(reg.publicKey) : undefined,
      macs: reg.macs ?? [],
      os: reg.os,
      homeHost: reg.homeHost,
      definitionHash: reg.definitionHash,
      state: 'pending',
      origin: reg.origin,
      firstSeen: reg.firstSeen,
      createdAt: this.clock(),
      createdBy: actor,
    };
    await this.audit(actor, reg.origin === 'operator' ? 'register' : 'request', reg.uuid, { name: reg.name, origin: reg.origin });
    this.regs.set(r.uuid, r);
    return r;
  }
  async decide(
    uuid: string,
    to: Exclude<RegistrationState, 'pending'>,
    actor: string,
    reason?: string,
    bind?: Partial<Pick<Registration, 'publicKey' | 'macs' | 'definitionHash' | 'homeHost' | 'os'>>,
  ): Promise<Registration> {
    const cur = this.regs.get(uuid);
    if (!cur) throw new BillboardError('NOT_FOUND', `no registration ${uuid}`);
    const ok =
      (to === 'approved' && (cur.state === 'pending' || cur.state === 'rejected')) ||
      (to === 'rejected' && cur.state === 'pending') ||
      (to === 'revoked' && cur.state === 'approved');
    if (!ok) throw new BillboardError('CONFLICT', `cannot ${to} a ${cur.state} registration`);
    // as the real store: what approval binds (empty values bind nothing), audited with the registration's name
    const bound = Object.fromEntries(Object.entries(bind ?? {}).filter(([, v]) => v !== undefined && !(Array.isArray(v) && !v.length)));
    const action = to === 'approved' ? 'approve' : to === 'rejected' ? 'reject' : 'revoke';
    await this.audit(actor, action, uuid, {
      name: cur.name,
      from: cur.state,
      ...(reason ? { reason } : {}),
      ...(Object.keys(bound).length ? { bound } : {}),
    });
    const r: Registration = { ...cur, ...bound, state: to, decidedAt: this.clock(), decidedBy: actor, reason };
    if (bound.publicKey) r.keyFp = keyFingerprint(bound.publicKey as string);
    this.regs.set(uuid, r);
    return r;
  }
  async updateRegistration(
    uuid: string,
    patch: Partial<Omit<Registration, 'uuid' | 'state'>>,
    actor: string,
    action: string,
  ): Promise<Registration> {
    const cur = this.regs.get(uuid);
    if (!cur) throw new BillboardError('NOT_FOUND', `no registration ${uuid}`);
    await this.audit(actor, action, uuid, { ...patch });
    const r = { ...cur, ...patch };
    if (patch.publicKey) r.keyFp = keyFingerprint(patch.publicKey);
    this.regs.set(uuid, r);
    return r;
  }
  async audit(actor: string, action: string, target: string, details: Record<string, unknown> = {}): Promise<AuditEntry> {
    if (this.failAudit) throw new BillboardError('AUDIT_FAILED', 'audit write failed (simulated)');
    const e: AuditEntry = {
      seq: this.entries.length + 1,
      time: new Date(this.clock()).toISOString(),
      actor,
      action,
      target,
      details,
      prevHash: '',
      hash: '',
    };
    this.entries.push(e);
    return e;
  }
  auditLog(last?: number): readonly AuditEntry[] {
    return last ? this.entries.slice(-last) : [...this.entries];
  }
  verifyAudit(): AuditVerdict {
    return { ok: true, entries: this.entries.length, head: '' };
  }
  findings(): readonly Finding[] {
    return this.saved;
  }
  async saveFindings(findings: readonly Finding[]): Promise<void> {
    if (this.failSave) throw new BillboardError('STORE_WRITE', 'write failed (simulated)');
    this.saves++;
    this.saved = [...findings];
  }
  jobs(): readonly MigrationJob[] {
    return this.jobList;
  }
  async saveJob(job: MigrationJob): Promise<void> {
    const i = this.jobList.findIndex((j) => j.id === job.id);
    if (i >= 0) this.jobList[i] = job;
    else this.jobList.push(job);
  }
  readonly marks = new Map<string, BeaconMark>();
  markSaves = 0;
  beaconMarks(): ReadonlyMap<string, BeaconMark> {
    return this.marks;
  }
  async saveBeaconMarks(marks: ReadonlyMap<string, BeaconMark>): Promise<void> {
    if (this.failSave) throw new BillboardError('STORE_WRITE', 'write failed (simulated)');
    this.markSaves++;
    for (const [uuid, m] of marks) this.marks.set(uuid.toLowerCase(), { ...m });
  }
  stats() {
    return { registrations: this.regs.size, auditEntries: this.entries.length, bytes: 0, lastWriteMs: 0 };
  }
  async close(): Promise<void> {}
}

/** An approved registration, for test setups. */
export function approved(p: Partial<Registration> & { uuid: string; name: string }): Registration {
  return {
    macs: [],
    state: 'approved',
    origin: 'operator',
    createdAt: 0,
    createdBy: 'test',
    ...p,
    keyFp: p.publicKey ? keyFingerprint(p.publicKey) : p.keyFp,
  };
}
