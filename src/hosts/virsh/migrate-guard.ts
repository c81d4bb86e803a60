import type { BillboardError } from '../../model/errors.js';
import { hostError } from '../errors.js';
import { jobInfoArgs, virshCommandLine } from './commands.js';
import { markPrefix } from './framing.js';

// virsh 9.0 (Debian 12's) can hang for good in `migrate` when the migration fails at once: its migration
// thread (named doMigrate) ends and asks the main loop to quit before the main thread has entered that loop,
// the quit is lost, and virsh waits on a loop nobody will end, having printed nothing. Any destination that
// refuses at once can set it off, more often on a loaded host. Unguarded, the migration sits in
// "pre-migration" until its timeout.
//
// The guard watches the process that runs the migrate. While a migration runs, that process has its doMigrate
// thread (which sits in the libvirt call for the whole migration), and libvirt shows a job on the domain. When
// neither holds for HANG_AFTER_S seconds, the libvirt call has returned and no migration is running: virsh is
// stuck, and killing it cannot hurt a migration. The job check keeps a virsh whose thread is named otherwise
// (another version) from ever being killed mid-migration.

/** seconds without a doMigrate thread and without a job on the domain before virsh counts as hung */
export const HANG_AFTER_S = 3;
/** what the watch prints when it finds virsh hung */
export const HANG_MARK = '@@BB:migrate-hung';

/**
 * The line the guarded command prints on stderr when it killed a hung virsh: with a nonce fresh for each command,
 * so that virsh's own error text (which can quote a domain's name) cannot pass for the guard's verdict.
 */
export const hangLine = (nonce: string): string => `${markPrefix(nonce)}migrate-hung`;
const POLL_S = 0.5;

export interface GuardTarget {
  /** the virsh binary and URI of the source host (for the job check) */
  virsh: string;
  uri: string;
  uuid: string;
}

/**
 * sh: watch process `pid` (a number or a shell word such as "$p"); print HANG_MARK and exit once it looks hung,
 * exit quietly once it is gone.
 */
export function migrateWatchScript(pid: string, t: GuardTarget): string {
  const job = `${virshCommandLine(t.virsh, t.uri, jobInfoArgs(t.uuid, false))} 2>/dev/null | grep -Eq '^Job type: +(Unbounded|Bounded)'`;
  const limit = Math.round(HANG_AFTER_S / POLL_S) + 1; // the first check is at 0 s: the n-th is (n-1) polls later
  return (
    `p=${pid}; n=0; while [ -d /proc/$p ]; do ` +
    `if grep -qsx doMigrate /proc/$p/task/*/comm || ${job}; then n=0; else n=$((n+1)); ` +
    `if [ $n -ge ${limit} ]; then echo ${HANG_MARK}; exit 0; fi; fi; sleep ${POLL_S}; done`
  );
}

/**
 * sh: run `command` (a quoted virsh migrate line) with the watch beside it. A hung virsh is killed, and
 * hangLine(nonce) goes to stderr. The watch does not hold the channel's output open once the command ended.
 */
export function guardedMigrateScript(command: string, t: GuardTarget, nonce: string): string {
  markPrefix(nonce); // a nonce that is not hex never reaches the script
  return (
    `${command} & p=$!; ` +
    `( if [ "$(${migrateWatchScript('$p', t)} 2>/dev/null)" = ${HANG_MARK} ]; ` +
    `then kill -s KILL $p; echo ${hangLine(nonce)} >&2; fi ) </dev/null & g=$!; ` +
    `wait $p; rc=$?; kill $g 2>/dev/null; exit $rc`
  );
}

export function hungMigrateError(host: string): BillboardError {
  return hostError(
    'HOST_ERROR',
    host,
    `virsh migrate failed at once, then hung before saying why (a virsh 9.0 race), and was killed; ` +
      `no migration is running — run the same virsh migrate on the host by hand to see libvirt's reason`,
  );
}
