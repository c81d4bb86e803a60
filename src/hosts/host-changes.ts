import type { HostConfig } from '../model/config.js';

export interface HostChanges {
  added: string[];
  removed: string[];
  /** same name, another config: the host is closed and opened again */
  changed: string[];
}

/** What going from the hosts `cur` to `next` changes, by name (the scanner applies it; a reload audits it first). */
export function hostChanges(cur: readonly HostConfig[], next: readonly HostConfig[]): HostChanges {
  const before = new Map(cur.map((h) => [h.name, JSON.stringify(h)]));
  const after = new Map(next.map((h) => [h.name, JSON.stringify(h)]));
  return {
    added: [...after.keys()].filter((n) => !before.has(n)),
    removed: [...before.keys()].filter((n) => !after.has(n)),
    changed: [...before.keys()].filter((n) => after.has(n) && after.get(n) !== before.get(n)),
  };
}
