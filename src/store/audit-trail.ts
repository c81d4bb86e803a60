import type { AuditEntry } from '../model/types.js';

// The audit log as the store holds it in memory. A store with a long history has tens of thousands of
// entries, and nothing needs most of them at open: a write needs only the last entry (its seq and hash),
// the audit view only the last page. So entries read from the file stay as their JSON bytes until asked
// for, and are parsed (once) on demand; `audit verify` parses them all.
//
// A trail is an immutable view (`length` entries) over a shared append-only list: `append` returns a new
// trail, and the old one still reads as before. That is what lets the store roll a failed write back by
// keeping the old document.

export class AuditTrail {
  private constructor(
    private readonly items: (AuditEntry | Buffer)[],
    readonly length: number,
    private readonly parse: (line: Buffer) => AuditEntry,
  ) {}

  /** `parse` turns a line into its entry (doc-codec's parseAuditLine: it also keeps the line as the entry's bytes) */
  static empty(parse: (line: Buffer) => AuditEntry): AuditTrail {
    return new AuditTrail([], 0, parse);
  }

  /** entries, or their JSON lines (parsed on demand by `parse`) */
  static of(items: (AuditEntry | Buffer)[], parse: (line: Buffer) => AuditEntry): AuditTrail {
    return new AuditTrail(items, items.length, parse);
  }

  /** entry i (0-based), parsed on first use; throws on a line that is not an entry */
  at(i: number): AuditEntry {
    if (i < 0 || i >= this.length) throw new RangeError(`audit entry ${i} of ${this.length}`);
    const x = this.items[i]!;
    if (!Buffer.isBuffer(x)) return x;
    const e = this.parse(x);
    this.items[i] = e;
    return e;
  }

  last(): AuditEntry | undefined {
    return this.length ? this.at(this.length - 1) : undefined;
  }

  slice(from = 0, to = this.length): AuditEntry[] {
    const out: AuditEntry[] = [];
    for (let i = Math.max(0, from); i < Math.min(to, this.length); i++) out.push(this.at(i));
    return out;
  }

  /** entry i as stored: its JSON line if it was never parsed, else the entry */
  raw(i: number): AuditEntry | Buffer {
    return this.items[i]!;
  }

  append(entry: AuditEntry): AuditTrail {
    // a longer view over the list may exist only from a write that failed and was rolled back: drop its tail
    if (this.items.length !== this.length) this.items.length = this.length;
    this.items.push(entry);
    return new AuditTrail(this.items, this.length + 1, this.parse);
  }
}
