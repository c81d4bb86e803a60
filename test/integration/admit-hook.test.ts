// contrib/billboard-admit on its own: a fake `ssh` on PATH records exactly what the hook would send and answers as
// told. Hostile domain names stay data; a missing ssh, an unknown host key and a service that never answers end in
// UNREACHABLE's answer within the timeout, logged to syslog, for deny and for allow.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tokenize } from '../../src/console/grammar.js';
import { hookProbe, parseHookProbe } from '../../src/hosts/ssh/admission-hook.js';
import { HOOK, domainXml, hookBin, runHook, writeHookConf, type HookBin, type HookConf } from '../support/admit-hook.js';

const UUID = '11111111-2222-4333-8444-555555555555';
const dir = mkdtempSync(join(tmpdir(), 'bb-hook-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** a fresh bin dir whose fake ssh writes its argv (NUL-separated) to argv and then runs `then` */
function fake(then: string): HookBin & { argv: string } {
  const d = join(dir, `bin${++n}`);
  const argv = join(d, 'argv');
  const bin = hookBin(d, { script: `for a in "$@"; do printf '%s\\0' "$a"; done >'${argv}'\n${then}` });
  return { ...bin, argv };
}

function conf(extra: Partial<HookConf> = {}, tail = ''): string {
  const c: HookConf = {
    TARGET: 'host-lab-a@console.lab:7448',
    IDENTITY: '/etc/libvirt/hooks/billboard-admit.key',
    KNOWN_HOSTS: '/etc/libvirt/hooks/billboard-admit.known_hosts',
    HOST: 'lab-a',
    UNREACHABLE: 'deny',
    // generous: a loaded machine may take seconds to start a process; the hang tests set their own
    TIMEOUT: 15,
    ...extra,
  };
  return writeHookConf(join(dir, `conf${++n}`), c, tail);
}

const argvOf = (b: { argv: string }) => readFileSync(b.argv, 'utf8').split('\0').slice(0, -1);
const xml = (nameXml = 'build-07', macs = ['52:54:00:aa:bb:01']) => domainXml({ uuid: UUID, nameXml, macs });

describe('billboard-admit', () => {
  it('asks with the settings and the XML values, and lets the start go on a yes (nothing on stdout)', async () => {
    const b = fake("echo 'billboard admits: build-07: approved'; exit 0");
    const r = await runHook({ bin: b, conf: conf(), xml: xml('build-07', ['52:54:00:AA:bb:01', '52:54:00:aa:bb:02']) });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    const argv = argvOf(b);
    for (const o of [
      'StrictHostKeyChecking=yes',
      'BatchMode=yes',
      'ConnectTimeout=15',
      'UserKnownHostsFile=/etc/libvirt/hooks/billboard-admit.known_hosts',
    ]) {
      expect(argv[argv.indexOf(o) - 1]).toBe('-o');
    }
    expect(argv[argv.indexOf('-i') + 1]).toBe('/etc/libvirt/hooks/billboard-admit.key');
    expect(argv[argv.indexOf('-p') + 1]).toBe('7448');
    expect(argv[argv.indexOf('-l') + 1]).toBe('host-lab-a');
    expect(argv.at(-2)).toBe('console.lab');
    expect(tokenize(argv.at(-1)!)).toEqual([
      'admit',
      ...['--host', 'lab-a', '--op', 'prepare', '--uuid', UUID, '--name', 'build-07'],
      ...['--mac', '52:54:00:AA:bb:01', '--mac', '52:54:00:aa:bb:02'],
    ]);
    expect(readFileSync(b.syslog, 'utf8')).toContain('admitted build-07');
  });

  it('passes on every call but prepare/migrate/restore begin without asking', async () => {
    const b = fake('exit 1');
    for (const [op, subop] of [
      ['start', 'begin'],
      ['started', 'begin'],
      ['stopped', 'end'],
      ['prepare', 'end'],
      ['release', 'end'],
    ]) {
      expect((await runHook({ bin: b, conf: conf(), xml: xml(), op, subop })).code).toBe(0);
    }
    expect(existsSync(b.argv)).toBe(false);
    for (const op of ['migrate', 'restore']) {
      await runHook({ bin: b, conf: conf(), xml: xml(), op });
      expect(tokenize(argvOf(b).at(-1)!).slice(0, 5)).toEqual(['admit', '--host', 'lab-a', '--op', op]);
    }
  });

  it("refuses on the service's no, with its one-line reason on stderr", async () => {
    const b = fake(`printf '%s\\n%s\\n' "billboard refused: lab-a's admin tried to start build-07" 'second line' >&2; exit 1`);
    const r = await runHook({ bin: b, conf: conf(), xml: xml() });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("billboard refused: lab-a's admin tried to start build-07\n");
    expect(readFileSync(b.syslog, 'utf8')).toContain('refused build-07');
  });

  it('keeps hostile names as data: $(…), quotes, backquotes, entities; a name across lines is dropped', async () => {
    const marker = join(dir, 'pwned');
    const hostile = [
      `$(touch ${marker})`,
      `\`touch ${marker}\``,
      `x'; touch ${marker}; '`,
      `"; touch ${marker}; "`,
      `a&amp;&lt;b&gt;&apos;&quot;`,
      `-- --host lab-b`,
    ];
    const expected = [hostile[0], hostile[1], hostile[2], hostile[3], `a&<b>'"`, hostile[5]];
    for (const [i, name] of hostile.entries()) {
      const b = fake('exit 0');
      const r = await runHook({ bin: b, conf: conf(), xml: xml(name) });
      expect(r.code, r.stderr).toBe(0);
      const words = tokenize(argvOf(b).at(-1)!);
      expect(words[words.indexOf('--name') + 1]).toBe(expected[i]);
      expect(words.filter((w) => w === '--host')).toHaveLength(1);
      expect(existsSync(marker)).toBe(false);
    }
    const b = fake('exit 0');
    await runHook({ bin: b, conf: conf(), xml: xml(`evil\n$(touch ${marker})`) });
    const words = tokenize(argvOf(b).at(-1)!);
    expect(words).not.toContain('--name');
    expect(words[words.indexOf('--uuid') + 1]).toBe(UUID);
    expect(existsSync(marker)).toBe(false);
  });

  it('takes only well-formed UUIDs and MACs from the XML, and refuses a domain with no UUID', async () => {
    const b = fake('exit 0');
    const bad = domainXml({ uuid: `${UUID}$(id)`, nameXml: 'x' });
    const r = await runHook({ bin: b, conf: conf(), xml: bad });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no domain UUID');
    expect(existsSync(b.argv)).toBe(false);
    await runHook({ bin: b, conf: conf(), xml: xml('x', ['52:54:00:aa:bb:01', "52:54:00:aa:bb:0$'"]) });
    expect(tokenize(argvOf(b).at(-1)!).filter((w) => w.includes(':'))).toEqual(['52:54:00:aa:bb:01']);
  });

  it('reads the settings as data: a command in a value is never run, bad values refuse', async () => {
    const marker = join(dir, 'conf-pwned');
    const b = fake('exit 0');
    const evil = conf({}, `HOST=$(touch ${marker})\n`);
    const r = await runHook({ bin: b, conf: evil, xml: xml() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('HOST must be');
    expect(existsSync(marker)).toBe(false);
    expect((await runHook({ bin: b, conf: conf({ TIMEOUT: 'x' as never }), xml: xml() })).stderr).toContain('TIMEOUT');
    expect((await runHook({ bin: b, conf: conf({ UNREACHABLE: 'maybe' as never }), xml: xml() })).stderr).toContain('UNREACHABLE');
    const missing = await runHook({ bin: b, conf: join(dir, 'no-such.conf'), xml: xml() });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('not configured');
    expect(existsSync(b.argv)).toBe(false);
    // quoted values are unquoted, comments skipped
    const quoted = join(dir, 'quoted.conf');
    writeFileSync(quoted, readFileSync(conf(), 'utf8').replace('HOST=lab-a', '# a comment\nHOST="lab-a"'));
    expect((await runHook({ bin: b, conf: quoted, xml: xml() })).code).toBe(0);
  });

  it("the scan's reading of the settings (hosts' HOOK) is what the hook does when the service cannot be asked", async () => {
    const none = hookBin(join(dir, 'none-parity'), 'none');
    const base = readFileSync(conf(), 'utf8').replace(/^(UNREACHABLE|TIMEOUT)=.*\n/gm, '');
    const variants = [
      'UNREACHABLE=allow\nTIMEOUT=5\n',
      "UNREACHABLE=allow\nUNREACHABLE='deny'\n",
      `UNREACHABLE="allow"\n${'TIMEOUT=7\n'.repeat(40)}`,
      'UNREACHABLE=deny\nTIMEOUT=010\n',
      'UNREACHABLE=allow\nTIMEOUT=99999999999999999999\n',
      'UNREACHABLE=maybe\n',
      'UNREACHABLE=deny\nTIMEOUT=0\n',
      'UNREACHABLE=deny\nTIMEOUT=61\n',
      'UNREACHABLE=allow \n',
      'UNREACHABLE=allow\r\n',
      'UNREACHABLE="allow\n',
      `UNREACHABLE='allow"\n`,
      'TIMEOUT=5\n',
    ];
    for (const [i, v] of variants.entries()) {
      const hooks = join(dir, `parity${i}`);
      mkdirSync(hooks);
      copyFileSync(HOOK, join(hooks, 'qemu'));
      const file = join(hooks, 'billboard-admit.conf');
      writeFileSync(file, base + v);
      const seen = parseHookProbe(execFileSync('/bin/sh', ['-c', hookProbe(join(hooks, 'qemu'))], { encoding: 'utf8' }));
      const settings = seen.state === 'present' ? seen.settings : undefined;
      const r = await runHook({ bin: none, conf: file, xml: xml() });
      const hookDid = r.code === 0 ? 'allow' : /must be|not configured/.test(r.stderr) ? 'refuses all' : 'deny';
      const scanSays = !settings ? 'unread' : 'problem' in settings ? 'refuses all' : settings.unreachable;
      expect([JSON.stringify(v), scanSays]).toEqual([JSON.stringify(v), hookDid]);
    }
  });

  for (const mode of ['deny', 'allow'] as const) {
    const code = mode === 'deny' ? 1 : 0;
    it(`UNREACHABLE=${mode}: a missing ssh, an unknown host key and a service that never answers → exit ${code}, logged`, async () => {
      const none = hookBin(join(dir, `none-${mode}`), 'none');
      const a = await runHook({ bin: none, conf: conf({ UNREACHABLE: mode }), xml: xml() });
      expect(a.code).toBe(code);
      expect(readFileSync(none.syslog, 'utf8')).toContain(`no ssh client on this host`);

      const hk = fake("echo 'Host key verification failed.' >&2; exit 255");
      const k = await runHook({ bin: hk, conf: conf({ UNREACHABLE: mode }), xml: xml() });
      expect(k.code).toBe(code);
      expect(readFileSync(hk.syslog, 'utf8')).toContain('Host key verification failed.');
      expect(readFileSync(hk.syslog, 'utf8')).toContain(`UNREACHABLE=${mode}`);
      if (mode === 'deny') expect(k.stderr).toContain('could not be asked');

      const hang = fake('exec sleep 30');
      const h = await runHook({ bin: hang, conf: conf({ UNREACHABLE: mode, TIMEOUT: 1 }), xml: xml(), timeoutMs: 10_000 });
      expect(h.code).toBe(code);
      expect(h.ms).toBeLessThan(1_000 + 3_000);
      expect(readFileSync(hang.syslog, 'utf8')).toContain('no answer within 1s');
    });
  }

  const shells = [['/bin/sh'], ['/bin/bash'], ...(existsSync('/usr/bin/busybox') ? [['/usr/bin/busybox', 'sh']] : [])];
  it(`under ${shells.map((x) => x.join(' ')).join(', ')}: a hang ends within the timeout with exactly one line on stderr`, async () => {
    for (const shell of shells) {
      const hang = fake('exec sleep 30');
      const h = await runHook({ bin: hang, conf: conf({ TIMEOUT: 1 }), xml: xml(), timeoutMs: 10_000, shell });
      expect(h.code).toBe(1);
      expect(h.stderr).toBe('billboard: the Billboard Manager could not be asked (no answer within 1s): refused\n');
      expect(h.ms).toBeLessThan(1_000 + 3_000);
    }
  });
});
