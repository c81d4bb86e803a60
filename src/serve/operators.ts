import { timingSafeEqual } from 'node:crypto';
import ssh2 from 'ssh2';
import { sshFingerprint } from '../hosts/ssh/known-hosts.js';
import type { OperatorConfig, Role } from '../model/config.js';

// Who may attach: the config's operators[], each a name, a role and OpenSSH public keys. A key is one operator's.

export interface Operator {
  name: string;
  role: Role;
}

interface KeyEntry {
  operator: Operator;
  blob: Buffer;
  key: ssh2.ParsedKey;
}

export class OperatorDirectory {
  private readonly entries: KeyEntry[] = [];

  constructor(operators: readonly OperatorConfig[]) {
    for (const o of operators) {
      for (const line of o.keys) {
        const parsed = ssh2.utils.parseKey(line);
        if (parsed instanceof Error)
          throw new Error(`operator ${o.name}: key "${line.slice(0, 40)}…" is not a public key: ${parsed.message}`);
        const key = Array.isArray(parsed) ? parsed[0]! : parsed;
        this.entries.push({ operator: { name: o.name, role: o.role }, blob: key.getPublicSSH(), key });
      }
    }
  }

  /** the operator whose key this is (a raw SSH public key blob) */
  find(blob: Buffer): { operator: Operator; key: ssh2.ParsedKey } | undefined {
    for (const e of this.entries) {
      if (e.blob.length === blob.length && timingSafeEqual(e.blob, blob)) return { operator: e.operator, key: e.key };
    }
    return undefined;
  }

  /** the operator named `name` with its role, if still listed */
  byName(name: string): Operator | undefined {
    return this.entries.find((e) => e.operator.name === name)?.operator;
  }

  /** operators, for comparing two configs: name → role and key fingerprints */
  summary(): Map<string, string> {
    const m = new Map<string, string>();
    for (const e of this.entries) m.set(e.operator.name, `${m.get(e.operator.name) ?? e.operator.role} ${sshFingerprint(e.blob)}`);
    return m;
  }
}
