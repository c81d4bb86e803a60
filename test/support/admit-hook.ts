// Running contrib/billboard-admit as libvirt does (qemu OBJECT OP SUBOP EXTRA, the domain XML on stdin), with a
// PATH the test controls: tools linked from the system, optionally a fake `ssh` and a `logger` that records.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const HOOK = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', 'contrib', 'billboard-admit');

/** the tools the hook needs besides sh's builtins */
const TOOLS = ['sh', 'sed', 'grep', 'head', 'tr', 'cut', 'mktemp', 'rm', 'cat', 'sleep', 'touch', 'kill', 'timeout'];

function which(tool: string): string | undefined {
  for (const d of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) if (existsSync(join(d, tool))) return join(d, tool);
  return undefined;
}

export interface HookBin {
  dir: string;
  /** where the fake logger appends one line per call */
  syslog: string;
}

/**
 * A bin dir for the hook's PATH: the system's tools, a `logger` writing to `syslog`, and `ssh` as given: 'real'
 * (OpenSSH), a shell script body (a fake), or absent.
 */
export function hookBin(dir: string, ssh: 'real' | 'none' | { script: string }): HookBin {
  mkdirSync(dir, { recursive: true });
  for (const t of TOOLS) {
    const p = which(t);
    if (p && !existsSync(join(dir, t))) symlinkSync(p, join(dir, t));
  }
  const syslog = join(dir, 'syslog');
  writeFileSync(join(dir, 'logger'), `#!/bin/sh\nprintf '%s\\n' "$*" >>'${syslog}'\n`);
  chmodSync(join(dir, 'logger'), 0o755);
  if (ssh === 'real') symlinkSync(which('ssh')!, join(dir, 'ssh'));
  else if (ssh !== 'none') {
    writeFileSync(join(dir, 'ssh'), `#!/bin/sh\n${ssh.script}\n`);
    chmodSync(join(dir, 'ssh'), 0o755);
  }
  return { dir, syslog };
}

export interface HookConf {
  TARGET: string;
  IDENTITY: string;
  KNOWN_HOSTS: string;
  HOST: string;
  UNREACHABLE: 'allow' | 'deny';
  TIMEOUT: number;
}

export function writeHookConf(file: string, c: HookConf, extra = ''): string {
  const lines = Object.entries(c).map(([k, v]) => `${k}=${v}`);
  writeFileSync(file, `# billboard-admit settings\n${lines.join('\n')}\n${extra}`);
  return file;
}

/** a domain XML as libvirt formats it (name first, then uuid); the name is given already XML-escaped */
export function domainXml(d: { uuid: string; nameXml: string; macs?: string[] }): string {
  const nics = (d.macs ?? []).map((m) => `    <interface type='network'>\n      <mac address='${m}'/>\n    </interface>\n`).join('');
  return `<domain type='kvm'>\n  <name>${d.nameXml}</name>\n  <uuid>${d.uuid}</uuid>\n  <memory unit='KiB'>65536</memory>\n  <devices>\n${nics}  </devices>\n</domain>\n`;
}

export interface HookRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** run the hook as libvirt would for `op begin` on the domain in `xml` */
export function runHook(o: {
  bin: HookBin;
  conf: string;
  xml: string;
  op?: string;
  subop?: string;
  timeoutMs?: number;
  /** the shell that runs it, as argv (default /bin/sh) */
  shell?: string[];
}): Promise<HookRun> {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const [sh, ...shArgs] = o.shell ?? ['/bin/sh'];
    const child = spawn(sh!, [...shArgs, HOOK, 'guest', o.op ?? 'prepare', o.subop ?? 'begin', '-'], {
      env: { PATH: o.bin.dir, BILLBOARD_ADMIT_CONF: o.conf, TMPDIR: o.bin.dir },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`the hook did not finish within ${o.timeoutMs ?? 20_000} ms; stderr: ${stderr}`));
    }, o.timeoutMs ?? 20_000);
    // 'close': every holder of the hook's stdout/stderr is gone, as libvirt waits for
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr, ms: performance.now() - t0 });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(o.xml);
  });
}
