import { BillboardError } from '../../model/errors.js';
import type { Handler } from '../context.js';
import { table } from '../format.js';
import { num } from './util.js';

export const audit: Handler = async (cmd, ctx) => {
  const entries = ctx.store.auditLog(num(cmd.flags.last));
  const text = entries.length
    ? table(
        ['SEQ', 'TIME', 'ACTOR', 'ACTION', 'TARGET', 'DETAILS'],
        entries.map((e) => [e.seq, e.time, e.actor, e.action, e.target, JSON.stringify(e.details)]),
      )
    : 'the audit log is empty';
  return { data: entries, text };
};

/**
 * Recompute the chain and print its head in full: that head, kept outside the store, is the witness that
 * catches a store file cut back to an earlier state (it verifies on its own). `--expect-head` checks a
 * witness: it must still be in the chain (the head, or an entry the log has grown past).
 */
export const auditVerify: Handler = async (cmd, ctx) => {
  const expect = cmd.flags['expect-head'];
  const witness = typeof expect === 'string' ? expect.trim().toLowerCase() : undefined;
  if (witness !== undefined && !/^[0-9a-f]{64}$/.test(witness)) {
    throw new BillboardError('USAGE', '--expect-head takes a head hash as `audit verify` prints it (64 hex digits)');
  }
  const v = ctx.store.verifyAudit();
  if (!v.ok) {
    throw new BillboardError('AUDIT_BROKEN', `audit chain broken at entry #${v.brokenAt}: ${v.reason}`, { brokenAt: v.brokenAt });
  }
  const intact = `audit chain intact: ${v.entries} entries, head ${v.head}`;
  if (witness === undefined) return { data: v, text: intact };
  if (witness === v.head) return { data: { ...v, witness: { hash: witness, seq: v.entries, entriesSince: 0 } }, text: `${intact}\nwitnessed head found: the current head` };
  const log = ctx.store.auditLog();
  const i = log.findIndex((e) => e.hash === witness);
  if (i < 0) {
    throw new BillboardError(
      'AUDIT_HEAD_MISMATCH',
      `the witnessed head ${witness.slice(0, 16)}… is not in the audit chain (${v.entries} entries, head ${v.head.slice(0, 16)}…): the store was rolled back or replaced`,
      { expected: witness, head: v.head, entries: v.entries },
    );
  }
  const since = log.length - 1 - i;
  const where = `entry #${log[i]!.seq}, ${since} entr${since === 1 ? 'y' : 'ies'} ago`;
  return { data: { ...v, witness: { hash: witness, seq: log[i]!.seq, entriesSince: since } }, text: `${intact}\nwitnessed head found: ${where}` };
};
