import { BillboardError, errorLine } from '../model/errors.js';
import type { CommandResult, ConsoleEvent } from './api.js';
import type { ConsoleContext } from './context.js';
import { safeText } from '../model/text.js';
import { safeLines } from './format.js';
import { commandWord, echo } from './grammar.js';
import { parseCommand } from './vocabulary.js';
import { permissionProblem } from './permissions.js';
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
    const denied = permissionProblem(ctx.role, cmd.spec);
    if (denied) throw new BillboardError('PERMISSION', `${cmd.spec.name}: ${denied} (${ctx.actor} is ${ctx.role})`);
    if (cmd.spec.mutating && ctx.readOnly) {
      throw new BillboardError('READ_ONLY', `${cmd.spec.name} changes state; this session is read-only`);
    }
    const out = await cmd.spec.run(cmd, ctx, onEvent);
    return { command: cmd.spec.name, ok: true, data: out.data, text: safeLines(out.text) };
  } catch (e) {
    if (e instanceof BillboardError) {
      return { command, ok: false, error: { code: e.code, message: safeText(e.message, MAX_ERROR_CHARS) } };
    }
    ctx.log.error({ err: e, command }, 'command failed unexpectedly');
    return { command, ok: false, error: { code: 'INTERNAL', message: safeText(errorLine(e), MAX_ERROR_CHARS) } };
  }
}
