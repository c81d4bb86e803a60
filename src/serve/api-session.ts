import type { Duplex } from 'node:stream';
import type { ConsoleApi } from '../console/api.js';
import { errorLine } from '../model/errors.js';
import type { Feed } from './feed.js';
import { readJsonLines } from './jsonl.js';

// One attached console (`billboard --connect`, or the console child of an `ssh -t` session): the feed's state out,
// commands in. A command runs to its end in the service whatever happens to the connection (it is audited there);
// a peer that does not read is dropped once its buffer passes maxBuffer, so it never holds the service back.

export interface ApiSessionOptions {
  /** bytes queued for the peer before it is dropped */
  maxBuffer: number;
  onDrop: (why: string) => void;
}

/** the longest request line: a command line is at most 64 KiB */
const MAX_REQUEST = 80 * 1024;
/** commands one session may have running at once */
const MAX_INFLIGHT = 4;

export interface Hello {
  t: 'hello';
  actor: string;
  role?: string;
  readOnly: boolean;
  service: string;
}

export function serveApi(stream: Duplex, api: ConsoleApi, feed: Feed, hello: Omit<Hello, 't'>, opts: ApiSessionOptions): () => void {
  let open = true;
  let inflight = 0;
  const drop = (why: string) => {
    if (!open) return;
    close();
    opts.onDrop(why);
    stream.destroy();
  };
  // The whole state comes first and may alone pass maxBuffer (a big lab's is megabytes): what is left of it unread
  // is not held against the budget, so a console is dropped for deltas it does not read, not for attaching.
  let written = 0;
  let stateEnd = 0;
  const write = (line: string) => {
    if (!open) return;
    const unreadState = Math.max(0, stateEnd - (written - stream.writableLength));
    if (stream.writableLength - unreadState > opts.maxBuffer) return drop(`more than ${opts.maxBuffer} bytes unread: dropped`);
    written += Buffer.byteLength(line) + 1;
    stream.write(line + '\n');
  };
  const send = (m: object) => write(JSON.stringify(m));
  send({ t: 'hello', ...hello });
  const unsubscribe = feed.subscribe((line) => {
    write(line);
    stateEnd ||= written;
  });
  const close = () => {
    open = false;
    unsubscribe();
  };
  stream.on('close', close);
  stream.on('error', close);
  readJsonLines(
    stream,
    MAX_REQUEST,
    (m) => {
      const id = typeof m.id === 'number' ? m.id : 0;
      if (inflight >= MAX_INFLIGHT) {
        return send({ t: 'res', id, r: { command: '', ok: false, error: { code: 'REFUSED', message: 'too many commands at once' } } });
      }
      inflight++;
      void handle(m, id, api, send).finally(() => {
        inflight--;
        feed.poke();
      });
    },
    (why) => drop(`sent ${why}`),
  );
  return close;
}

async function handle(m: Record<string, unknown>, id: number, api: ConsoleApi, send: (m: object) => void): Promise<void> {
  try {
    if (m.t === 'run' && typeof m.line === 'string') {
      const r = await api.run(m.line, (ev) => send({ t: 'ev', id, ev }));
      send({ t: 'res', id, r });
    } else if (m.t === 'choices' && typeof m.vm === 'string') {
      send({ t: 'choices', id, c: await api.migrationChoices(m.vm) });
    } else {
      send({ t: 'res', id, r: { command: '', ok: false, error: { code: 'USAGE', message: 'unknown request' } } });
    }
  } catch (e) {
    send({ t: 'res', id, r: { command: '', ok: false, error: { code: 'INTERNAL', message: errorLine(e) } } });
  }
}
