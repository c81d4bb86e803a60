// The agent's command line: flags in, a checked AgentArgs out, or a UsageError (exit 2) saying what is wrong.
import { DEFAULT_RESIGN_EVERY, ipBytes, macBytes } from '../wire.js';

/** A wrong command line: main() prints it with a pointer to --help and exits 2. */
export class UsageError extends Error {}

export interface AgentArgs {
  to: string;
  key: string;
  uuid?: string;
  name?: string;
  macs: string[];
  ips: string[];
  os?: string;
  hostname?: string;
  bootId?: string;
  intervalS: number;
  count?: number;
  state?: string;
  oneWay: boolean;
  resignEvery: number;
  verbose: boolean;
}

const VALUE_FLAGS = new Set([
  '--to',
  '--key',
  '--uuid',
  '--name',
  '--mac',
  '--ip',
  '--os',
  '--hostname',
  '--boot-id',
  '--interval',
  '--count',
  '--state',
  '--resign-every',
  '--out',
]);
const BOOL_FLAGS = new Set(['--one-way', '--verbose', '--help', '-h']);

/** `--flag value`, `--flag=value` and bare switches, by name; an unknown flag or a missing value is a UsageError. */
export function parseFlags(args: string[]): Map<string, string[]> {
  const flags = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    let a = args[i]!;
    let value: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      value = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    if (BOOL_FLAGS.has(a)) {
      if (value !== undefined) throw new UsageError(`${a} takes no value`);
      flags.set(a, ['']);
      continue;
    }
    if (!VALUE_FLAGS.has(a)) throw new UsageError(`unknown option ${JSON.stringify(a)}`);
    if (value === undefined) {
      value = args[++i];
      if (value === undefined || (value.startsWith('--') && value.length > 2)) throw new UsageError(`${a} needs a value`);
    }
    flags.set(a, [...(flags.get(a) ?? []), value]);
  }
  return flags;
}

/** The one value of a flag given at most once. */
export function one(flags: Map<string, string[]>, name: string): string | undefined {
  const v = flags.get(name);
  if (v && v.length > 1) throw new UsageError(`${name} given more than once`);
  return v?.[0];
}

function positiveNumber(s: string | undefined, name: string, integer: boolean): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isSafeInteger(n))) {
    throw new UsageError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(s)}`);
  }
  return n;
}

/** The agent's flags, checked: required ones present, numbers in range, MACs and IPs that encode. */
export function parseAgentArgs(flags: Map<string, string[]>): AgentArgs {
  const to = one(flags, '--to');
  const key = one(flags, '--key');
  if (!to) throw new UsageError('--to HOST:PORT is required');
  if (!key) throw new UsageError('--key FILE is required (make one with: billboard-beacon keygen --out FILE)');
  if (flags.has('--out')) throw new UsageError('--out belongs to keygen');
  const args: AgentArgs = {
    to,
    key,
    uuid: one(flags, '--uuid'),
    name: one(flags, '--name'),
    macs: flags.get('--mac') ?? [],
    ips: flags.get('--ip') ?? [],
    os: one(flags, '--os'),
    hostname: one(flags, '--hostname'),
    bootId: one(flags, '--boot-id'),
    intervalS: positiveNumber(one(flags, '--interval'), '--interval', false) ?? 5,
    count: positiveNumber(one(flags, '--count'), '--count', true),
    state: one(flags, '--state'),
    oneWay: flags.has('--one-way'),
    resignEvery: positiveNumber(one(flags, '--resign-every'), '--resign-every', true) ?? DEFAULT_RESIGN_EVERY,
    verbose: flags.has('--verbose'),
  };
  if (args.intervalS < 0.01 || args.intervalS > 86400) throw new UsageError('--interval must be between 0.01 and 86400 seconds');
  for (const m of args.macs) macBytes(m); // WireError → usage
  for (const ip of args.ips) ipBytes(ip);
  return args;
}

/** "host:port", "[v6]:port" → parts. */
export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--to must be HOST:PORT, got ${JSON.stringify(s)}`);
  return { host: m[1]!, port };
}
