import { realpathSync } from 'node:fs';
import type { Command } from 'commander';
import { Option } from 'commander';
import pino, { type Logger } from 'pino';
import { errorLine, exitCodeFor } from '../model/errors.js';
import { RELOAD_APPLIES, RESTART_ONLY, startService } from '../serve/service.js';
import { loadConfig } from './config-load.js';
import { fileLogger, LOG_REDACT } from './logger.js';
import { runScript } from './script.js';

// `billboard serve`: the standing service in the foreground (systemd runs it). Logs are JSON lines on stdout when
// stdout is not a terminal (journald keeps them), else they go to log.path. SIGTERM / SIGINT stop it cleanly,
// SIGHUP reloads the config (what it applies and what needs a restart: RELOAD_APPLIES and RESTART_ONLY in
// serve/service.ts, which the help text names).

function serviceLogger(path: string, level: string): Logger {
  if (process.stdout.isTTY) return fileLogger(path, level);
  return pino({ level, redact: LOG_REDACT });
}

export async function runServe(opts: { config?: string }): Promise<number> {
  let service;
  try {
    const config = loadConfig(opts.config);
    const log = serviceLogger(config.logPath, config.log.level);
    service = await startService({
      config,
      log,
      reloadConfig: () => loadConfig(opts.config),
      runScript,
      consoleChild: [process.execPath, realpathSync(process.argv[1]!), '__console-child'],
    });
    const a = service.ssh.address;
    const b = service.runtime.beaconAddress;
    process.stderr.write(`billboard serve: operators on ssh ${a.address}:${a.port}, beacons on udp ${b.address}:${b.port}\n`);
  } catch (e) {
    process.stderr.write(`billboard: ${errorLine(e)}\n`);
    return exitCodeFor(e);
  }
  const s = service;
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      void s.close().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    const reload = () => {
      // a reload that throws past its own handling is said and survived: the service keeps serving (an unhandled
      // rejection would end it)
      void s.reload().then(
        (r) => {
          if (r.ok) process.stderr.write(`billboard serve: config reloaded: ${r.summary}\n`);
          else process.stderr.write(`billboard serve: config reload refused, still running on the old config: ${r.error}\n`);
        },
        (e: unknown) => process.stderr.write(`billboard serve: config reload failed: ${errorLine(e)}\n`),
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGHUP', reload);
  });
}

export function addServeCommand(program: Command, out: { code: number }): void {
  program
    .command('serve')
    .description('the standing service: beacons, scans, policy, migrations, the store, and an SSH endpoint for operators')
    .addOption(new Option('-c, --config <file>', 'config file (default: $XDG_CONFIG_HOME/billboard/config.json)'))
    .addHelpText(
      'after',
      `
Operators attach with \`billboard --connect USER@HOST[:PORT]\`, \`billboard script --connect …\`, or OpenSSH:
  ssh -p 7448 alice@console script --json < plan.txt       ssh -t -p 7448 alice@console
SIGHUP reloads the config, audited before it applies; a bad file, or a change that cannot be audited, changes nothing.
  applied at once:  ${RELOAD_APPLIES.join(', ')} (admission.unreachable and admission.timeoutS
                    reach a host when \`hosts install-hook\` writes its hook)
  need a restart:   ${RESTART_ONLY.join(', ')}
SIGTERM stops it cleanly. \`billboard init\` creates the host key.`,
    )
    .action(async (opts: { config?: string }) => {
      out.code = await runServe(opts);
    });
}
