import { admit } from './commands/admit.js';
import { alertsTest } from './commands/alerts.js';
import { audit, auditVerify } from './commands/audit.js';
import { wait } from './commands/basic.js';
import { ack, findings, show, vms } from './commands/billboard.js';
import { health } from './commands/health.js';
import { hosts, isolate, scan, stop, suspend } from './commands/hosts.js';
import { installHook } from './commands/install-hook.js';
import { abort, authorize, deny, jobs, migrate, tune, watch } from './commands/migration.js';
import { approve, pending, register, reject, revoke } from './commands/registrations.js';
import { command, type Command } from './context.js';
import * as grammar from './grammar.js';

/** `help` is the one command about the vocabulary itself, so it lives with it. */
const help: Command = command({
  name: 'help',
  args: [{ name: 'COMMAND', required: false, variadic: true }],
  flags: {},
  mutating: false,
  summary: 'list the commands, or explain one',
  examples: ['help', 'help migrate'],
  run: async (cmd) => {
    const text = helpText(cmd.args.join(' ') || undefined);
    return { data: { help: text }, text };
  },
});

/**
 * Every command of the console's grammar, in the order `help` lists them: the single list grammar, dispatch,
 * completion and help derive from. A command is defined once, spec and handler side by side, in commands/.
 */
export const COMMANDS: readonly Command[] = [
  help,
  hosts,
  vms,
  show,
  scan,
  pending,
  findings,
  ack,
  register,
  approve,
  reject,
  revoke,
  stop,
  suspend,
  isolate,
  migrate,
  authorize,
  deny,
  tune,
  jobs,
  watch,
  abort,
  audit,
  auditVerify,
  admit,
  installHook,
  alertsTest,
  health,
  wait,
];

export const VOCABULARY = grammar.vocabularyOf(COMMANDS);

export function parseCommand(line: string): grammar.ParsedCommand<Command> {
  return grammar.parseCommand(line, VOCABULARY);
}

export function helpText(command?: string): string {
  return grammar.helpText(VOCABULARY, command);
}

export function complete(partial: string): string[] {
  return grammar.complete(partial, VOCABULARY);
}

export function isMutatingLine(line: string): boolean {
  return grammar.isMutatingLine(line, VOCABULARY);
}
