import type { Finding } from '../model/types.js';
import { isSourceKey } from './untrusted.js';

const EMPTY: readonly string[] = Object.freeze([]);

/**
 * Which active findings belong to which subject, and which VMs each concerns. A subject is what a detector judges
 * as one: 'vm:UUID', 'mac:M', 'ip:A', 'src:KEY' (a source tally) or 'enf:KEY' (the enforcement failures of one
 * finding). Evaluating a subject yields the keys it raises now; settle() resolves the ones it no longer raises.
 */
export class FindingSubjects {
  private readonly bySubject = new Map<string, Set<string>>();
  /** finding key → uuids it concerns; and the reverse, for rows */
  private readonly involved = new Map<string, readonly string[]>();
  private readonly byVm = new Map<string, Set<string>>();

  /** @param rowChanged a VM's set of findings changed: its row must be rebuilt */
  constructor(private readonly rowChanged: (uuid: string) => void) {}

  has(subject: string): boolean {
    return this.bySubject.has(subject);
  }

  /** the subject's key set, created when missing (for keys that are added one at a time) */
  add(subject: string, key: string): void {
    let s = this.bySubject.get(subject);
    if (!s) this.bySubject.set(subject, (s = new Set()));
    s.add(key);
  }

  subjects(): string[] {
    return [...this.bySubject.keys()];
  }

  /**
   * The subject now raises exactly `next`: each earlier key not in it is resolved — unless keep(key) says it waits
   * (a finding reloaded from the store waits for fresh evidence).
   */
  settle(subject: string, next: Set<string> | undefined, keep: (key: string) => boolean, resolve: (key: string) => void): void {
    const prev = this.bySubject.get(subject);
    if (prev) {
      for (const key of prev) {
        if (next?.has(key)) continue;
        if (keep(key)) {
          (next ??= new Set()).add(key);
          continue;
        }
        resolve(key);
      }
    }
    if (next?.size) this.bySubject.set(subject, next);
    else this.bySubject.delete(subject);
  }

  /** take a subject's keys away (the caller resolves them) */
  take(subject: string): Set<string> | undefined {
    const s = this.bySubject.get(subject);
    this.bySubject.delete(subject);
    return s;
  }

  setInvolved(key: string, uuids: readonly string[]): void {
    const old = this.involved.get(key) ?? EMPTY;
    if (old.length === uuids.length && old.every((u, i) => u === uuids[i])) return;
    for (const u of old) {
      if (uuids.includes(u)) continue;
      this.byVm.get(u)?.delete(key);
      this.rowChanged(u);
    }
    for (const u of uuids) {
      let s = this.byVm.get(u);
      if (!s) this.byVm.set(u, (s = new Set()));
      s.add(key);
      this.rowChanged(u);
    }
    this.involved.set(key, uuids);
  }

  /** a resolved key concerns nobody any more */
  release(key: string): void {
    this.setInvolved(key, EMPTY);
    this.involved.delete(key);
  }

  vmKeys(uuid: string): Iterable<string> {
    return this.byVm.get(uuid) ?? EMPTY;
  }

  hasVmKeys(uuid: string): boolean {
    return (this.byVm.get(uuid)?.size ?? 0) > 0;
  }

  forgetVm(uuid: string): void {
    this.byVm.delete(uuid);
    this.bySubject.delete(`vm:${uuid}`);
  }
}

/** The subject a finding belongs to, from its key and code. */
/** the subject of a finding about a host itself (its admission hook) */
export const hostSubject = (host: string): string => `host:${host}`;

export function subjectOf(f: Finding): string {
  if (isSourceKey(f.key)) return `src:${f.key}`;
  const enf = f.key.indexOf(':enforce:');
  if (enf >= 0) return `enf:${f.key.slice(0, enf)}`;
  if (f.code === 'DUPLICATE_MAC') return `mac:${f.key.slice('DUPLICATE_MAC:'.length)}`;
  if (f.code === 'IP_CONFLICT') return `ip:${f.key.slice('IP_CONFLICT:'.length)}`;
  if (f.code === 'ADMISSION_BYPASSED') return hostSubject(f.key.slice('ADMISSION_BYPASSED:'.length));
  return `vm:${f.vm}`;
}
