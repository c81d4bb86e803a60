// A lab host's syslog, as its qemu hook writes it: contrib/billboard-admit calls the real util-linux `logger`, which
// writes to /dev/log. On Debian /dev/log is a symlink to /run/systemd/journal/dev-log, and each lab host has its
// own /run (a bind mount in its namespace), so that link gives every host its own syslog socket, at
// HOST_DIR/run/systemd/journal/dev-log from outside. Here a unix stream socket listens there (logger tries a
// datagram socket first, then a stream one, ending each message with a newline) and keeps the lines it receives.
import { existsSync, lstatSync, mkdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { LabHost } from './harness.js';

const DEV_LOG = '/dev/log';
const JOURNAL_SOCKET = '/run/systemd/journal/dev-log';

export interface HostSyslog {
  /** every line received so far: `<PRI>Mmm dd hh:mm:ss TAG: message` */
  lines(): string[];
  /** the lines tagged `tag`, as `PRI message` (PRI 27 = daemon.err, 28 = daemon.warning, 30 = daemon.info) */
  tagged(tag: string): { pri: number; message: string }[];
  close(): Promise<void>;
}

/** captures that need the /dev/log link in this process; the last one to close removes the link it made */
let linked = 0;
let madeLink = false;

/**
 * Make /dev/log lead to each lab host's own /run: on a machine without it (no syslog daemon), a link to the
 * journal's socket path, as Debian lays it out. Outside the lab's namespaces that path does not exist, so a
 * `logger` there fails as it did without the link. A link already there (another lab run's) is used as it is; any
 * other /dev/log belongs to the machine's syslog daemon, which would take the hosts' lines, so the capture refuses.
 */
function linkDevLog(): void {
  linked++;
  if (existsSync(DEV_LOG) || isLink(DEV_LOG)) {
    if (!isLink(DEV_LOG) || readlinkSync(DEV_LOG) !== JOURNAL_SOCKET) {
      linked--;
      throw new Error(`${DEV_LOG} exists and is not a link to ${JOURNAL_SOCKET}: lab hosts' syslog cannot be captured`);
    }
    return;
  }
  symlinkSync(JOURNAL_SOCKET, DEV_LOG);
  madeLink = true;
}

function unlinkDevLog(): void {
  if (--linked > 0 || !madeLink) return;
  madeLink = false;
  if (isLink(DEV_LOG) && readlinkSync(DEV_LOG) === JOURNAL_SOCKET) rmSync(DEV_LOG);
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Listen on `host`'s /run/systemd/journal/dev-log until close(). */
export async function captureSyslog(host: LabHost): Promise<HostSyslog> {
  linkDevLog();
  const dir = join(host.dir, 'run', 'systemd', 'journal');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'dev-log');
  rmSync(path, { force: true });
  const lines: string[] = [];
  const server: Server = createServer((c) => {
    let buf = '';
    c.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const parts = buf.split(/[\n\0]/);
      buf = parts.pop()!;
      lines.push(...parts.filter(Boolean));
    });
    c.on('end', () => {
      if (buf) lines.push(buf);
      buf = '';
    });
    c.on('error', () => {});
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, resolve);
    });
  } catch (e) {
    unlinkDevLog();
    throw e;
  }
  return {
    lines: () => [...lines],
    tagged: (tag) =>
      lines.flatMap((l) => {
        const m = /^<(\d+)>(?:\w{3} [ \d]\d \d\d:\d\d:\d\d )?([^:[\s]+)(?:\[\d+\])?: (.*)$/.exec(l);
        return m && m[2] === tag ? [{ pri: Number(m[1]), message: m[3]! }] : [];
      }),
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(path, { force: true });
      unlinkDevLog();
    },
  };
}
