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

export const auditVerify: Handler = async (_cmd, ctx) => {
  const v = ctx.store.verifyAudit();
  if (!v.ok) {
    throw new BillboardError('AUDIT_BROKEN', `audit chain broken at entry #${v.brokenAt}: ${v.reason}`, { brokenAt: v.brokenAt });
  }
  return { data: v, text: `audit chain intact: ${v.entries} entries, head ${v.head.slice(0, 16)}…` };
};
