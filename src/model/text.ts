/**
 * Text from outside (hosts, beacons, error text, the store, operators) ends up on an operator's terminal and in
 * commands aimed at VMs. These helpers make it safe where it enters the model, so that no later layer has to.
 */

/** C0, DEL and C1 controls: ESC starts terminal sequences (OSC 52 clipboard writes, OSC 0 titles), C1 CSI too */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** bidi embeddings, overrides and isolates, and the marks: they reorder what the operator reads */
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
/** zero-width and invisible joiners: two names that look the same and are not */
const INVISIBLE = /[\u00ad\u180e\u200b-\u200d\u2060-\u2064\ufeff]/;
const UNSAFE = new RegExp(`${CONTROL.source}|${BIDI.source}|${INVISIBLE.source}`, 'gu');

/** The longest name, in UTF-8 bytes, anywhere (beacon codec, grammar, registrations). */
export const MAX_NAME_BYTES = 64;

/** The longest free text (OS strings, notes, reasons, error lines) kept from outside, in characters. */
export const MAX_TEXT_CHARS = 256;

/** Whether s holds anything a terminal would act on or hide: control, escape, bidi or zero-width characters. */
export function hasUnsafeChars(s: string): boolean {
  return CONTROL.test(s) || BIDI.test(s) || INVISIBLE.test(s);
}

/**
 * Text from outside, made safe to print: every control, escape, bidi and zero-width character is shown escaped
 * (`\x1b`, `\u202e`), so the operator sees that it was there and the terminal acts on none of it. Cut to max
 * characters (with …), never in the middle of an escape.
 */
export function safeText(s: unknown, max = MAX_TEXT_CHARS): string {
  const raw = typeof s === 'string' ? s : s === undefined || s === null ? '' : String(s);
  const escaped = raw.replace(UNSAFE, (c) => {
    const cp = c.codePointAt(0)!;
    return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  });
  if (escaped.length <= max) return escaped;
  let cut = escaped.slice(0, Math.max(0, max - 1));
  const esc = cut.lastIndexOf('\\');
  if (esc >= 0 && esc >= cut.length - 6) cut = cut.slice(0, esc);
  return `${cut}…`;
}

const UUID_TEMPLATE = 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx';

/**
 * Whether a name could be read as a UUID or a UUID prefix (and so be confused with another VM's identity): hex
 * digits with dashes only where a UUID has them, or 32 hex digits without dashes.
 */
export function looksLikeUuidRef(name: string): boolean {
  const s = name.trim().toLowerCase();
  if (!s) return false;
  if (/^[0-9a-f]{32}$/.test(s)) return true;
  if (s.length > UUID_TEMPLATE.length) return false;
  for (let i = 0; i < s.length; i++) {
    const want = UUID_TEMPLATE[i];
    if (want === '-' ? s[i] !== '-' : !/[0-9a-f]/.test(s[i])) return false;
  }
  return true;
}

/**
 * Why a VM name is refused, or undefined when it is fine. One rule wherever names enter (beacon, scan,
 * `register`): at most 64 UTF-8 bytes, no control / escape / bidi / zero-width characters, no quotes or
 * backslashes (they change how the grammar tokenises a command), no surrounding space, and nothing that reads as
 * a UUID or UUID prefix (actions resolve a full UUID first; a name must never stand in for another VM's UUID).
 */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return 'a name cannot be empty';
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return `a name is at most ${MAX_NAME_BYTES} bytes`;
  if (hasUnsafeChars(name)) return 'a name cannot hold control, escape, bidi or zero-width characters';
  if (/["'`\\]/.test(name)) return 'a name cannot hold quotes or backslashes';
  if (name.trim() !== name) return 'a name cannot start or end with a space';
  if (looksLikeUuidRef(name)) return 'a name cannot look like a UUID or a UUID prefix';
  return undefined;
}
