/**
 * The environment for a child process the console starts (a local virsh, sh, an agent, an alert command): the
 * console's own, without any BILLBOARD_* variable. BILLBOARD_PASSPHRASE is the store key, and no child needs any
 * of the console's settings, so none is passed on (deny by default: a secret added later is covered too).
 * Every spawn/execFile in src/ passes `env: childEnv(…)` (test/unit/hosts-child-env.test.ts checks it).
 */
export function childEnv(extra: Record<string, string> = {}, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !isConsoleVariable(k)) out[k] = v;
  for (const [k, v] of Object.entries(extra)) if (!isConsoleVariable(k)) out[k] = v;
  return out;
}

/** a variable of the console's own (BILLBOARD_*, any case): never handed to a child */
export function isConsoleVariable(name: string): boolean {
  return /^BILLBOARD_/i.test(name);
}
