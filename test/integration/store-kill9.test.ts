// Crash safety for real: a child `billboard script --json` runs a loop of 1,000 register+approve commands;
// we read its stdout as it goes and SIGKILL it at a random point, several times, resuming in between.
// After every kill the store must open, its audit chain must verify, and every command whose ok line was
// printed must be on disk (an ok line is only printed after the durable write).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registration } from '../../src/model/types.js';
import { openStore } from '../../src/store/store.js';
import { PASSPHRASE, macFor, requireDist, runBillboard, spawnBillboard, tempLab, uuidFor, type TempLab } from './script-harness.js';

const VMS = 1000;
const ROUNDS = 3;
const labs: TempLab[] = [];
beforeAll(requireDist);
afterAll(() => labs.forEach((l) => l.cleanup()));

interface Printed {
  registered: Set<string>;
  approved: Set<string>;
}

/** The commands still to do for the loop, given what the store holds. */
function remainingLines(regs: ReadonlyMap<string, Registration>): string[] {
  const out: string[] = [];
  for (let i = 0; i < VMS; i++) {
    const uuid = uuidFor(i);
    const r = regs.get(uuid);
    if (!r) out.push(`register vm-${i} --uuid ${uuid} --mac ${macFor(i)}`);
    if (!r || r.state === 'pending') out.push(`approve ${uuid} --note "loop ${i}"`);
  }
  return out;
}

/** Run the lines in a child, SIGKILL it once `killAfter` ok lines have been printed; collect what it printed. */
function runAndKill(
  l: TempLab,
  lines: string[],
  killAfter: number,
  printed: Printed,
): Promise<{ oks: number; signal: string | null; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawnBillboard(['script', '--json'], l.env);
    let buf = '';
    let oks = 0;
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const r = JSON.parse(line);
        if (!r.ok) {
          child.kill('SIGKILL');
          reject(new Error(`a loop command failed: ${line}`));
          return;
        }
        oks++;
        if (r.command === 'register') printed.registered.add(r.data.uuid);
        if (r.command === 'approve') printed.approved.add(r.data.uuid);
        if (oks === killAfter) child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`the loop ended before it was killed (code ${code}); stderr: ${stderr}`));
      else resolve({ oks, signal, code });
    });
    child.stdin!.on('error', () => {});
    child.stdin!.end(lines.join('\n') + '\n');
  });
}

describe('kill -9 in the middle of a loop of 1,000 approvals', () => {
  it('never leaves an unreadable store, and every printed approval is on disk', async () => {
    const l = tempLab();
    labs.push(l);
    const printed: Printed = { registered: new Set(), approved: new Set() };
    let regs = new Map<string, Registration>();
    const points: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const lines = remainingLines(regs);
      // a random point in this round: anywhere from early on to a few hundred commands in
      const killAfter = 20 + Math.floor(Math.random() * 380);
      points.push(killAfter);
      const { oks } = await runAndKill(l, lines, killAfter, printed);
      expect(oks).toBeGreaterThanOrEqual(killAfter);

      // The killed process left its lock (dead pid) and maybe a temp file: opening must still work.
      const store = await openStore(l.storePath, { kind: 'passphrase', passphrase: PASSPHRASE });
      try {
        const verdict = store.verifyAudit();
        expect(verdict, `round ${round + 1}, killed after ${killAfter} ok lines`).toMatchObject({ ok: true });
        regs = new Map(store.registrations().map((r) => [r.uuid, r]));
        for (const uuid of printed.registered) expect(regs.has(uuid), `registered ${uuid}`).toBe(true);
        for (const uuid of printed.approved) expect(regs.get(uuid)?.state, `approved ${uuid}`).toBe('approved');
        // every change came with its audit entry, and no entry without its change
        const approvedCount = [...regs.values()].filter((r) => r.state === 'approved').length;
        expect(store.auditLog().length).toBe(regs.size + approvedCount);
        expect(store.auditLog().filter((e) => e.action === 'approve').length).toBe(approvedCount);
      } finally {
        await store.close();
      }
    }
    expect(printed.approved.size).toBeGreaterThan(0);

    // and the CLI opens it too, finishing the loop where it stopped
    const rest = remainingLines(regs);
    const r = await runBillboard(
      ['script', '--json', '--stop-on-error'],
      l.env,
      [...rest, 'pending', 'audit verify'].join('\n') + '\n',
      240_000,
    );
    expect(r.code, `kill points ${points.join(', ')}; stderr: ${r.stderr}`).toBe(0);
    const out = r.json();
    expect(out[out.length - 2]).toMatchObject({ command: 'pending', ok: true, data: [] });
    expect(out[out.length - 1]).toMatchObject({ command: 'audit verify', ok: true, data: { entries: 2 * VMS } });
  }, 600_000);
});
