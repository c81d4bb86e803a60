import { BillboardError } from '../../model/errors.js';
import { command } from '../context.js';
import { table } from '../format.js';
import { num } from './util.js';

export const audit = command({
  name: 'audit',
  args: [],
  flags: { last: { type: 'number', arg: 'N', desc: 'only the last N entries' } },
  mutating: false,
  summary: 'the tamper-evident audit log',
  examples: ['audit --last 20'],
  run: async (cmd, ctx) => {
    const entries = ctx.store.auditLog(num(cmd.flags.last));
    const text = entries.length
      ? table(
          ['SEQ', 'TIME', 'ACTOR', 'ACTION', 'TARGET', 'DETAILS'],
          entries.map((e) => [e.seq, e.time, e.actor, e.action, e.target, JSON.stringify(e.details)]),
        )
      : 'the audit log is empty';
    return { data: entries, text };
  },
});

/**
 * Recompute the chain and print its head in full: that head, kept outside the store, is the witness that
 * catches a store file cut back to an earlier state (it verifies on its own). `--expect-head` checks a
 * witness: it must still be in the chain (the head, or an entry the log has grown past).
 */
export const auditVerify = command({
  name: 'audit verify',
  args: [],
  flags: {
    'expect-head': {
      type: 'string',
      arg: 'HASH',
      desc:
        'a head printed earlier and kept where the store cannot reach (another host, a ticket): fails (AUDIT_HEAD_MISMATCH) ' +
        'unless it is still in the chain. This is the witness that catches a store cut back to an earlier state, ' +
        'which verifies on its own',
    },
  },
  mutating: false,
  summary:
    'recompute the audit hash chain, name the first broken entry, and print the head hash ' +
    '(keep it elsewhere as a witness: see --expect-head)',
  examples: ['audit verify', 'audit verify --expect-head 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'],
  run: async (cmd, ctx) => {
    const expect = cmd.flags['expect-head'];
    const witness = typeof expect === 'string' ? expect.trim().toLowerCase() : undefined;
    if (witness !== undefined && !/^[0-9a-f]{64}$/.test(witness)) {
      throw new BillboardError('USAGE', '--expect-head takes a head hash as `audit verify` prints it (64 hex digits)');
    }
    const v = ctx.store.verifyAudit();
    if (!v.ok) {
      ctx.alerts?.auditFailed(`entry #${v.brokenAt}: ${v.reason}`, `broken:${v.brokenAt}`);
      throw new BillboardError('AUDIT_BROKEN', `audit chain broken at entry #${v.brokenAt}: ${v.reason}`, { brokenAt: v.brokenAt });
    }
    const intact = `audit chain intact: ${v.entries} entries, head ${v.head}`;
    if (witness === undefined) return { data: v, text: intact };
    if (witness === v.head)
      return {
        data: { ...v, witness: { hash: witness, seq: v.entries, entriesSince: 0 } },
        text: `${intact}\nwitnessed head found: the current head`,
      };
    const log = ctx.store.auditLog();
    const i = log.findIndex((e) => e.hash === witness);
    if (i < 0) {
      ctx.alerts?.auditFailed(
        `the witnessed head ${witness.slice(0, 16)}… is not in the chain (rolled back or replaced)`,
        `head:${witness}`,
      );
      throw new BillboardError(
        'AUDIT_HEAD_MISMATCH',
        `the witnessed head ${witness.slice(0, 16)}… is not in the audit chain ` +
          `(${v.entries} entries, head ${v.head.slice(0, 16)}…): the store was rolled back or replaced`,
        { expected: witness, head: v.head, entries: v.entries },
      );
    }
    const since = log.length - 1 - i;
    const where = `entry #${log[i]!.seq}, ${since} entr${since === 1 ? 'y' : 'ies'} ago`;
    return {
      data: { ...v, witness: { hash: witness, seq: log[i]!.seq, entriesSince: since } },
      text: `${intact}\nwitnessed head found: ${where}`,
    };
  },
});
