import type { ActionUi } from '../keymap.js';

/**
 * How a VM is named in prompts: its (escaped) name and short UUID, so a look-alike name cannot pass for another.
 * Actions themselves are aimed by UUID, never by a display name (which a guest or a host chooses).
 */
export function vmLabel(ui: ActionUi, uuid: string, fallbackName?: string): string {
  const d = ui.data();
  const name = d.snapshot.rows.find((r) => r.uuid === uuid)?.name ?? d.pending.find((r) => r.uuid === uuid)?.name ?? fallbackName;
  return name && name !== uuid ? `${name} (${uuid.slice(0, 8)})` : uuid;
}

/**
 * A value as one word of a grammar line (tokenize): line breaks become spaces; a value with whitespace, a quote or
 * a backslash goes in double quotes, with `"` and `\` escaped, so a reason like `don't` arrives as typed.
 */
export function quoteArg(s: string): string {
  const t = s.replace(/[\r\n]+/g, ' ').trim();
  return /[\s"'\\]/.test(t) || t === '' ? `"${t.replace(/["\\]/g, '\\$&')}"` : t;
}
