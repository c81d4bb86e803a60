import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { expandPath, loadConfig, xdgPaths } from '../../src/cli/config-load.js';
import { BillboardError } from '../../src/model/errors.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dir = mkdtempSync(join(tmpdir(), 'bb-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An environment where every default location is inside the temp dir. */
const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  HOME: join(dir, 'home'),
  XDG_CONFIG_HOME: join(dir, 'xdg-config'),
  XDG_DATA_HOME: join(dir, 'xdg-data'),
  XDG_STATE_HOME: join(dir, 'xdg-state'),
  ...extra,
});

let n = 0;
function writeConfig(content: unknown, name = `c${++n}.json`, sub = ''): string {
  const folder = join(dir, sub);
  mkdirSync(folder, { recursive: true });
  const p = join(folder, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return p;
}

function configError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(BillboardError);
    expect((e as BillboardError).code).toBe('CONFIG');
    const msg = (e as Error).message;
    expect(msg).not.toMatch(/\n/);
    return msg;
  }
  throw new Error('the config was accepted, but it should have been refused');
}

const full = {
  store: { path: 'data/store.db', keyFile: '~/keys/store.key' },
  log: { path: '/var/tmp/bb.log', level: 'debug' },
  beacon: { listen: '0.0.0.0:7447', intervalS: 2, missedBeforeSilent: 4, maxSkewS: 30 },
  scan: { intervalS: 10, timeoutS: 5, concurrency: 4, eventsIntervalS: 600 },
  hosts: [
    {
      name: 'lab-a',
      driver: 'ssh',
      address: '10.0.0.11',
      port: 2222,
      user: 'ops',
      identityFile: 'id_ed25519',
      knownHostsFile: '~/.ssh/kh',
      libvirtUri: 'qemu:///system',
      migrationUri: 'qemu+ssh://ops@10.0.0.11:2222/system',
    },
    { name: 'lab-b', driver: 'libvirt', uri: 'test://hosts/b.xml' },
    { name: 'lab-c', driver: 'libvirt', uri: 'test:///default' },
    { name: 'lab-d', driver: 'libvirt', uri: 'qemu+ssh://root@10.0.0.12/system' },
  ],
  migration: { bandwidthMiBs: 64, maxDowntimeMs: 300, transport: 'tls', requireDifferentAuthorizer: true },
  policy: { enforcement: 'isolate' },
};

describe('loadConfig: valid files', () => {
  it('the shipped config.example.json is valid', () => {
    const cfg = loadConfig(join(ROOT, 'config.example.json'), env());
    expect(cfg.file).toBe(join(ROOT, 'config.example.json'));
    expect(cfg.hosts.length).toBeGreaterThan(0);
    expect(cfg.hosts.map((h) => h.driver).sort()).toEqual(expect.arrayContaining(['libvirt', 'ssh']));
  });

  it('a config using every field loads with its values', () => {
    const p = writeConfig(full, 'full.json', 'lab');
    const cfg = loadConfig(p, env());
    expect(cfg.beacon).toEqual({ listen: '0.0.0.0:7447', intervalS: 2, missedBeforeSilent: 4, maxSkewS: 30 });
    expect(cfg.scan).toEqual({ intervalS: 10, timeoutS: 5, concurrency: 4, eventsIntervalS: 600 });
    expect(cfg.migration).toEqual({ bandwidthMiBs: 64, maxDowntimeMs: 300, transport: 'tls', requireDifferentAuthorizer: true });
    expect(cfg.policy.enforcement).toBe('isolate');
    expect(cfg.log.level).toBe('debug');
    expect(cfg.hosts.map((h) => h.name)).toEqual(['lab-a', 'lab-b', 'lab-c', 'lab-d']);
  });

  it('resolves relative paths against the config file folder and expands ~', () => {
    const p = writeConfig(full, 'full.json', 'lab');
    const cfg = loadConfig(p, env());
    const labDir = join(dir, 'lab');
    const home = join(dir, 'home');
    expect(cfg.storePath).toBe(join(labDir, 'data/store.db'));
    expect(cfg.store.keyFile).toBe(join(home, 'keys/store.key'));
    expect(cfg.logPath).toBe('/var/tmp/bb.log');
    const a = cfg.hosts[0]!;
    expect(a.driver === 'ssh' && a.identityFile).toBe(join(labDir, 'id_ed25519'));
    expect(a.driver === 'ssh' && a.knownHostsFile).toBe(join(home, '.ssh/kh'));
    const b = cfg.hosts[1]!;
    expect(b.driver === 'libvirt' && b.uri).toBe(`test://${join(labDir, 'hosts/b.xml')}`);
    const c = cfg.hosts[2]!;
    expect(c.driver === 'libvirt' && c.uri).toBe('test:///default');
    const d = cfg.hosts[3]!;
    expect(d.driver === 'libvirt' && d.uri).toBe('qemu+ssh://root@10.0.0.12/system');
  });

  it('a relative --config path is taken from the current directory', () => {
    const p = writeConfig({ store: { path: 's.db' } }, 'rel.json', 'relcfg');
    const rel = relative(process.cwd(), p);
    expect(rel.startsWith('/')).toBe(false);
    const cfg = loadConfig(rel, env());
    expect(cfg.file).toBe(p);
    expect(cfg.storePath).toBe(join(dir, 'relcfg', 's.db'));
  });

  it('fills defaults for everything left out', () => {
    const cfg = loadConfig(writeConfig({}), env());
    expect(cfg.hosts).toEqual([]);
    expect(cfg.beacon.listen).toBe('127.0.0.1:7447');
    expect(cfg.beacon.intervalS).toBe(5);
    expect(cfg.scan.intervalS).toBe(30);
    expect(cfg.scan.eventsIntervalS).toBe(300);
    expect(cfg.migration.transport).toBe('tunnelled');
    expect(cfg.policy.enforcement).toBe('ask');
    expect(cfg.storePath).toBe(join(dir, 'xdg-data', 'billboard', 'store.db'));
    expect(cfg.logPath).toBe(join(dir, 'xdg-state', 'billboard', 'billboard.log'));
    const ssh = loadConfig(writeConfig({ hosts: [{ name: 'h', driver: 'ssh', address: 'h.example' }] }), env()).hosts[0]!;
    expect(ssh).toMatchObject({
      port: 22,
      user: 'root',
      libvirtUri: 'qemu:///system',
      knownHostsFile: join(dir, 'home', '.ssh/known_hosts'),
    });
  });

  it('ignores "//" comment keys at any level', () => {
    const cfg = loadConfig(
      writeConfig({
        '//': 'top',
        store: { '// path': 'c', path: '/x/s.db' },
        hosts: [{ '// h': 'c', name: 'h', driver: 'libvirt', uri: 'test:///default' }],
      }),
      env(),
    );
    expect(cfg.storePath).toBe('/x/s.db');
    expect(cfg.hosts).toHaveLength(1);
  });
});

describe('loadConfig: default locations (XDG)', () => {
  it('reads $XDG_CONFIG_HOME/billboard/config.json when no --config is given', () => {
    const e = env({ XDG_CONFIG_HOME: join(dir, 'xdg-with-file') });
    mkdirSync(join(dir, 'xdg-with-file', 'billboard'), { recursive: true });
    writeFileSync(join(dir, 'xdg-with-file', 'billboard', 'config.json'), JSON.stringify({ store: { path: 'mine.db' } }));
    const cfg = loadConfig(undefined, e);
    expect(cfg.file).toBe(join(dir, 'xdg-with-file', 'billboard', 'config.json'));
    expect(cfg.storePath).toBe(join(dir, 'xdg-with-file', 'billboard', 'mine.db'));
  });

  it('falls back to ~/.config, ~/.local/share and ~/.local/state without XDG variables', () => {
    const home = join(dir, 'plainhome');
    expect(xdgPaths({ HOME: home })).toEqual({
      config: join(home, '.config/billboard/config.json'),
      store: join(home, '.local/share/billboard/store.db'),
      log: join(home, '.local/state/billboard/billboard.log'),
      hostKey: join(home, '.local/share/billboard/ssh_host_ed25519_key'),
    });
  });

  it('no file and no --config means an empty lab, not an error', () => {
    const cfg = loadConfig(undefined, env({ XDG_CONFIG_HOME: join(dir, 'empty-xdg') }));
    expect(cfg.file).toBeUndefined();
    expect(cfg.hosts).toEqual([]);
    expect(cfg.storePath).toBe(join(dir, 'xdg-data', 'billboard', 'store.db'));
  });

  it('expandPath: ~ alone, ~/x, absolute and relative', () => {
    const e = { HOME: '/home/op' };
    expect(expandPath('~', '/base', e)).toBe('/home/op');
    expect(expandPath('~/k', '/base', e)).toBe('/home/op/k');
    expect(expandPath('/abs/k', '/base', e)).toBe('/abs/k');
    expect(expandPath('../k', '/base/sub', e)).toBe('/base/k');
  });
});

describe('loadConfig: mistakes are one line naming the field and the file', () => {
  it('an explicit file that does not exist', () => {
    const p = join(dir, 'missing.json');
    expect(configError(() => loadConfig(p, env()))).toBe(`config file ${p} does not exist`);
  });

  it('a file that is not JSON', () => {
    const p = writeConfig('{ "store": ');
    expect(configError(() => loadConfig(p, env()))).toMatch(new RegExp(`^${p}: not valid JSON`));
  });

  it('an unknown top-level key', () => {
    const p = writeConfig({ stor: { path: 'x' } });
    expect(configError(() => loadConfig(p, env()))).toBe(`${p}: unknown field "stor"`);
  });

  it('an unknown nested key names its full path', () => {
    const p = writeConfig({ beacon: { listen: '127.0.0.1:1', intervall: 3 } });
    expect(configError(() => loadConfig(p, env()))).toBe(`${p}: unknown field "beacon.intervall"`);
    const q = writeConfig({ hosts: [{ name: 'a', driver: 'libvirt', uri: 'test:///default', adress: 'x' }] });
    expect(configError(() => loadConfig(q, env()))).toMatch(new RegExp(`^${q}: unknown field "hosts\\[0\\]\\.adress"`));
  });

  it('a wrong type names the field', () => {
    const p = writeConfig({ scan: { intervalS: 'often' } });
    const msg = configError(() => loadConfig(p, env()));
    expect(msg).toMatch(new RegExp(`^${p}: scan\\.intervalS: `));
    expect(msg).toMatch(/number/);
    const q = writeConfig({ hosts: [{ name: 'a', driver: 'ssh', address: 'x', port: '22' }] });
    expect(configError(() => loadConfig(q, env()))).toMatch(/hosts\[0\]\.port: .*number/);
  });

  it('a bad enum, a bad HOST:PORT and a bad driver', () => {
    expect(configError(() => loadConfig(writeConfig({ policy: { enforcement: 'nuke' } }), env()))).toMatch(/policy\.enforcement: /);
    expect(configError(() => loadConfig(writeConfig({ beacon: { listen: 'localhost' } }), env()))).toMatch(
      /beacon\.listen: expected HOST:PORT/,
    );
    expect(configError(() => loadConfig(writeConfig({ hosts: [{ name: 'a', driver: 'xen' }] }), env()))).toMatch(/hosts\[0\].*driver/);
  });

  it('scan.eventsIntervalS: more than 0 s, at most a day', () => {
    for (const eventsIntervalS of [0, -5, 86_401, 'slow']) {
      const p = writeConfig({ scan: { eventsIntervalS } });
      expect(configError(() => loadConfig(p, env()))).toMatch(new RegExp(`^${p}: scan\\.eventsIntervalS: `));
    }
    expect(loadConfig(writeConfig({ scan: { eventsIntervalS: 86_400 } }), env()).scan.eventsIntervalS).toBe(86_400);
  });

  it('migration defaults outside whole numbers within QEMU/libvirt limits (issue 21.3)', () => {
    for (const migration of [{ bandwidthMiBs: 1.5 }, { bandwidthMiBs: 1e300 }, { maxDowntimeMs: 2_000_001 }]) {
      const p = writeConfig({ migration });
      expect(
        configError(() => loadConfig(p, env())),
        JSON.stringify(migration),
      ).toMatch(new RegExp(`^${p}: migration: .*whole number from 1 to`));
    }
  });

  it('a missing required host field', () => {
    const msg = configError(() => loadConfig(writeConfig({ hosts: [{ name: 'a', driver: 'ssh' }] }), env()));
    expect(msg).toMatch(/hosts\[0\]\.address/);
  });

  it('duplicate host names', () => {
    const dup = {
      hosts: [
        { name: 'a', driver: 'libvirt', uri: 'test:///default' },
        { name: 'a', driver: 'libvirt', uri: 'test:///default' },
      ],
    };
    expect(configError(() => loadConfig(writeConfig(dup), env()))).toMatch(/hosts\[1\]\.name: duplicate host name "a"/);
  });

  it('a config that is not an object at all', () => {
    expect(configError(() => loadConfig(writeConfig('[1,2]'), env()))).toMatch(/\(top level\)/);
  });
});
