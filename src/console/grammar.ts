import { BillboardError } from '../model/errors.js';
import { MAX_TEXT_CHARS, nameProblem, safeText } from '../model/text.js';
import { MAX_BANDWIDTH_MIBS, MAX_DOWNTIME_MS } from '../migration/limits.js';

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

const VM = { name: 'VM', required: true };
const JOB = { name: 'JOB', required: true };
const note = { type: 'string', arg: 'TEXT', text: true, desc: 'a note kept in the audit log' } as const;
const reason = { type: 'string', arg: 'TEXT', text: true, desc: 'why, kept in the audit log' } as const;
const host = { type: 'string', arg: 'HOST', desc: 'the host (as named in the config) the VM runs on' } as const;

export const COMMANDS: CommandSpec[] = [
  { name: 'help', args: [{ name: 'COMMAND', required: false, variadic: true }], flags: {}, mutating: false,
    summary: 'list the commands, or explain one', examples: ['help', 'help migrate'] },
  { name: 'hosts', args: [], flags: {}, mutating: false,
    summary: 'lab hosts: up/down, last scan, domains, free memory', examples: ['hosts'] },
  { name: 'vms', args: [{ name: 'FILTER', required: false }], flags: {}, mutating: false,
    summary: 'the Billboard: every VM with hosts, state, registration, last beacon and findings (FILTER: regex on any column; !REGEX inverts)',
    examples: ['vms', 'vms web', 'vms !ok'] },
  { name: 'show', args: [VM], flags: {}, mutating: false,
    summary: 'one VM in full: instances, registration, last beacon, findings', examples: ['show web-01', 'show 1111'] },
  { name: 'scan', args: [{ name: 'HOST', required: false, variadic: true }], flags: {}, mutating: false,
    summary: 'scan hosts now (all when none named)', examples: ['scan', 'scan lab-a lab-b'] },
  { name: 'pending', args: [], flags: {}, mutating: false,
    summary: 'registration requests waiting for a decision', examples: ['pending'] },
  { name: 'findings', args: [], flags: { all: { type: 'boolean', desc: 'include resolved findings' } }, mutating: false,
    summary: 'open and acknowledged findings, worst first', examples: ['findings', 'findings --all'] },
  { name: 'ack', args: [{ name: 'FINDING', required: true }], flags: { note }, mutating: true,
    summary: 'acknowledge a finding (it stays visible until its cause clears)', examples: ['ack F-3 --note "known clone, ticket 42"'] },
  { name: 'register', args: [{ name: 'NAME', required: true, vmName: true }], mutating: true,
    flags: {
      uuid: { type: 'string', arg: 'UUID', desc: 'the VM\'s UUID (required)' },
      pubkey: { type: 'string', arg: 'KEY', desc: 'the agent\'s public key (base64, from `billboard-beacon keygen`); omit for an agentless VM' },
      mac: { type: 'string', arg: 'MAC', repeat: true, desc: 'an expected MAC address (repeatable)' },
      os: { type: 'string', arg: 'OS', text: true, desc: 'expected operating system' },
      host: { type: 'string', arg: 'HOST', desc: 'home host: running anywhere else without an authorized migration is a finding' },
    },
    summary: 'register a VM identity (pending until approved)',
    examples: ['register web-01 --uuid 11111111-2222-3333-4444-555555555555 --mac 52:54:00:aa:bb:01 --host lab-a'] },
  { name: 'approve', args: [VM], mutating: true,
    flags: {
      note,
      key: { type: 'string', arg: 'SHA256:…', desc: 'confirm the fingerprint of a key that arrived from a beacon after the request (approve says when)' },
    },
    summary: 'approve a pending registration: binds its key, MACs, definition and home host',
    examples: ['approve web-01 --note "ticket 17"', 'approve 035eed6f --key SHA256:1MEFQIJtUnEB…'] },
  { name: 'reject', args: [VM], flags: { reason }, mutating: true,
    summary: 'reject a pending registration', examples: ['reject 3f2a --reason "not ours"'] },
  { name: 'revoke', args: [VM], flags: { reason }, mutating: true,
    summary: 'revoke an approved VM: its beacons count as forged from now on', examples: ['revoke db-01 --reason "key leaked"'] },
  { name: 'stop', args: [VM], flags: { host }, mutating: true,
    summary: 'destroy (hard stop) a VM on a host', examples: ['stop web-01 --host lab-b'] },
  { name: 'suspend', args: [VM], flags: { host }, mutating: true,
    summary: 'pause a VM on a host', examples: ['suspend web-01 --host lab-b'] },
  { name: 'isolate', args: [VM], flags: { host }, mutating: true,
    summary: 'set every network link of a VM down on a host', examples: ['isolate web-01 --host lab-b'] },
  { name: 'migrate', args: [VM], mutating: true,
    flags: {
      to: { type: 'string', arg: 'HOST', desc: 'destination host (required)' },
      bandwidth: { type: 'number', arg: 'MIBS', max: MAX_BANDWIDTH_MIBS, desc: 'bandwidth cap in MiB/s (whole number)' },
      'max-downtime': { type: 'number', arg: 'MS', max: MAX_DOWNTIME_MS, desc: `maximum tolerated downtime in ms (whole number, at most ${MAX_DOWNTIME_MS})` },
    },
    summary: 'request a live migration; it waits for `authorize`', examples: ['migrate db-01 --to lab-b --bandwidth 64'] },
  { name: 'authorize', args: [JOB], flags: {}, mutating: true,
    summary: 'authorize a requested migration and start it', examples: ['authorize J-1', 'authorize db-01'] },
  { name: 'deny', args: [JOB], flags: { reason }, mutating: true,
    summary: 'deny a requested migration', examples: ['deny J-1 --reason "change freeze"'] },
  { name: 'tune', args: [JOB], mutating: true,
    flags: {
      bandwidth: { type: 'number', arg: 'MIBS', max: MAX_BANDWIDTH_MIBS, desc: 'new bandwidth cap in MiB/s (whole number)' },
      'max-downtime': { type: 'number', arg: 'MS', max: MAX_DOWNTIME_MS, desc: `new maximum tolerated downtime in ms (whole number, at most ${MAX_DOWNTIME_MS}; raising it needs another operator under the two-person rule)` },
    },
    summary: 'change bandwidth or max downtime of a migration still in pre-copy (what the convergence estimate suggests)',
    examples: ['tune J-1 --bandwidth 128', 'tune db-01 --max-downtime 500'] },
  { name: 'jobs', args: [], flags: {}, mutating: false, summary: 'migration jobs and their stages', examples: ['jobs'] },
  { name: 'watch', args: [JOB], flags: {}, mutating: false,
    summary: 'follow a migration stage by stage until it ends', examples: ['watch J-1'] },
  { name: 'abort', args: [JOB], flags: {}, mutating: true,
    summary: 'abort a running migration (the VM stays on its source)', examples: ['abort J-1'] },
  { name: 'audit', args: [], flags: { last: { type: 'number', arg: 'N', desc: 'only the last N entries' } }, mutating: false,
    summary: 'the tamper-evident audit log', examples: ['audit --last 20'] },
  { name: 'audit verify', args: [],
    flags: {
      'expect-head': { type: 'string', arg: 'HASH',
        desc: 'a head printed earlier and kept where the store cannot reach (another host, a ticket): fails (AUDIT_HEAD_MISMATCH) unless it is still in the chain. This is the witness that catches a store cut back to an earlier state, which verifies on its own' },
    },
    mutating: false,
    summary: 'recompute the audit hash chain, name the first broken entry, and print the head hash (keep it elsewhere as a witness: see --expect-head)',
    examples: ['audit verify', 'audit verify --expect-head 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'] },
  { name: 'wait', args: [{ name: 'SECONDS', required: true }], flags: {}, mutating: false, scriptOnly: true,
    summary: 'pause the script while the engine keeps running (beacons, scans)', examples: ['wait 5'] },
];

const byName = new Map(COMMANDS.map((c) => [c.name, c]));

export function commandSpec(name: string): CommandSpec | undefined {
  return byName.get(name);
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

export interface ParsedCommand {
  spec: CommandSpec;
  args: string[];
  flags: Record<string, string | number | boolean | string[]>;
}

/** The command name of a line without parsing the rest ("" for blank); used for error lines. */
export function commandWord(line: string): string {
  let words: string[];
  try {
    words = tokenize(line);
  } catch {
    words = line.trim().split(/\s+/);
  }
  if (words[0] === 'audit' && words[1] === 'verify') return 'audit verify';
  return words[0] ?? '';
}

export function parseCommand(line: string): ParsedCommand {
  const words = tokenize(line);
  if (!words.length) throw new BillboardError('USAGE', 'empty command');
  refuseControls(words);
  let spec: CommandSpec | undefined;
  let rest: string[];
  if (words[0] === 'audit' && words[1] === 'verify') {
    spec = byName.get('audit verify');
    rest = words.slice(2);
  } else {
    spec = byName.get(words[0]!);
    rest = words.slice(1);
  }
  if (!spec) {
    const near = COMMANDS.map((c) => c.name).filter((n) => n.startsWith(words[0]!.slice(0, 2)));
    throw new BillboardError(
      'USAGE',
      `unknown command "${echo(words[0]!)}"${near.length ? ` (did you mean ${near.join(', ')}?)` : ''}; \`help\` lists them`,
    );
  }
  const args: string[] = [];
  const flags: ParsedCommand['flags'] = {};
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i]!;
    if (w.startsWith('--') && w.length > 2) {
      let name = w.slice(2);
      let value: string | undefined;
      const eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.slice(eq + 1);
        name = name.slice(0, eq);
      }
      const f = spec.flags[name];
      if (!f) {
        const known = Object.keys(spec.flags);
        throw new BillboardError(
          'USAGE',
          `${spec.name}: unknown option --${echo(name)}${known.length ? ` (options: ${known.map((k) => `--${k}`).join(', ')})` : ''}`,
        );
      }
      if (f.type === 'boolean') {
        if (value !== undefined) throw new BillboardError('USAGE', `${spec.name}: --${name} takes no value`);
        flags[name] = true;
        continue;
      }
      if (value === undefined) {
        value = rest[++i];
        if (value === undefined) throw new BillboardError('USAGE', `${spec.name}: --${name} needs a value (${f.arg ?? 'VALUE'})`);
      }
      if (f.type === 'number') {
        flags[name] = wholeNumber(spec, name, value, f.max);
      } else if (f.repeat) {
        flags[name] = [...((flags[name] as string[] | undefined) ?? []), value];
      } else {
        if (flags[name] !== undefined) throw new BillboardError('USAGE', `${spec.name}: --${name} given twice`);
        if (f.text && value.length > MAX_TEXT_CHARS) {
          throw new BillboardError('USAGE', `${spec.name}: --${name} is at most ${MAX_TEXT_CHARS} characters (got ${value.length})`);
        }
        flags[name] = value;
      }
    } else {
      args.push(w);
    }
  }
  const max = spec.args.some((a) => a.variadic) ? Infinity : spec.args.length;
  const min = spec.args.filter((a) => a.required).length;
  if (args.length < min) {
    throw new BillboardError('USAGE', `${spec.name}: missing ${spec.args[args.length]!.name} (usage: ${usage(spec)})`);
  }
  if (args.length > max) {
    throw new BillboardError('USAGE', `${spec.name}: unexpected argument "${echo(args[max]!)}" (usage: ${usage(spec)}; quote text with spaces)`);
  }
  spec.args.forEach((a, i) => {
    const problem = a.vmName && args[i] !== undefined ? nameProblem(args[i]) : undefined;
    if (problem) throw new BillboardError('USAGE', `${spec.name}: ${a.name} "${echo(args[i]!)}" refused: ${problem}`);
  });
  return { spec, args, flags };
}

/** A word from the line, cut short and made printable for an error message (a line may be 64 KiB). */
export function echo(word: string, max = 48): string {
  return safeText(word, max);
}

// eslint-disable-next-line no-control-regex
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
    const required = (spec.name === 'register' && k === 'uuid') || (spec.name === 'migrate' && k === 'to') ||
      (['stop', 'suspend', 'isolate'].includes(spec.name) && k === 'host');
    return required ? base : `[${base}${v.repeat ? '...' : ''}]`;
  });
  return [spec.name, ...a, ...f].join(' ');
}

export function isMutatingLine(line: string): boolean {
  try {
    return parseCommand(line).spec.mutating;
  } catch {
    const w = commandWord(line);
    return byName.get(w)?.mutating ?? false;
  }
}

export function helpText(command?: string): string {
  if (!command) {
    const width = Math.max(...COMMANDS.map((c) => c.name.length));
    return [
      'Commands (VM = name, UUID or unique UUID prefix; JOB = job id, or a VM with a pending/running job):',
      ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}${c.scriptOnly ? ' (script only)' : ''}`),
      '',
      '`help COMMAND` shows usage, options and examples.',
    ].join('\n');
  }
  const spec = byName.get(command);
  if (!spec) throw new BillboardError('NOT_FOUND', `no command "${command}"; \`help\` lists them`);
  const lines = [`usage: ${usage(spec)}`, '', `  ${spec.summary}${spec.mutating ? ' (changes state; audited; refused in read-only mode)' : ''}`];
  const flags = Object.entries(spec.flags);
  if (flags.length) {
    lines.push('', 'options:');
    for (const [k, v] of flags) lines.push(`  --${k}${v.type === 'boolean' ? '' : ` ${v.arg ?? 'VALUE'}`}`.padEnd(24) + v.desc);
  }
  lines.push('', 'examples:', ...spec.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

/** Completion for the palette: command names, then the command's flags. */
export function complete(partial: string): string[] {
  const words = partial.split(/\s+/);
  if (words.length <= 1) return COMMANDS.map((c) => c.name).filter((n) => n.startsWith(words[0] ?? ''));
  const last = words[words.length - 1]!;
  const name = words[0] === 'audit' && words[1] === 'verify' ? 'audit verify' : words[0]!;
  const spec = byName.get(name);
  if (!spec) return [];
  if (words[0] === 'audit' && words.length === 2) return ['verify'].filter((v) => v.startsWith(last));
  if (last.startsWith('-') || last === '') {
    return Object.keys(spec.flags)
      .map((f) => `--${f}`)
      .filter((f) => f.startsWith(last));
  }
  return [];
}
