// Palette completion of values from the live snapshot: VM names and UUIDs, hosts, job ids and finding ids, at
// the places the command's grammar expects them. Command names and flags come from the console's own completion.
import { VOCABULARY } from '../console/vocabulary.js';
import type { TuiData } from './store.js';

const MAX = 50;

/** the kind of value the last word of `text` is (an argument's or a flag's name in the grammar), if any */
export function slotOf(text: string): { kind: string; prefix: string } | undefined {
  const words = text.split(/\s+/);
  if (words.length <= 1) return undefined;
  const audit = words[0] === 'audit' && words[1] === 'verify';
  const spec = VOCABULARY.get(audit ? 'audit verify' : words[0]!);
  if (!spec) return undefined;
  const prefix = words[words.length - 1]!;
  const before = words.slice(audit ? 2 : 1, -1);
  const prev = before[before.length - 1];
  if (prev?.startsWith('--')) {
    const flag = spec.flags[prev.slice(2)];
    if (flag && flag.type !== 'boolean') return { kind: flag.arg ?? 'VALUE', prefix };
  }
  if (prefix.startsWith('-')) return undefined;
  let positional = 0;
  for (let i = 0; i < before.length; i++) {
    const w = before[i]!;
    if (w.startsWith('--')) {
      const flag = spec.flags[w.slice(2)];
      if (flag && flag.type !== 'boolean') i++;
    } else positional++;
  }
  const arg = spec.args[Math.min(positional, spec.args.length - 1)];
  if (!arg || (positional >= spec.args.length && !arg.variadic)) return undefined;
  return { kind: arg.name, prefix };
}

function values(kind: string, d: TuiData): string[] {
  const rows = d.snapshot.rows;
  switch (kind) {
    case 'VM':
      return [...rows.map((r) => r.name), ...d.pending.map((r) => r.name), ...rows.map((r) => r.uuid)];
    case 'JOB':
      return [...d.jobs.map((j) => j.id), ...d.jobs.filter((j) => !j.endedAt).map((j) => j.vmName)];
    case 'FINDING':
      return d.snapshot.findings.filter((f) => f.state !== 'resolved').map((f) => f.id);
    case 'HOST':
      return d.snapshot.hosts.map((h) => h.name);
    case 'COMMAND':
      return VOCABULARY.list.map((c) => c.name);
    default:
      return [];
  }
}

/**
 * Completions for the last word of `text` from the live data, or undefined when the last word is not a value the
 * snapshot knows (a command name or a flag: the console's completion answers those). An empty list means "a value
 * goes here, and none matches" (never the flags again).
 */
export function completeValue(text: string, d: TuiData): string[] | undefined {
  const slot = slotOf(text);
  if (!slot) return undefined;
  const seen = new Set<string>();
  for (const v of values(slot.kind, d)) {
    if (v.startsWith(slot.prefix) || (slot.kind === 'VM' && v.toLowerCase().startsWith(slot.prefix.toLowerCase()))) seen.add(v);
    if (seen.size >= MAX) break;
  }
  return [...seen];
}
