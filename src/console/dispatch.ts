import { BillboardError, errorLine } from '../model/errors.js';
import type { CommandResult, ConsoleEvent } from './api.js';
import type { ConsoleContext, Handler } from './context.js';
import { safeText } from '../model/text.js';
import { safeLines } from './format.js';
import { commandWord, echo, parseCommand } from './grammar.js';
import * as auditCmds from './commands/audit.js';
import * as basic from './commands/basic.js';
import * as bb from './commands/billboard.js';
import * as hostCmds from './commands/hosts.js';
import * as mig from './commands/migration.js';
import * as reg from './commands/registry.js';

const HANDLERS: Record<string, Handler> = {
  help: basic.help,
  wait: basic.wait,
  hosts: hostCmds.hosts,
  scan: hostCmds.scan,
  stop: hostCmds.stop,
  suspend: hostCmds.suspend,
  isolate: hostCmds.isolate,
  vms: bb.vms,
  show: bb.show,
  findings: bb.findings,
  ack: bb.ack,
  pending: reg.pending,
  register: reg.register,
  approve: reg.approve,
  reject: reg.reject,
  revoke: reg.revoke,
  migrate: mig.migrate,
  authorize: mig.authorize,
  deny: mig.deny,
  abort: mig.abort,
  tune: mig.tune,
  jobs: mig.jobs,
  watch: mig.watch,
  audit: auditCmds.audit,
  'audit verify': auditCmds.auditVerify,
};

/** an error line's longest form: messages quote references and host errors, which an outsider may make huge */
const MAX_ERROR_CHARS = 512;

/**
 * Parse and run one line of the grammar. Never throws: every failure — bad usage, a missing subsystem,
 * a host error, a bug — becomes an ok:false result with a stable code and one line. Text (summaries, tables,
 * error lines) leaves here safe for a terminal: outside strings in it are escaped (model/text.ts safeText).
 */
export async function runLine(
  line: string,
  ctx: ConsoleContext,
  onEvent: (ev: ConsoleEvent) => void = () => {},
): Promise<CommandResult & { text?: string }> {
  const command = echo(commandWord(line));
  try {
    const cmd = parseCommand(line);
    if (cmd.spec.mutating && ctx.readOnly) {
      throw new BillboardError('READ_ONLY', `${cmd.spec.name} changes state; this session is read-only`);
    }
    const handler = HANDLERS[cmd.spec.name];
    if (!handler) throw new BillboardError('NOT_AVAILABLE', `${cmd.spec.name} is not available yet`);
    const out = await handler(cmd, ctx, onEvent);
    return { command: cmd.spec.name, ok: true, data: out.data, text: safeLines(out.text) };
  } catch (e) {
    if (e instanceof BillboardError) {
      return { command, ok: false, error: { code: e.code, message: safeText(e.message, MAX_ERROR_CHARS) } };
    }
    ctx.log.error({ err: e, command }, 'command failed unexpectedly');
    return { command, ok: false, error: { code: 'INTERNAL', message: safeText(errorLine(e), MAX_ERROR_CHARS) } };
  }
}
