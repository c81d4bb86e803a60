import { existsSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { BillboardError, errorLine, exitCodeFor } from '../model/errors.js';
import { startRuntime, type Runtime } from '../console/runtime.js';
import { createStore } from '../store/store.js';
import { passphraseProblem, requireKeySource } from '../store/key-source.js';
import { withPromptedPassphrase } from './secret-prompt.js';
import { loadConfig } from './config-load.js';
import { fileLogger } from './logger.js';
import { runScript, type ScriptControl } from './script.js';
import { runConsoleChild, runScriptAttached, runTuiAttached } from './attach.js';
import { connectTarget, osUser, type ConnectFlags, type ConnectTarget } from './connect.js';
import { addServeCommand } from './serve.js';
import { ensureHostKey } from '../serve/host-key.js';

const VERSION = '0.1.0';

interface CommonOpts extends ConnectFlags {
  config?: string;
  actor?: string;
  readOnly?: boolean;
}

/** attached (--connect, or client.connect in the config) or embedded (undefined); --actor is refused when attached */
function attachTarget(opts: CommonOpts): ConnectTarget | undefined {
  const t = connectTarget(opts, loadConfig(opts.config));
  if (t && opts.actor !== undefined) {
    throw new BillboardError('USAGE', '--actor is refused when attached: the service records the operator you attach as');
  }
  return t;
}

function fail(e: unknown): number {
  process.stderr.write(`billboard: ${errorLine(e)}\n`);
  return exitCodeFor(e);
}

async function withRuntime(
  opts: CommonOpts,
  mode: 'script' | 'tui',
  body: (rt: Runtime) => Promise<number>,
  control: ScriptControl = {},
): Promise<number> {
  let rt: Runtime;
  try {
    const config = loadConfig(opts.config);
    const log = fileLogger(config.logPath, config.log.level);
    // the console on a terminal asks for the passphrase; `script` never prompts
    const env = mode === 'tui' ? await withPromptedPassphrase(process.env, config.store.keyFile) : process.env;
    rt = await startRuntime({
      env,
      config,
      actor: opts.actor ?? osUser(),
      readOnly: opts.readOnly ?? false,
      mode,
      log,
      awaitFirstScan: mode === 'script',
    });
  } catch (e) {
    return fail(e);
  }
  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    await rt.close().catch(() => {});
  };
  // `on`, not `once`: Ink's signal-exit re-raises a signal once no other listener is left (see demo/demo.ts).
  // A script with migrations running takes the first signal itself (it stops reading and waits for them).
  const onSignal = () => {
    if (closing) process.exit(130);
    if (control.interrupt?.()) return;
    void shutdown().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  try {
    return await body(rt);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    await shutdown();
  }
}

export function buildProgram(out: { code: number }): Command {
  const program = new Command('billboard')
    .description(
      'A terminal security console for virtualization labs: which VMs are real, which are clones or impostors, ' +
        'and who moved what where.',
    )
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  billboard demo                                   try it on an embedded demo lab (no lab, no config needed)
  BILLBOARD_PASSPHRASE=… billboard init            create the encrypted store
  billboard                                        the interactive console (same as \`billboard tui\`)
  echo 'findings' | billboard script --json        one JSON line per command, for scripts
  echo 'help migrate' | billboard script           the command grammar, explained

Files (XDG): config ~/.config/billboard/config.json, store ~/.local/share/billboard/store.db,
log ~/.local/state/billboard/billboard.log. The store key: BILLBOARD_PASSPHRASE or store.keyFile.
Exit codes: 0 all good, 1 a command failed, 2 usage, config or store-open error.`,
    );

  addConsoleCommands(program, out);
  addScriptCommand(program, out);
  addInitCommand(program, out);
  addServeCommand(program, out);
  program
    .command('__console-child', { hidden: true })
    .option('--size <COLSxROWS>', 'the SSH client terminal size', '80x24')
    .option('--target <text>', 'what the header names as the service', 'service')
    .action(async (opts: { size: string; target: string }) => {
      out.code = await runConsoleChild(opts).catch((e) => fail(e));
    });
  return program;
}

const configOpt = () => new Option('-c, --config <file>', 'config file (default: $XDG_CONFIG_HOME/billboard/config.json)');
const actorOpt = () => new Option('--actor <name>', 'who is acting, for the audit log (default: your OS user; embedded only)');
const connectOpts = (c: Command) =>
  c
    .addOption(new Option('--connect <target>', 'attach to a `billboard serve`: [USER@]HOST[:PORT] (default port 7448)'))
    .addOption(new Option('--identity <file>', 'private key for --connect (default: ssh-agent)'))
    .addOption(new Option('--known-hosts <file>', "known_hosts holding the service's key (default ~/.ssh/known_hosts)"));

/** `tui` (the default) and `demo`: the interactive console, on the configured lab or on the embedded demo lab */
function addConsoleCommands(program: Command, out: { code: number }): void {
  program
    .command('tui', { isDefault: true })
    .description('the interactive console (default)')
    .addOption(configOpt())
    .addOption(actorOpt())
    .option('--read-only', 'look, never touch: every mutating key and command is refused');
  connectOpts(program.commands.at(-1)!).action(async (opts: CommonOpts) => {
    out.code = await runInteractive(opts);
  });

  program
    .command('demo')
    .description('the console on an embedded demo lab: three libvirt test-driver hosts, real agents, scripted incidents')
    .option('--read-only', 'look, never touch')
    .action(async (opts: CommonOpts) => {
      out.code = await runDemo({ ...opts, interactive: true });
    });
}

function addScriptCommand(program: Command, out: { code: number }): void {
  program
    .command('script')
    .description('run commands from stdin, one per line (blank lines and # comments skipped); never prompts')
    .addOption(configOpt())
    .addOption(actorOpt())
    .option('--json', 'print exactly one JSON line per command: {"command","ok","data"|"error"}')
    .option('--demo', 'run against the embedded demo lab instead of the config')
    .option('--stop-on-error', 'stop at the first failing command')
    .option('--read-only', 'refuse every mutating command');
  connectOpts(program.commands.at(-1)!)
    .addHelpText(
      'after',
      `
Examples:
  printf 'register web-01 --uuid 1111…\\npending\\napprove web-01 --note ok\\n' | billboard script --json
  printf 'wait 20\\nfindings\\nvms\\n' | billboard script --demo --json
  echo help | billboard script                     lists the whole command grammar

Lines are at most 64 KiB. When the input ends (or on a first Ctrl-C) while a migration runs, the script waits for
it to end so that its outcome is recorded, and says so on stderr; a second Ctrl-C or SIGTERM cancels it (the VM
stays on its source) and the next start records how it ended.`,
    )
    .action(async (opts: CommonOpts & { json?: boolean; demo?: boolean; stopOnError?: boolean }) => {
      let target: ConnectTarget | undefined;
      try {
        target = opts.demo ? undefined : attachTarget(opts);
      } catch (e) {
        out.code = fail(e);
        return;
      }
      if (target) {
        out.code = await runScriptAttached(target, { json: !!opts.json, stopOnError: !!opts.stopOnError, readOnly: !!opts.readOnly });
        return;
      }
      const control: ScriptControl = {};
      const body = (rt: Runtime) =>
        runScript(rt, {
          json: !!opts.json,
          stopOnError: !!opts.stopOnError,
          input: process.stdin,
          out: (s) => process.stdout.write(s),
          err: (s) => process.stderr.write(s),
          control,
        });
      out.code = opts.demo
        ? await runDemo({ ...opts, interactive: false, script: body })
        : await withRuntime(opts, 'script', body, control);
    });
}

function addInitCommand(program: Command, out: { code: number }): void {
  program
    .command('init')
    .description("create the encrypted store (refuses to overwrite an existing one) and the service's SSH host key")
    .addOption(configOpt())
    .action(async (opts: CommonOpts) => {
      try {
        const config = loadConfig(opts.config);
        const env = existsSync(config.storePath) ? process.env : await withPromptedPassphrase(process.env, config.store.keyFile, true);
        const key = requireKeySource(env, config.store.keyFile);
        const weak = key.kind === 'passphrase' && !existsSync(config.storePath) ? passphraseProblem(key.passphrase) : undefined;
        if (weak) throw new BillboardError('CONFIG', weak);
        const hostKey = await ensureHostKey(config.hostKeyPath!);
        const fp = `${hostKey.fingerprint} (${hostKey.publicLine.split(' ')[0]})`;
        process.stdout.write(`${hostKey.created ? 'created' : 'kept'} service host key ${config.hostKeyPath}: ${fp}\n`);
        if (hostKey.created && existsSync(config.storePath)) {
          process.stdout.write(`kept the existing store ${config.storePath}\n`);
          out.code = 0;
          return;
        }
        const store = await createStore(config.storePath, key);
        await store.audit(opts.actor ?? osUser(), 'init', config.storePath, {});
        await store.close();
        process.stdout.write(`created encrypted store ${config.storePath}\n`);
        out.code = 0;
      } catch (e) {
        out.code = fail(e);
      }
    });
}

/** Ink needs a real terminal; without one, say what to use instead (never a stack trace). */
function requireTerminal(): void {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new BillboardError(
      'USAGE',
      'the interactive console needs a terminal (stdin and stdout must be a TTY); ' +
        'for pipes and scripts use `billboard script` (or `script --demo`)',
    );
  }
}

async function runInteractive(opts: CommonOpts): Promise<number> {
  let target: ConnectTarget | undefined;
  try {
    requireTerminal();
    target = attachTarget(opts);
  } catch (e) {
    return fail(e);
  }
  if (target) return runTuiAttached(target, { readOnly: !!opts.readOnly });
  // load the TUI (Ink, React: the slowest imports) while the runtime starts, not after it
  const tui = import('../tui/app.js');
  tui.catch(() => {});
  return withRuntime(opts, 'tui', async (rt) => {
    const { runTui } = await tui;
    return runTui(rt.console, { readOnly: rt.ctx.readOnly, noColor: !!process.env.NO_COLOR });
  });
}

/** What `billboard demo` asks of the demo lab; demo/ sits on top and provides it (bin/billboard.js wires it in). */
export interface DemoRun {
  readOnly: boolean;
  actor: string;
  mode: 'script' | 'tui';
  body: (rt: Runtime) => Promise<number>;
}
export type DemoRunner = (opts: DemoRun) => Promise<number>;

/** The entry's own wiring: what sits above the CLI (the demo lab), loaded only when asked for. */
export interface MainOptions {
  loadDemo?: () => Promise<DemoRunner>;
}

let entry: MainOptions = {};

async function runDemo(opts: CommonOpts & { interactive: boolean; script?: (rt: Runtime) => Promise<number> }): Promise<number> {
  try {
    if (opts.interactive) requireTerminal();
    const tui = opts.interactive ? import('../tui/app.js') : undefined;
    tui?.catch(() => {});
    if (!entry.loadDemo) throw new BillboardError('NOT_AVAILABLE', 'this build has no demo lab');
    const demo = await entry.loadDemo();
    return await demo({
      readOnly: !!opts.readOnly,
      actor: opts.actor ?? osUser(),
      mode: opts.interactive ? 'tui' : 'script',
      body: opts.interactive
        ? async (rt: Runtime) => {
            const { runTui } = await tui!;
            return runTui(rt.console, { readOnly: rt.ctx.readOnly, noColor: !!process.env.NO_COLOR });
          }
        : opts.script!,
    });
  } catch (e) {
    return fail(e);
  }
}

export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  entry = options;
  const out = { code: 0 };
  const program = buildProgram(out);
  program.exitOverride();
  program.configureOutput({
    writeErr: (s) => process.stderr.write(s),
    writeOut: (s) => process.stdout.write(s),
  });
  for (const c of program.commands) c.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 2;
    }
    return fail(e);
  }
  return out.code;
}
