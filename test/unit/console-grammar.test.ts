import { describe, expect, it } from 'vitest';
import { BillboardError } from '../../src/model/errors.js';
import { commandWord, tokenize, usage, type CommandSpec } from '../../src/console/grammar.js';
import { COMMANDS, complete, helpText, isMutatingLine, parseCommand, VOCABULARY } from '../../src/console/vocabulary.js';

const commandSpec = (name: string) => VOCABULARY.get(name);

/** The error a parse raises, so tests can assert its code and message. */
function parseError(line: string): BillboardError {
  try {
    parseCommand(line);
  } catch (e) {
    expect(e).toBeInstanceOf(BillboardError);
    return e as BillboardError;
  }
  throw new Error(`"${line}" parsed, but it should have been refused`);
}

/** A minimal valid line for a spec: its name, a value per required argument, and the flags it needs. */
function minimalLine(spec: CommandSpec): string {
  const args = spec.args.filter((a) => a.required).map((a) => (a.name === 'SECONDS' ? '0' : `x-${a.name.toLowerCase()}`));
  const flags: string[] = [];
  if (spec.name === 'register') flags.push('--uuid', '11111111-2222-3333-4444-555555555555');
  if (spec.name === 'migrate') flags.push('--to', 'lab-b');
  if (['stop', 'suspend', 'isolate'].includes(spec.name)) flags.push('--host', 'lab-a');
  if (spec.name === 'admit') flags.push('--host', 'lab-a', '--op', 'prepare', '--uuid', '11111111-2222-3333-4444-555555555555');
  return [spec.name, ...args, ...flags].join(' ');
}

// Every command of DESIGN.md's grammar, plus `tune` (retune a running migration: the convergence
// suggestion). If one is added or removed the contract changed: update DESIGN.md and this list.
const DESIGN_COMMANDS = [
  'admit',
  'hosts install-hook',
  'help',
  'hosts',
  'vms',
  'show',
  'scan',
  'pending',
  'findings',
  'ack',
  'register',
  'approve',
  'reject',
  'revoke',
  'stop',
  'suspend',
  'isolate',
  'migrate',
  'authorize',
  'deny',
  'jobs',
  'watch',
  'abort',
  'audit',
  'audit verify',
  'wait',
  'tune',
  'alerts test',
  'health',
];

describe('tokenize', () => {
  it('splits on any whitespace and drops empty words', () => {
    expect(tokenize('  approve\tweb-01   --note  ok ')).toEqual(['approve', 'web-01', '--note', 'ok']);
    expect(tokenize('')).toEqual([]);
    expect(tokenize('   ')).toEqual([]);
  });

  it('groups double- and single-quoted text into one word', () => {
    expect(tokenize('ack F-3 --note "known clone, ticket 42"')).toEqual(['ack', 'F-3', '--note', 'known clone, ticket 42']);
    expect(tokenize("reject x --reason 'not ours'")).toEqual(['reject', 'x', '--reason', 'not ours']);
  });

  it('keeps empty quoted words and joins adjacent quoted parts', () => {
    expect(tokenize('approve x --note ""')).toEqual(['approve', 'x', '--note', '']);
    expect(tokenize('a"b c"d')).toEqual(['ab cd']);
  });

  it('lets backslash escape outside quotes and inside double quotes, but not inside single quotes', () => {
    expect(tokenize('say a\\ b')).toEqual(['say', 'a b']);
    expect(tokenize('"say \\"hi\\""')).toEqual(['say "hi"']);
    expect(tokenize("'a\\b'")).toEqual(['a\\b']);
    expect(tokenize(`"it's"`)).toEqual(["it's"]);
  });

  it('refuses an unterminated quote with USAGE', () => {
    expect(() => tokenize('ack F-1 --note "oops')).toThrow(/unterminated " quote/);
    try {
      tokenize("x 'y");
    } catch (e) {
      expect((e as BillboardError).code).toBe('USAGE');
    }
  });
});

describe('parseCommand: every command', () => {
  it('covers exactly the grammar of DESIGN.md', () => {
    expect(COMMANDS.map((c) => c.name).sort()).toEqual([...DESIGN_COMMANDS].sort());
  });

  it.each(COMMANDS.map((c) => [c.name, c] as const))('%s parses its minimal form', (_name, spec) => {
    const p = parseCommand(minimalLine(spec));
    expect(p.spec.name).toBe(spec.name);
    expect(p.args.length).toBe(spec.args.filter((a) => a.required).length);
  });

  it.each(COMMANDS.map((c) => [c.name, c] as const))('%s: every example in its help parses as %s', (_name, spec) => {
    expect(spec.examples.length).toBeGreaterThan(0);
    for (const ex of spec.examples) expect(parseCommand(ex).spec.name).toBe(spec.name);
  });

  it('parses the register line of the acceptance pipeline completely', () => {
    const p = parseCommand(
      'register web-01 --uuid 11111111-2222-3333-4444-555555555555 --mac 52:54:00:aa:bb:01 --mac 52:54:00:aa:bb:02 --os debian --host lab-a',
    );
    expect(p.spec.name).toBe('register');
    expect(p.args).toEqual(['web-01']);
    expect(p.flags).toEqual({
      uuid: '11111111-2222-3333-4444-555555555555',
      mac: ['52:54:00:aa:bb:01', '52:54:00:aa:bb:02'],
      os: 'debian',
      host: 'lab-a',
    });
  });

  it('reads "audit verify" as one two-word command, and plain "audit" with its flag', () => {
    expect(parseCommand('audit verify').spec.name).toBe('audit verify');
    const a = parseCommand('audit --last 20');
    expect(a.spec.name).toBe('audit');
    expect(a.flags.last).toBe(20);
  });

  it('accepts --flag=value, numbers, booleans and variadic arguments', () => {
    expect(parseCommand('migrate db-01 --to=lab-b --bandwidth=64 --max-downtime 300').flags).toEqual({
      to: 'lab-b',
      bandwidth: 64,
      'max-downtime': 300,
    });
    expect(parseCommand('findings --all').flags).toEqual({ all: true });
    expect(parseCommand('scan lab-a lab-b lab-c').args).toEqual(['lab-a', 'lab-b', 'lab-c']);
    expect(parseCommand('help').args).toEqual([]);
    expect(parseCommand('approve web-01 --note "ticket 17"').flags.note).toBe('ticket 17');
  });

  it('marks the deciding and acting commands as mutating and the looking ones as not', () => {
    for (const n of [
      'register',
      'approve',
      'reject',
      'revoke',
      'ack',
      'stop',
      'suspend',
      'isolate',
      'migrate',
      'authorize',
      'deny',
      'abort',
      'tune',
    ]) {
      expect(commandSpec(n)!.mutating, n).toBe(true);
    }
    for (const n of ['help', 'hosts', 'vms', 'show', 'scan', 'pending', 'findings', 'jobs', 'watch', 'audit', 'audit verify', 'wait']) {
      expect(commandSpec(n)!.mutating, n).toBe(false);
    }
    expect(isMutatingLine('approve web-01')).toBe(true);
    expect(isMutatingLine('approve')).toBe(true); // still mutating even though it does not parse
    expect(isMutatingLine('audit verify')).toBe(false);
    expect(isMutatingLine('nonsense')).toBe(false);
  });
});

describe('parseCommand: mistakes are USAGE with a clear message', () => {
  it('an empty line', () => {
    expect(parseError('   ').code).toBe('USAGE');
  });

  it('an unknown command names it, suggests near ones and points at help', () => {
    const e = parseError('aprove web-01');
    expect(e.code).toBe('USAGE');
    expect(e.message).toMatch(/unknown command "aprove"/);
    expect(e.message).toMatch(/approve/);
    expect(e.message).toMatch(/help/);
  });

  it('an unknown flag names the flag and lists the valid ones', () => {
    const e = parseError('approve web-01 --reason x');
    expect(e.code).toBe('USAGE');
    expect(e.message).toMatch(/unknown option --reason/);
    expect(e.message).toMatch(/--note/);
    const h = parseError('hosts --all');
    expect(h.message).toMatch(/hosts: unknown option --all/);
  });

  it('a missing argument names the argument and shows the usage', () => {
    const e = parseError('approve');
    expect(e.code).toBe('USAGE');
    expect(e.message).toMatch(/approve: missing VM/);
    expect(e.message).toMatch(/usage: approve VM/);
    expect(parseError('wait').message).toMatch(/missing SECONDS/);
    expect(parseError('ack --note x').message).toMatch(/missing FINDING/);
  });

  it('a flag without its value', () => {
    const e = parseError('register web-01 --uuid');
    expect(e.code).toBe('USAGE');
    expect(e.message).toMatch(/--uuid needs a value \(UUID\)/);
  });

  it('a number flag with a non-number, zero or negative value', () => {
    expect(parseError('audit --last many').message).toMatch(/--last must be a whole number from 1 to \d+, got "many"/);
    expect(parseError('audit --last 0').code).toBe('USAGE');
    expect(parseError('migrate x --to b --bandwidth=-3').code).toBe('USAGE');
  });

  it('a boolean flag given a value', () => {
    expect(parseError('findings --all=yes').message).toMatch(/--all takes no value/);
  });

  it('a single-valued flag given twice', () => {
    expect(parseError('register a --uuid 1 --uuid 2').message).toMatch(/--uuid given twice/);
  });

  it('an extra argument (unquoted text) says to quote', () => {
    const e = parseError('approve web-01 --note looks good');
    expect(e.message).toMatch(/unexpected argument "good"/);
    expect(e.message).toMatch(/quote/);
  });

  it('every message is one line', () => {
    for (const l of ['', 'aprove', 'approve', 'approve a b', 'register x --uuid', 'audit --last x', 'hosts --x']) {
      let msg = '';
      try {
        parseCommand(l);
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg, l).not.toBe('');
      expect(msg, l).not.toMatch(/\n/);
    }
  });
});

describe('help', () => {
  it('lists every command with its summary', () => {
    const all = helpText();
    for (const c of COMMANDS) {
      expect(all).toContain(c.name);
      expect(all).toContain(c.summary);
    }
    expect(all).toMatch(/wait .*\(script only\)/);
  });

  it.each(COMMANDS.map((c) => [c.name] as const))('help %s shows usage, options and examples', (name) => {
    const spec = commandSpec(name)!;
    const text = helpText(name);
    expect(text).toMatch(new RegExp(`^usage: ${name.replace(' ', ' ')}`));
    expect(text).toContain(usage(spec));
    expect(text).toMatch(/\nexamples:\n/);
    for (const ex of spec.examples) expect(text).toContain(`  ${ex}`);
    for (const flag of Object.keys(spec.flags)) expect(text).toContain(`--${flag}`);
    if (spec.mutating) expect(text).toMatch(/read-only/);
  });

  it('usage marks required flags as required and optional ones in brackets', () => {
    expect(usage(commandSpec('register')!)).toBe('register NAME --uuid UUID [--pubkey KEY] [--mac MAC...] [--os OS] [--host HOST]');
    expect(usage(commandSpec('migrate')!)).toBe('migrate VM --to HOST [--bandwidth MIBS] [--max-downtime MS]');
    expect(usage(commandSpec('stop')!)).toBe('stop VM --host HOST');
    expect(usage(commandSpec('scan')!)).toBe('scan [HOST...]');
  });

  it('help for an unknown command is NOT_FOUND', () => {
    expect(() => helpText('frobnicate')).toThrow(/no command "frobnicate"/);
  });
});

describe('complete', () => {
  it('completes command names from a prefix', () => {
    expect(complete('')).toEqual(COMMANDS.map((c) => c.name));
    expect(complete('ap')).toEqual(['approve']);
    expect(complete('a').sort()).toEqual(['abort', 'ack', 'admit', 'alerts test', 'approve', 'audit', 'audit verify', 'authorize'].sort());
    expect(complete('zz')).toEqual([]);
  });

  it('knows the second word of two-word commands', () => {
    expect(complete('alerts ')).toEqual(['test']);
    expect(complete('alerts t')).toEqual(['test']);
    expect(complete('audit v')).toEqual(['verify']);
    expect(parseCommand('alerts test pager').args).toEqual(['pager']);
    expect(() => parseCommand('alerts')).toThrow(/unknown command "alerts"/);
  });

  it('completes "audit v" to verify', () => {
    expect(complete('audit v')).toEqual(['verify']);
    expect(complete('audit ')).toEqual(['verify']);
  });

  it("completes a command's flags", () => {
    expect(complete('register web-01 --').sort()).toEqual(['--host', '--mac', '--os', '--pubkey', '--uuid']);
    expect(complete('register web-01 --u')).toEqual(['--uuid']);
    expect(complete('migrate db-01 --m')).toEqual(['--max-downtime']);
    expect(complete('approve x ')).toEqual(['--note', '--key']);
    expect(complete('hosts -')).toEqual([]);
    expect(complete('nosuch --')).toEqual([]);
  });
});

describe('commandWord', () => {
  it('names the command of a line even when it does not parse', () => {
    expect(commandWord('approve')).toBe('approve');
    expect(commandWord('audit verify --x')).toBe('audit verify');
    expect(commandWord('ack "unterminated')).toBe('ack');
    expect(commandWord('')).toBe('');
  });
});
