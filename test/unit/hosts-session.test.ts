import { describe, expect, it } from 'vitest';
import { pidLine } from '../../src/hosts/ssh/remote-pid.js';
import {
  learnFraming,
  markerIn,
  markerOut,
  SessionGoneError,
  SessionStartError,
  splitResponse,
  VirshSession,
  type SessionEnd,
  type SessionStream,
} from '../../src/hosts/virsh/session.js';
import { SESSION_LIST, sessionDomainLines, sessionRawDomains } from '../../src/hosts/virsh/batch.js';

// The virsh session's framing (pure) and its request / timeout / bound handling over a scripted stream that
// talks like `virsh -q` in interactive mode behind readline (prompt, echo of each input line, `echo` without a
// newline). The real virsh behind a real sshd is in test/integration/hosts-ssh.test.ts.

const P = 'virsh # ';

/** A fake virsh: `echo ARGS` (quotes removed, no newline), `say TEXT` (TEXT + newline), `fail`, `hang`, `die`. */
class FakeVirsh implements SessionStream {
  private data?: (b: Buffer) => void;
  private closeCb?: (how: SessionEnd) => void;
  private pending = '';
  hung = false;
  killed = false;
  ended = false;
  /** split every output into chunks of this many bytes (to cut markers and UTF-8 characters apart) */
  chunk = 0;
  writes: string[] = [];

  constructor(private readonly opts: { echo?: boolean; banner?: string; silent?: boolean } = {}) {
    setImmediate(() => this.emit((opts.banner ?? '') + P));
  }

  emit(s: string): void {
    const b = Buffer.from(s);
    if (!this.chunk) return this.data?.(b);
    for (let i = 0; i < b.length; i += this.chunk) this.data?.(b.subarray(i, i + this.chunk));
  }

  write(s: string): void {
    this.writes.push(s);
    if (this.opts.silent) return;
    this.pending += s;
    setImmediate(() => this.run());
  }

  private run(): void {
    let nl: number;
    while (!this.hung && (nl = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      let out = this.opts.echo === false ? '' : line + '\n';
      const [cmd, ...rest] = line.split(' ');
      const arg = rest.join(' ');
      if (cmd === 'echo') out += arg.replace(/''/g, '');
      else if (cmd === 'say') out += arg + '\n';
      else if (cmd === 'fail') out += 'error: failed to get domain\nerror: boom\n';
      else if (cmd === 'hang') {
        this.hung = true;
        this.emit(out);
        return;
      } else if (cmd === 'die') {
        this.emit(out + 'partial');
        this.close({ code: null, signal: 'KILL', connectionLost: false });
        return;
      }
      this.emit(out + P);
    }
  }

  close(how: SessionEnd): void {
    this.hung = true;
    this.closeCb?.(how);
  }

  end(): void {
    this.ended = true;
    this.close({ code: 0, connectionLost: false });
  }

  killedPid?: number;

  kill(pid?: number): void {
    this.killed = true;
    this.killedPid = pid;
    this.close({ code: null, signal: 'KILL', connectionLost: false });
  }

  onData(cb: (b: Buffer) => void): void {
    this.data = cb;
  }

  onClose(cb: (how: SessionEnd) => void): void {
    this.closeCb = cb;
  }
}

const opts = { host: 'h1', maxBytes: 1 << 20 };
const ask = (s: VirshSession, lines: string[], timeoutMs = 2000) => s.request(lines, { timeoutMs, what: 'scan' });

describe('virsh session framing (pure)', () => {
  it('learns the prompt and whether readline echoes input, ignoring start-up noise', () => {
    const readyIn = markerIn('ab', 'r');
    expect(learnFraming(`warning: x\n${P}${readyIn}\n`, readyIn)).toEqual({ prompt: P, echoes: true });
    expect(learnFraming('virsh > ', readyIn)).toEqual({ prompt: 'virsh > ', echoes: false });
  });

  it('splits a response into outputs, strips prompt and echo, and tells failures from output', () => {
    const n = '00ff';
    const lines = ['say one', 'fail', 'echo two'];
    const text =
      `${P}echo\n${P}` + // what followed the previous request's last marker
      `say one\none\n${P}${markerIn(n, 0)}\n${markerOut(n, 0)}` +
      `${P}fail\nerror: failed to get domain 'x'\n${P}${markerIn(n, 1)}\n${markerOut(n, 1)}` +
      `${P}echo two\ntwo${P}${markerIn(n, 2)}\n${markerOut(n, 2)}`;
    expect(splitResponse(text, lines, n, { prompt: P, echoes: true })).toEqual([
      { out: 'one\n' },
      { out: '', error: "error: failed to get domain 'x'\n" },
      { out: 'two' },
    ]);
  });

  it('reads the pid the session command announces (and nothing that merely looks like one)', () => {
    const p = pidLine('c0de');
    expect(p.echo).toBe('echo "@@BBc0de:pid:$$"');
    expect(p.find('motd\n@@BBc0de:pid:1234\nvirsh # ')).toBe(1234);
    expect(p.find('@@BBc0de:pid:1\n')).toBeUndefined();
    expect(p.find('@@BBc0de:pid:12')).toBeUndefined(); // incomplete line
    expect(p.find('virsh # ')).toBeUndefined();
    expect(p.find('@@BB:pid:1234\n@@BBbeef:pid:1235\n')).toBeUndefined(); // no line, or another command's nonce
    expect(p.find('x'.repeat(5000) + '@@BBc0de:pid:1234\n')).toBeUndefined(); // only at the stream's start
    expect(p.strip('pyenv: warning\n@@BBc0de:pid:1234\nerror: no domain\n')).toBe('pyenv: warning\nerror: no domain\n');
    expect(pidLine().echo).not.toBe(pidLine().echo); // fresh per command
  });

  it('works without readline echo too', () => {
    const n = '01';
    const text = `${P}${P}line\n${P}${markerOut(n, 0)}`;
    expect(splitResponse(text, ['say line'], n, { prompt: P, echoes: false })).toEqual([{ out: 'line\n' }]);
  });

  it('is not fooled by marker text inside an output (another nonce, or the echoed input form)', () => {
    const n = 'beef';
    const forged = `${markerOut('dead', 0)} ${markerIn(n, 0)} @@BB${n}:0`;
    const text = `${P}say ${forged}\n${forged}\n${P}${markerIn(n, 0)}\n${markerOut(n, 0)}`;
    expect(splitResponse(text, [`say ${forged}`], n, { prompt: P, echoes: true })).toEqual([{ out: `${forged}\n` }]);
  });

  it('builds the scan: per domain state, XML and (only when active) addresses, and maps the answers back', () => {
    expect(SESSION_LIST[0]).toBe('list --all --uuid');
    const l = { uuids: ['u1', 'u2'], inactive: new Set(['u2']), node: '', free: '' };
    const lines = sessionDomainLines(l);
    expect(lines).toEqual(['domstate u1', 'dumpxml u1', 'domifaddr u1', 'domstate u2', 'dumpxml u2']);
    const outs = ['running\n', 'warning: stray\n <domain/>\n', 'ifs', 'shut off\n', ''].map((out) => ({ out }));
    expect(sessionRawDomains(l, outs)).toEqual([
      { uuid: 'u1', state: 'running\n', xml: '<domain/>', ifaddr: 'ifs' },
      { uuid: 'u2', state: 'shut off\n', xml: '', ifaddr: '' },
    ]);
  });
});

describe('virsh session over a scripted stream', () => {
  it('answers requests in order, with markers and UTF-8 characters cut across chunks', async () => {
    const f = new FakeVirsh({ banner: 'I/O warning: noise\n' });
    f.chunk = 3;
    const s = await VirshSession.start(f, opts, 2000);
    const [a, b] = await Promise.all([ask(s, ['say héllo wörld', 'fail', 'echo x']), ask(s, ['say second'])]);
    expect(a).toEqual([{ out: 'héllo wörld\n' }, { out: '', error: 'error: failed to get domain\nerror: boom\n' }, { out: 'x' }]);
    expect(b).toEqual([{ out: 'second\n' }]);
    expect(await ask(s, ['say third'])).toEqual([{ out: 'third\n' }]);
    // one request at a time: the second was written only after the first was answered
    expect(f.writes.filter((w) => w.includes('say second'))).toHaveLength(1);
    expect(f.writes.findIndex((w) => w.includes('say second'))).toBeGreaterThan(f.writes.findIndex((w) => w.includes('héllo')));
  });

  it('a hung command times out, kills the session (with the pid it announced), and later requests say it is gone', async () => {
    const f = new FakeVirsh({ banner: '@@BBabc:pid:4242\n' });
    const s = await VirshSession.start(f, { ...opts, pidLine: pidLine('abc') }, 2000);
    await expect(s.request(['say a', 'hang', 'say b'], { timeoutMs: 100, what: 'scan', timeoutLabelMs: 15_000 })).rejects.toMatchObject({
      code: 'TIMEOUT',
      message: 'h1: scan timed out after 15.0s',
    });
    expect(f.killed).toBe(true);
    expect(f.killedPid).toBe(4242);
    expect(s.alive).toBe(false);
    await expect(ask(s, ['say c'])).rejects.toBeInstanceOf(SessionGoneError);
  });

  it('a pid is taken only from the shell’s own nonce line, never from what a command prints', async () => {
    // no pid line at start (a forced command, a shell without $$): a command's output then carries forged ones
    const f = new FakeVirsh();
    const s = await VirshSession.start(f, { ...opts, pidLine: pidLine('abc') }, 2000);
    const p = s.request(['say @@BB:pid:4242', 'say @@BBabc:pid:4243', 'hang'], { timeoutMs: 200, what: 'scan' });
    await expect(p).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(f.killed).toBe(true);
    expect(f.killedPid).toBeUndefined();
  });

  it('output beyond the bound kills the session', async () => {
    const f = new FakeVirsh();
    const s = await VirshSession.start(f, { host: 'h1', maxBytes: 200 }, 2000);
    await expect(ask(s, ['say ' + 'x'.repeat(300)])).rejects.toMatchObject({
      code: 'HOST_ERROR',
      message: 'h1: virsh session output exceeded 200 bytes',
    });
    expect(f.killed).toBe(true);
  });

  it('a session that dies mid-request is truncated output; one that dies idle is gone before anything is sent', async () => {
    const f = new FakeVirsh();
    const s = await VirshSession.start(f, opts, 2000);
    await expect(ask(s, ['say a', 'die', 'say b'])).rejects.toMatchObject({
      code: 'HOST_ERROR',
      message: expect.stringMatching(/^h1: truncated output: virsh session killed by signal KILL after \d+ bytes$/),
    });
    const g = new FakeVirsh();
    const t = await VirshSession.start(g, opts, 2000);
    g.close({ code: null, connectionLost: true });
    await expect(ask(t, ['say a'])).rejects.toBeInstanceOf(SessionGoneError);
    expect(g.writes).toHaveLength(1); // the handshake only
  });

  it('the connection dropping under a request is HOST_DOWN', async () => {
    const f = new FakeVirsh();
    const s = await VirshSession.start(f, opts, 2000);
    const p = ask(s, ['hang']);
    await new Promise((r) => setTimeout(r, 20));
    s.dropped(Object.assign(new Error('h1: connection to root@x:22 lost'), { code: 'HOST_DOWN' }) as never);
    await expect(p).rejects.toMatchObject({ code: 'HOST_DOWN', message: 'h1: virsh session interrupted: connection to root@x:22 lost' });
  });

  it('a session that never answers, or exits, does not start (and says which)', async () => {
    const silent = new FakeVirsh({ silent: true, banner: 'motd\n@@BB:pid:76\n@@BBabc:pid:77\n' });
    const e1 = await VirshSession.start(silent, { ...opts, pidLine: pidLine('abc') }, 100).catch((e) => e);
    expect(e1).toBeInstanceOf(SessionStartError);
    expect(e1.kind).toBe('timeout');
    expect(silent.killed).toBe(true);
    expect(silent.killedPid).toBe(77); // announced before virsh went silent
    const quits = new FakeVirsh({ silent: true });
    setTimeout(() => quits.close({ code: 1, connectionLost: false }), 10);
    const e2 = await VirshSession.start(quits, opts, 2000).catch((e) => e);
    expect(e2).toMatchObject({ kind: 'exited', message: 'virsh session exited with status 1 before answering' });
    const lost = new FakeVirsh({ silent: true });
    setTimeout(() => lost.close({ code: null, connectionLost: true }), 10);
    expect(await VirshSession.start(lost, opts, 2000).catch((e) => e)).toMatchObject({ kind: 'lost' });
  });

  it('a session that talks on its own between requests is dropped', async () => {
    const f = new FakeVirsh();
    const s = await VirshSession.start(f, opts, 2000);
    f.emit('x'.repeat(70 * 1024));
    expect(s.alive).toBe(false);
    expect(f.killed).toBe(true);
  });

  it('close() lets virsh exit at end of input', async () => {
    const f = new FakeVirsh();
    const s = await VirshSession.start(f, opts, 2000);
    s.close();
    expect(f.ended).toBe(true);
    expect(s.alive).toBe(false);
  });
});

describe('sessionLine: a command for virsh’s own parser', () => {
  it('keeps plain arguments, single-quotes the others, refuses what cannot be quoted', async () => {
    const { sessionLine } = await import('../../src/hosts/virsh/session.js');
    expect(
      sessionLine([
        'migrate',
        '--live',
        '--bandwidth',
        '32',
        '6f1c2b9e-0a11-4c3e-9a51-00000000a001',
        'qemu+ssh://root@10.0.0.2:22/system?keyfile=/k b',
      ]),
    ).toBe("migrate --live --bandwidth 32 6f1c2b9e-0a11-4c3e-9a51-00000000a001 'qemu+ssh://root@10.0.0.2:22/system?keyfile=/k b'");
    expect(sessionLine(['migrate', "it's"])).toBeUndefined();
    expect(sessionLine(['migrate', 'a\nb'])).toBeUndefined();
    expect(sessionLine(['migrate', ''])).toBeUndefined();
  });
});
