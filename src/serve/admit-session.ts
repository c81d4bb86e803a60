import type ssh2 from 'ssh2';
import type { Console } from '../console/console.js';
import type { Operator } from './operators.js';

// `ssh host-NAME@console admit --host … --op … --uuid …`: a host's admission hook asks one question as an exec
// command (no stdin, no shell) and reads the answer from the exit status: 0 yes, 1 no (the reason on stderr, which
// the hook hands to libvirt), 2 the question itself was wrong (usage, permission). The answer goes out once the
// decision is audited; a client that left meanwhile still gets its decision recorded.

/** exit status of an `admit` exec: what the hook reads */
export const ADMIT_YES = 0;
export const ADMIT_NO = 1;
export const ADMIT_ERROR = 2;

/** the longest answer line sent back (libvirt shows it in one error message) */
const MAX_LINE = 400;

function oneLine(s: string): string {
  const line = s.replace(/[\r\n]+/g, ' ').trim();
  return line.length > MAX_LINE ? `${line.slice(0, MAX_LINE - 1)}…` : line;
}

export function admitSession(
  op: Operator,
  channel: ssh2.ServerChannel,
  line: string,
  deps: { console: (op: Operator, readOnly: boolean) => Console; feed: { poke(): void } },
): void {
  const con = deps.console(op, false);
  const done = () => {
    con.dispose();
    deps.feed.poke();
  };
  const finish = (code: number, out: string, err: string) => {
    if (!channel.destroyed) {
      if (out) channel.write(`${oneLine(out)}\n`);
      if (err) channel.stderr.write(`${oneLine(err)}\n`);
      channel.exit(code);
      channel.end();
    }
    done();
  };
  con.run(line).then(
    (r) => {
      if (r.ok) return finish(ADMIT_YES, r.text ?? 'yes', '');
      finish(r.error.code === 'REFUSED' ? ADMIT_NO : ADMIT_ERROR, '', r.error.message);
    },
    (e: unknown) => finish(ADMIT_ERROR, '', `billboard: ${op.name}: ${(e as Error).message}`),
  );
}
