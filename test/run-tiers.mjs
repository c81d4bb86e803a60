#!/usr/bin/env node
// `npm test`: every tier, in order, each in its own vitest run so one tier's failure is reported with its
// name and the others still run. A tier that cannot run fails loudly with the reason (its tests check their
// prerequisites); nothing is skipped silently. Exit 1 if any tier failed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const tiers = [
  { name: 'lint', command: ['npm', 'run', 'lint', '--silent'], what: 'types (src and tests), ESLint (layers, sizes), Prettier' },
  { name: 'unit', dirs: ['test/unit', 'test/scenarios'], what: 'pure logic and components (fakes allowed)' },
  { name: 'integration', dirs: ['test/integration'], what: 'libvirt test driver, real sshd on loopback, real UDP, real processes' },
  { name: 'e2e', dirs: ['test/e2e'], what: 'the real bin/billboard in tmux' },
  { name: 'lab', dirs: ['test/lab'], what: 'real QEMU guest, two real libvirt daemons, live migration' },
];
const only = process.argv.slice(2);
const results = [];
const hasTests = (d) => existsSync(d) && readdirSync(d, { recursive: true }).some((f) => /\.test\.tsx?$/.test(String(f)));

for (const t of tiers) {
  if (only.length && !only.includes(t.name)) continue;
  if (t.command) {
    process.stdout.write(`\n━━━ tier ${t.name}: ${t.what}\n`);
    const t0 = Date.now();
    const r = spawnSync(t.command[0], t.command.slice(1), { stdio: 'inherit' });
    results.push({
      tier: t.name,
      status: r.status === 0 ? 'passed' : `FAILED (exit ${r.status ?? r.signal})`,
      seconds: Math.round((Date.now() - t0) / 1000),
    });
    continue;
  }
  const dirs = t.dirs.filter(hasTests);
  process.stdout.write(`\n━━━ tier ${t.name}: ${t.what}\n`);
  if (!dirs.length) {
    process.stdout.write(`tier ${t.name}: NO TESTS in ${t.dirs.join(', ')}\n`);
    results.push({ tier: t.name, status: 'no tests' });
    continue;
  }
  const t0 = Date.now();
  let r = runTier(dirs);
  let note = '';
  // The lab's one known fault outside this project (why: noteGuestFault in test/lab/harness.ts, which writes the
  // file): only then, and only once, the lab tier runs again, and the summary says so.
  if (t.name === 'lab' && r.status !== 0 && r.guestFaults) {
    process.stdout.write(`\n[lab] the guest kernel died after a live migration (QEMU TCG guest-RAM corruption, not billboard):\n`);
    process.stdout.write(`      ${r.guestFaults.split('\n').join('\n      ')}\n[lab] running the lab tier once more\n`);
    note = ` (second run: the first lost its guest kernel after a migration: ${r.guestFaults.split('\n')[0]})`;
    r = runTier(dirs);
  }
  const s = Math.round((Date.now() - t0) / 1000);
  results.push({ tier: t.name, status: (r.status === 0 ? 'passed' : `FAILED (exit ${r.status ?? r.signal})`) + note, seconds: s });
}

/** One vitest run of `dirs`; `guestFaults` = what the lab harness noted about guests that died under it. */
function runTier(dirs) {
  const dir = mkdtempSync(join(tmpdir(), 'bb-tier-'));
  const faults = join(dir, 'guest-faults');
  try {
    const r = spawnSync(join('node_modules', '.bin', 'vitest'), ['run', ...dirs], {
      stdio: 'inherit',
      env: { ...process.env, BB_LAB_GUEST_FAULTS: faults },
    });
    return { status: r.status, signal: r.signal, guestFaults: existsSync(faults) ? readFileSync(faults, 'utf8').trim() : '' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

process.stdout.write('\n━━━ summary\n');
for (const r of results) process.stdout.write(`  ${r.tier.padEnd(12)} ${r.status}${r.seconds !== undefined ? ` in ${r.seconds}s` : ''}\n`);
process.exit(results.some((r) => r.status.startsWith('FAILED') || r.status === 'no tests') ? 1 : 0);
