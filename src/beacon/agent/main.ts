// billboard-beacon: the guest agent's command line. The agent reaches guests as one bundled file
// (dist/agent/billboard-beacon.js, built from entry.ts), so it imports nothing outside src/beacon and src/model,
// and those import only `node:` builtins.
import { WireError } from '../wire.js';
import { one, parseAgentArgs, parseFlags, UsageError } from './args.js';
import { HELP } from './help.js';
import { keygen } from './key-file.js';
import { runAgent } from './run.js';

/** `argv` is process.argv (node, script, ...args). Resolves to the exit code: 0 done, 1 runtime error, 2 usage. */
export async function main(argv: string[]): Promise<number> {
  const args = argv.slice(2);
  try {
    if (args.length === 0 || args.includes('--help') || args.includes('-h') || args[0] === 'help') {
      process.stdout.write(HELP);
      return args.length === 0 ? 2 : 0;
    }
    if (args[0] === 'keygen') {
      const flags = parseFlags(args.slice(1));
      const out = one(flags, '--out');
      if (!out || flags.size !== 1) throw new UsageError('usage: billboard-beacon keygen --out FILE');
      return keygen(out);
    }
    if (!args[0]!.startsWith('-')) throw new UsageError(`unknown command ${JSON.stringify(args[0])}`);
    return await runAgent(parseAgentArgs(parseFlags(args)));
  } catch (e) {
    if (e instanceof UsageError || e instanceof WireError) {
      process.stderr.write(`billboard-beacon: ${e.message}\ntry: billboard-beacon --help\n`);
      return 2;
    }
    process.stderr.write(`billboard-beacon: ${(e as Error).message?.split('\n')[0] ?? String(e)}\n`);
    return 1;
  }
}
