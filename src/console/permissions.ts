import type { Role } from '../model/config.js';
import type { CommandSpec } from './grammar.js';

/**
 * Commands only an admin may run: they withdraw trust already given (revoke), reach outside the lab (alerts test) or
 * write a host's admission hook and key (hosts install-hook).
 * Every other command's class comes from its `mutating` flag in the vocabulary, the single list of commands.
 */
export const ADMIN_ONLY: ReadonlySet<string> = new Set(['revoke', 'alerts test', 'hosts install-hook']);

/** what a `host` role may ask: its admission hook's question, nothing else */
export const HOST_ONLY: ReadonlySet<string> = new Set(['admit']);

/**
 * Why `role` may not run `spec`, or undefined when it may. No role (an embedded session: the store's owner at
 * the keyboard) may run everything, as the store key already decides who that is.
 */
export function permissionProblem(role: Role | undefined, spec: CommandSpec): string | undefined {
  if (role === undefined) return undefined;
  if (role === 'host') return HOST_ONLY.has(spec.name) ? undefined : 'the host role may only run admit';
  if (HOST_ONLY.has(spec.name)) return 'only the host role runs admit';
  if (role === 'admin') return undefined;
  if (role === 'viewer') return spec.mutating ? 'a viewer may only run commands that change nothing' : undefined;
  return ADMIN_ONLY.has(spec.name) ? 'reserved for admins' : undefined;
}
