// Operator input at the grammar (issue 21.4, 21.6, 21.10) and outside text at the output (21.6): what a line may
// carry, the bounds of numbers, and what the text form of a command prints.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ConsoleContext } from '../../src/console/context.js';
import { runLine } from '../../src/console/dispatch.js';
import { parseCommand } from '../../src/console/vocabulary.js';
import { BillboardError } from '../../src/model/errors.js';
import type { ResolvedConfig } from '../../src/model/config.js';
import { FakeStore } from '../helpers/fake-store.js';

const UUID = '11111111-2222-4333-8444-555555555555';

function refused(line: string): BillboardError {
  try {
    parseCommand(line);
  } catch (e) {
    expect(e).toBeInstanceOf(BillboardError);
    return e as BillboardError;
  }
  throw new Error(`"${JSON.stringify(line)}" parsed, but it should have been refused`);
}

function context(store = new FakeStore()): ConsoleContext {
  return {
    actor: 'alice',
    readOnly: false,
    mode: 'script',
    config: { hosts: [] } as unknown as ResolvedConfig,
    store,
    log: pino({ level: 'silent' }),
    now: Date.now,
  };
}

describe('operator text at the grammar', () => {
  it('refuses NUL, ESC, DEL and C1 in names, notes, reasons and OS strings (USAGE, one line)', () => {
    for (const bad of ['a\u0000b', 'a\u001b[31mred', 'x\u007f', 'c1\u009bm', 'bell\u0007']) {
      const q = JSON.stringify(bad); // a double-quoted word keeps its characters
      for (const line of [
        `register ${q} --uuid ${UUID}`,
        `register web-01 --uuid ${UUID} --os ${q}`,
        `approve web-01 --note ${q}`,
        `reject web-01 --reason ${q}`,
        `revoke web-01 --reason ${q}`,
        `ack F-1 --note ${q}`,
        `deny M-1 --reason ${q}`,
      ]) {
        const e = refused(line.replace(/\\u00([0-9a-f]{2})/g, (_m, h) => String.fromCharCode(parseInt(h, 16))));
        expect(e.code, line).toBe('USAGE');
        expect(e.message, line).toMatch(/control character/);
        expect(e.message, line).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
      }
    }
  });

  it('register NAME follows the shared name rule (no UUID look-alikes, quotes, backslashes, bidi, > 64 bytes)', () => {
    for (const name of ['"11111111"', '"deadbeef-1"', "'we\"b'", '"web\\\\01"', '"a\u202eb"', '"zw\u200bsp"', `"${'n'.repeat(65)}"`]) {
      const e = refused(`register ${name} --uuid ${UUID}`);
      expect(e.code, name).toBe('USAGE');
      expect(e.message, name).toMatch(/register: NAME .* refused: a name/);
    }
    expect(parseCommand(`register web-01 --uuid ${UUID}`).args).toEqual(['web-01']);
    expect(parseCommand(`register "db 01" --uuid ${UUID}`).args).toEqual(['db 01']);
  });

  it('caps --os, --note and --reason at 256 characters', () => {
    expect(parseCommand(`approve web-01 --note "${'n'.repeat(256)}"`).flags.note).toHaveLength(256);
    for (const line of [
      `approve web-01 --note ${'n'.repeat(257)}`,
      `reject x --reason ${'r'.repeat(300)}`,
      `register web-01 --uuid ${UUID} --os ${'o'.repeat(257)}`,
    ]) {
      const e = refused(line);
      expect(e.code).toBe('USAGE');
      expect(e.message).toMatch(/at most 256 characters/);
    }
  });

  it('cuts echoed words short in errors', () => {
    const huge = 'x'.repeat(100_000);
    for (const line of [huge, `approve a ${huge}`, `hosts --${huge}`, `audit --last ${huge}`]) {
      const e = refused(line);
      expect(e.message.length, line.slice(0, 20)).toBeLessThan(400);
      expect(e.message).toContain('…');
    }
  });
});

describe('numbers: whole decimal numbers within the hypervisor limits', () => {
  it('--bandwidth and --max-downtime are integers from 1 to QEMU/libvirt limits', () => {
    expect(parseCommand('tune M-1 --bandwidth 8796093022207 --max-downtime 2000000').flags).toEqual({
      bandwidth: 8796093022207,
      'max-downtime': 2000000,
    });
    for (const bad of ['1e300', '1e+300', '1.5', '0x10', '0b1', '8796093022208', 'Infinity', '', ' ', '-1', '0']) {
      const e = refused(`tune M-1 --bandwidth "${bad}"`);
      expect(e.code, bad).toBe('USAGE');
      expect(e.message, bad).toMatch(/--bandwidth must be a whole number from 1 to 8796093022207/);
    }
    for (const bad of ['1e12', '2000001', '300.5']) {
      expect(refused(`migrate web-01 --to b --max-downtime ${bad}`).message).toMatch(
        /--max-downtime must be a whole number from 1 to 2000000/,
      );
    }
  });
});

describe('wait SECONDS', () => {
  it('takes decimal seconds only', async () => {
    const ctx = context();
    for (const bad of ['""', '" "', '0x1', '0b1', '0o1', '1e1', '-1', 'Infinity', '86401', '.5', '1.']) {
      const r = await runLine(`wait ${bad}`, ctx);
      expect(r.ok, bad).toBe(false);
      expect(!r.ok && r.error.code, bad).toBe('USAGE');
    }
    for (const good of ['0', '0.05', '0.0']) {
      const r = await runLine(`wait ${good}`, ctx);
      expect(r.ok, good).toBe(true);
    }
  });
});

describe('outside text in text-mode output', () => {
  it('pending prints a name carrying ESC escaped, never raw', async () => {
    const store = new FakeStore();
    // as if a beacon or an older store had brought it in: the grammar would refuse it
    await store.register({ uuid: UUID, name: 'a\u001b[31mred', os: 'Deb\u009b2J', origin: 'beacon' }, 'system');
    const r = await runLine('pending', context(store));
    expect(r.ok).toBe(true);
    const text = (r as { text?: string }).text!;
    expect(text).toContain('a\\x1b[31mred');
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  });

  it('error lines are escaped and bounded too', async () => {
    const store = new FakeStore();
    const r = await runLine(`approve "${'z'.repeat(5000)}"`, context(store));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.message.length).toBeLessThanOrEqual(512);
  });
});
