import { BillboardError } from '../model/errors.js';
import { MAX_TEXT_CHARS, nameProblem, safeText } from '../model/text.js';

// The one command grammar of DESIGN.md, shared by the TUI's `:` palette and `billboard script`.
// This file only knows words: specs, tokenizing and parsing. What a command does lives in commands/.

export type FlagType = 'string' | 'number' | 'boolean';

export interface FlagSpec {
  /** number: a whole decimal number from 1 to max */
  type: FlagType;
  /** may be given several times (values collected in order) */
  repeat?: boolean;
  arg?: string;
  desc: string;
  /** number: the largest value accepted (default: the largest safe integer) */
  max?: number;
  /** string: free text kept in the store and audit log (at most MAX_TEXT_CHARS characters) */
  text?: boolean;
  /** the command cannot run without it */
  required?: boolean;
}

export interface ArgSpec {
  name: string;
  required: boolean;
  variadic?: boolean;
  /** a VM name entering the registry: it must pass nameProblem (model/text.ts) */
  vmName?: boolean;
}

export interface CommandSpec {
  /** one or two words: "audit verify" */
  name: string;
  args: ArgSpec[];
  flags: Record<string, FlagSpec>;
  summary: string;
  /** changes something (refused in read-only mode) */
  mutating: boolean;
  scriptOnly?: boolean;
  examples: string[];
}

/** Words several commands share. */
export const VM: ArgSpec = { name: 'VM', required: true };
export const JOB: ArgSpec = { name: 'JOB', required: true };
export const note: FlagSpec = { type: 'string', arg: 'TEXT', text: true, desc: 'a note kept in the audit log' };
export const reason: FlagSpec = { type: 'string', arg: 'TEXT', text: true, desc: 'why, kept in the audit log' };
export const host: FlagSpec = { type: 'string', arg: 'HOST', desc: 'the host (as named in the config) the VM runs on' };

/** The commands a grammar knows, by name (the console's is in vocabulary.ts). */
export interface Vocabulary<T extends CommandSpec = CommandSpec> {
  readonly list: readonly T[];
  get(name: string): T | undefined;
}

/** A vocabulary over a list of specs, in the order `help` shows them. */
export function vocabularyOf<T extends CommandSpec>(list: readonly T[]): Vocabulary<T> {
  const byName = new Map(list.map((c) => [c.name, c]));
  return { list, get: (name) => byName.get(name) };
}

/** Shell-like words: whitespace separates, "double" and 'single' quotes group, backslash escapes. */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw new BillboardError('USAGE', `unterminated ${quote} quote`);
  if (inWord) out.push(cur);
  return out;
}

export interface ParsedCommand<T extends CommandSpec = CommandSpec> {
  spec: T;
  args: string[];
  flags: Record<string, string | number | boolean | string[]>;
}

/** Commands named by two words (`audit verify`, `alerts test`, `hosts install-hook`): the first word, and the second it takes. */
const TWO_WORDS: Readonly<Record<string, string>> = { audit: 'verify', alerts: 'test', hosts: 'install-hook' };

function twoWordName(words: readonly string[]): string | undefined {
  const w = words[0];
  return w !== undefined && Object.hasOwn(TWO_WORDS, w) && TWO_WORDS[w] === words[1] ? `${w} ${words[1]}` : undefined;
}

/** The command name of a line without parsing the rest ("" for blank); used for error lines. */
export function commandWord(line: string): string {
  let words: string[];
  try {
    words = tokenize(line);
  } catch {
    words = line.trim().split(/\s+/);
  }
  return twoWordName(words) ?? words[0] ?? '';
}

export function parseCommand<T extends CommandSpec>(line: string, vocab: Vocabulary<T>): ParsedCommand<T> {
  const words = tokenize(line);
  if (!words.length) throw new BillboardError('USAGE', 'empty command');
  refuseControls(words);
  const two = twoWordName(words);
  const spec = vocab.get(two ?? words[0]!);
  const rest = words.slice(two ? 2 : 1);
  if (!spec) {
    const near = vocab.list.map((c) => c.name).filter((n) => n.startsWith(words[0]!.slice(0, 2)));
    const hint = near.length ? ` (did you mean ${near.join(', ')}?)` : '';
    throw new BillboardError('USAGE', `unknown command "${echo(words[0]!)}"${hint}; \`help\` lists them`);
  }
  const args: string[] = [];
  const flags: ParsedCommand<T>['flags'] = {};
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i]!;
    if (w.startsWith('--') && w.length > 2) i = parseFlag(spec, w.slice(2), rest, i, flags);
    else args.push(w);
  }
  checkArgs(spec, args);
  for (const [name, f] of Object.entries(spec.flags)) {
    if (f.required && flags[name] === undefined) {
      throw new BillboardError('USAGE', `${spec.name}: --${name} ${f.arg ?? 'VALUE'} is required (usage: ${usage(spec)})`);
    }
  }
  return { spec, args, flags };
}

/** One `--name[=value]` (its value may be the next word). @returns the index of the last word it used */
function parseFlag(spec: CommandSpec, word: string, rest: string[], i: number, flags: ParsedCommand['flags']): number {
  const eq = word.indexOf('=');
  const name = eq >= 0 ? word.slice(0, eq) : word;
  let value = eq >= 0 ? word.slice(eq + 1) : undefined;
  const f = spec.flags[name];
  if (!f) {
    const known = Object.keys(spec.flags);
    const options = known.length ? ` (options: ${known.map((k) => `--${k}`).join(', ')})` : '';
    throw new BillboardError('USAGE', `${spec.name}: unknown option --${echo(name)}${options}`);
  }
  if (f.type === 'boolean') {
    if (value !== undefined) throw new BillboardError('USAGE', `${spec.name}: --${name} takes no value`);
    flags[name] = true;
    return i;
  }
  if (value === undefined) {
    value = rest[++i];
    if (value === undefined) throw new BillboardError('USAGE', `${spec.name}: --${name} needs a value (${f.arg ?? 'VALUE'})`);
  }
  if (f.type === 'number') flags[name] = wholeNumber(spec, name, value, f.max);
  else if (f.repeat) flags[name] = [...((flags[name] as string[] | undefined) ?? []), value];
  else {
    if (flags[name] !== undefined) throw new BillboardError('USAGE', `${spec.name}: --${name} given twice`);
    if (f.text && value.length > MAX_TEXT_CHARS) {
      throw new BillboardError('USAGE', `${spec.name}: --${name} is at most ${MAX_TEXT_CHARS} characters (got ${value.length})`);
    }
    flags[name] = value;
  }
  return i;
}

/** the positional words: as many as the spec takes, and names that follow the name rule */
function checkArgs(spec: CommandSpec, args: string[]): void {
  const max = spec.args.some((a) => a.variadic) ? Infinity : spec.args.length;
  const min = spec.args.filter((a) => a.required).length;
  if (args.length < min) {
    throw new BillboardError('USAGE', `${spec.name}: missing ${spec.args[args.length]!.name} (usage: ${usage(spec)})`);
  }
  if (args.length > max) {
    const extra = echo(args[max]!);
    throw new BillboardError('USAGE', `${spec.name}: unexpected argument "${extra}" (usage: ${usage(spec)}; quote text with spaces)`);
  }
  spec.args.forEach((a, i) => {
    const problem = a.vmName && args[i] !== undefined ? nameProblem(args[i]) : undefined;
    if (problem) throw new BillboardError('USAGE', `${spec.name}: ${a.name} "${echo(args[i]!)}" refused: ${problem}`);
  });
}

/** A word from the line, cut short and made printable for an error message (a line may be 64 KiB). */
export function echo(word: string, max = 48): string {
  return safeText(word, max);
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Refuse C0, DEL and C1 anywhere in a command: no name, reference or note needs them, and ESC or NUL in the store
 *  would reach every terminal that later prints it. */
function refuseControls(words: string[]): void {
  const bad = words.find((w) => CONTROL.test(w));
  if (bad === undefined) return;
  const c = bad.match(CONTROL)![0].codePointAt(0)!;
  throw new BillboardError(
    'USAGE',
    `control character \\x${c.toString(16).padStart(2, '0')} in "${echo(bad)}": commands take no control characters (C0, DEL, C1)`,
  );
}

function wholeNumber(spec: CommandSpec, flag: string, value: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^[0-9]{1,16}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= max)) {
    throw new BillboardError('USAGE', `${spec.name}: --${flag} must be a whole number from 1 to ${max}, got "${echo(value)}"`);
  }
  return n;
}

export function usage(spec: CommandSpec): string {
  const a = spec.args.map((x) => (x.required ? x.name : `[${x.name}${x.variadic ? '...' : ''}]`));
  const f = Object.entries(spec.flags).map(([k, v]) => {
    const base = v.type === 'boolean' ? `--${k}` : `--${k} ${v.arg ?? 'VALUE'}`;
    return v.required ? base : `[${base}${v.repeat ? '...' : ''}]`;
  });
  return [spec.name, ...a, ...f].join(' ');
}

export function isMutatingLine(line: string, vocab: Vocabulary): boolean {
  try {
    return parseCommand(line, vocab).spec.mutating;
  } catch {
    return vocab.get(commandWord(line))?.mutating ?? false;
  }
}

export function helpText(vocab: Vocabulary, command?: string): string {
  if (!command) {
    const width = Math.max(...vocab.list.map((c) => c.name.length));
    return [
      'Commands (VM = name, UUID or unique UUID prefix; JOB = job id, or a VM with a pending/running job):',
      ...vocab.list.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}${c.scriptOnly ? ' (script only)' : ''}`),
      '',
      '`help COMMAND` shows usage, options and examples.',
    ].join('\n');
  }
  const spec = vocab.get(command);
  if (!spec) throw new BillboardError('NOT_FOUND', `no command "${command}"; \`help\` lists them`);
  const lines = [
    `usage: ${usage(spec)}`,
    '',
    `  ${spec.summary}${spec.mutating ? ' (changes state; audited; refused in read-only mode)' : ''}`,
  ];
  const flags = Object.entries(spec.flags);
  if (flags.length) {
    lines.push('', 'options:');
    for (const [k, v] of flags) lines.push(`  --${k}${v.type === 'boolean' ? '' : ` ${v.arg ?? 'VALUE'}`}`.padEnd(24) + v.desc);
  }
  lines.push('', 'examples:', ...spec.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

/** Completion for the palette: command names, then the command's flags. */
export function complete(partial: string, vocab: Vocabulary): string[] {
  const words = partial.split(/\s+/);
  if (words.length <= 1) return vocab.list.map((c) => c.name).filter((n) => n.startsWith(words[0] ?? ''));
  const last = words[words.length - 1]!;
  const second = Object.hasOwn(TWO_WORDS, words[0]!) ? TWO_WORDS[words[0]!] : undefined;
  if (second !== undefined && words.length === 2) return [second].filter((v) => v.startsWith(last));
  const spec = vocab.get(twoWordName(words) ?? words[0]!);
  if (!spec) return [];
  if (last.startsWith('-') || last === '') {
    return Object.keys(spec.flags)
      .map((f) => `--${f}`)
      .filter((f) => f.startsWith(last));
  }
  return [];
}
