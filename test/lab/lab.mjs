// The project's two-host lab: two real libvirt daemons (each in a private mount + UTS namespace, with its own
// hostname, loopback address, host_uuid, config, /run and state dirs) plus an sshd inside each namespace, and a tiny
// TCG guest built from Debian packages. Plain JS (typed by lab.d.mts) so that benches can use it without a TS loader.
//
// Everything started here is recorded and torn down by stop(), also when start-up fails half-way and when the
// process exits without calling stop().
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
  chmodSync,
  copyFileSync,
  statSync,
  openSync,
  closeSync,
  readSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAgentDisk, buildGuest, LabUnavailable } from './guest.mjs';
import { log, run, sleep } from './lab-util.mjs';

export { buildAgentDisk, buildGuest, labCacheDir, LabUnavailable } from './guest.mjs';
const PACKAGES = ['qemu-system-x86', 'libvirt-daemon', 'libvirt-daemon-driver-qemu', 'libvirt-clients', 'openssh-server', 'busybox-static'];
const BINARIES = {
  '/usr/bin/qemu-system-x86_64': 'qemu-system-x86',
  '/usr/sbin/libvirtd': 'libvirt-daemon',
  '/usr/bin/virsh': 'libvirt-clients',
  '/usr/sbin/sshd': 'openssh-server',
  '/bin/busybox': 'busybox-static',
};
const QEMU_DRIVER = '/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so';
const DOMAIN = 'tiny';
/** the guest's RAM: room for node and the agent when it runs one */
const GUEST_MIB = 128;
const GUEST_AGENT_MIB = 256;
const GUEST_MAC = '52:54:00:b1:11:01';

/** Reasons the lab cannot run here (empty when it can). Never installs anything. */
export function labPrerequisites() {
  const why = [];
  if (process.platform !== 'linux') why.push(`needs Linux (this is ${process.platform})`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) why.push('needs root (private mount namespaces, libvirtd, sshd)');
  for (const b of [
    '/usr/bin/unshare',
    '/usr/bin/nsenter',
    '/usr/bin/ssh-keygen',
    '/usr/bin/ssh',
    '/usr/bin/apt-get',
    '/usr/bin/dpkg-deb',
    '/usr/sbin/mke2fs',
  ]) {
    if (!existsSync(b)) why.push(`missing ${b}`);
  }
  return why;
}

/** Install the lab's Debian packages when missing (root only). */
export async function ensurePackages() {
  const missing = new Set();
  for (const [bin, pkg] of Object.entries(BINARIES)) if (!existsSync(bin)) missing.add(pkg);
  if (!existsSync(QEMU_DRIVER)) missing.add('libvirt-daemon-driver-qemu');
  if (missing.size === 0) return;
  if (process.getuid?.() !== 0) throw new LabUnavailable(`packages missing (${[...missing].join(' ')}) and not root to install them`);
  log(`installing ${[...missing].join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await run('apt-get', ['-y', '-q', '--no-install-recommends', 'install', ...PACKAGES], { env, timeoutMs: 600_000 });
  } catch {
    await run('apt-get', ['-q', 'update'], { env, timeoutMs: 300_000 });
    await run('apt-get', ['-y', '-q', '--no-install-recommends', 'install', ...PACKAGES], { env, timeoutMs: 600_000 });
  }
}

/** A free TCP port on `address` (bind to :0 and release). */
function freePort(address) {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, address, () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

function portFree(address, port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, address, () => s.close(() => resolve(true)));
  });
}

/** `count` consecutive free ports on `address`, outside the usual ephemeral range collisions. */
async function freeRange(address, count) {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 12000);
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await portFree(address, p);
    if (ok) return [base, base + count - 1];
  }
  throw new Error(`no ${count} consecutive free ports on ${address}`);
}

function waitFor(pred, timeoutMs, what) {
  const t0 = Date.now();
  return (async () => {
    while (Date.now() - t0 < timeoutMs) {
      if (await pred()) return;
      await sleep(100);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  })();
}

function tcpOpen(address, port) {
  return new Promise((resolve) => {
    import('node:net').then(({ connect }) => {
      const c = connect({ host: address, port });
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
  });
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// pids and dirs of every live lab, removed synchronously if the process exits (or is signalled) without stop()
const livePids = new Set();
const liveDirs = new Set();
function liveQemuPidFiles() {
  const out = [];
  for (const d of liveDirs) {
    for (const h of ['lab-a', 'lab-b']) {
      const q = join(d, h, 'run', 'libvirt', 'qemu');
      try {
        for (const f of readdirSync(q)) if (f.endsWith('.pid')) out.push(join(q, f));
      } catch {
        /* none */
      }
    }
  }
  return out;
}
let exitHookInstalled = false;
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const pid of livePids)
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    // qemu is not our child (libvirtd double-forks it): kill it through the pid files of live labs
    for (const f of liveQemuPidFiles())
      try {
        process.kill(Number(readFileSync(f, 'utf8').trim()), 'SIGKILL');
      } catch {
        /* gone */
      }
    for (const d of liveDirs)
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      killAll();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

function hostFiles(h, lab) {
  const libvirtdConf = [
    `host_uuid = "${h.hostUuid}"`,
    'listen_tls = 0',
    'listen_tcp = 1',
    `listen_addr = "${h.address}"`,
    `tcp_port = "${h.libvirtPort}"`,
    'auth_tcp = "none"',
    'auth_unix_ro = "none"',
    'auth_unix_rw = "none"',
    'log_outputs = "3:file:/var/log/libvirt/libvirtd.log"',
    '',
  ].join('\n');
  const qemuConf = [
    'user = "root"',
    'group = "root"',
    'dynamic_ownership = 0',
    'remember_owner = 0',
    'security_driver = "none"',
    'cgroup_controllers = [ ]',
    'namespaces = [ ]',
    'stdio_handler = "file"',
    `migration_address = "${h.address}"`,
    `migration_host = "${h.address}"`,
    `migration_port_min = ${h.migrationPorts[0]}`,
    `migration_port_max = ${h.migrationPorts[1]}`,
    '',
  ].join('\n');
  const sshdConfig = [
    `Port ${h.sshPort}`,
    `ListenAddress ${h.address}`,
    `HostKey ${h.dir}/ssh_host_ed25519_key`,
    'PidFile none',
    `AuthorizedKeysFile ${lab.dir}/ssh/authorized_keys`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'UseDNS no',
    'MaxStartups 100',
    'MaxSessions 100',
    'LogLevel INFO',
    '',
  ].join('\n');
  return { libvirtdConf, qemuConf, sshdConfig };
}

/** Start the lab. Resolves when both hosts answer and `tiny` is ticking on lab-a. */
export async function startLab(opts = {}) {
  const why = labPrerequisites();
  if (why.length) throw new LabUnavailable(why.join('; '));
  await ensurePackages();
  const guest = await buildGuest(opts.cacheDir);
  const agent = opts.agent ? await buildAgentDisk(opts.cacheDir) : undefined;
  installExitHook();

  const dir = mkdtempSync(join(tmpdir(), 'billboard-lab-'));
  const hosts = [];
  const pids = [];
  const lab = { dir, hosts, domain: DOMAIN, guestMac: GUEST_MAC, consoleLog: join(dir, 'tiny-console.log'), stopped: false };

  const track = (pid) => {
    pids.push(pid);
    livePids.add(pid);
  };
  liveDirs.add(dir);

  async function stop() {
    if (lab.stopped) return;
    lab.stopped = true;
    // qemu is double-forked by libvirtd (not its child): destroy domains first, then kill by pid file
    await Promise.all(hosts.map((h) => run('virsh', ['-c', h.localUri, 'destroy', DOMAIN], { timeoutMs: 10_000 }).catch(() => {})));
    for (const h of hosts) {
      const qdir = join(h.dir, 'run', 'libvirt', 'qemu');
      if (!existsSync(qdir)) continue;
      for (const f of readdirSync(qdir).filter((x) => x.endsWith('.pid'))) {
        const pid = Number(readFileSync(join(qdir, f), 'utf8').trim());
        if (pid > 1)
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
      }
    }
    for (const pid of pids)
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    const t0 = Date.now();
    while (pids.some(alive) && Date.now() - t0 < 5000) await sleep(100);
    for (const pid of pids) {
      if (alive(pid))
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      livePids.delete(pid);
    }
    // a SIGKILLed child is alive to kill(pid, 0) until it is reaped: return once they are really gone
    for (const t1 = Date.now(); pids.some(alive) && Date.now() - t1 < 5000;) await sleep(50);
    if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  }
  lab.stop = stop;

  try {
    // ── keys: one client key, one host key per host, one known_hosts listing both by name and address ──
    const sshDir = join(dir, 'ssh');
    mkdirSync(sshDir);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'billboard-lab-client', '-f', join(sshDir, 'id_ed25519')]);
    copyFileSync(join(sshDir, 'id_ed25519.pub'), join(sshDir, 'authorized_keys'));
    chmodSync(join(sshDir, 'authorized_keys'), 0o600);
    const home = join(dir, 'home');
    mkdirSync(join(home, '.ssh'), { recursive: true });

    const names = ['lab-a', 'lab-b'];
    for (let i = 0; i < 2; i++) {
      const address = `127.0.0.${11 + i}`;
      const hdir = join(dir, names[i]);
      for (const d of ['etc', 'run/libvirt', 'run/sshd', 'lib', 'cache', 'log']) mkdirSync(join(hdir, d), { recursive: true });
      chmodSync(join(hdir, 'run', 'sshd'), 0o755);
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', names[i], '-f', join(hdir, 'ssh_host_ed25519_key')]);
      const h = {
        name: names[i],
        address,
        dir: hdir,
        hostUuid: randomUUID(),
        sshPort: await freePort(address),
        libvirtPort: await freePort(address),
        migrationPorts: await freeRange(address, 16),
        socket: join(hdir, 'run', 'libvirt', 'libvirt-sock'),
        hostKeyPub: readFileSync(join(hdir, 'ssh_host_ed25519_key.pub'), 'utf8').trim(),
      };
      h.localUri = `qemu+unix:///system?socket=${h.socket}`;
      h.tcpUri = `qemu+tcp://${address}:${h.libvirtPort}/system`;
      h.sshUri = `qemu+ssh://root@${h.name}:${h.sshPort}/system`;
      hosts.push(h);
    }
    const known =
      hosts
        .map((h) => {
          const [type, key] = h.hostKeyPub.split(/\s+/);
          return `[${h.address}]:${h.sshPort},[${h.name}]:${h.sshPort} ${type} ${key}`;
        })
        .join('\n') + '\n';
    writeFileSync(join(sshDir, 'known_hosts'), known);
    lab.ssh = { identityFile: join(sshDir, 'id_ed25519'), knownHostsFile: join(sshDir, 'known_hosts'), user: 'root' };
    // the ssh client that libvirtd runs for qemu+ssh:// (root's home is moved here inside the namespaces)
    writeFileSync(
      join(home, '.ssh', 'config'),
      `Host *\n  IdentityFile ${lab.ssh.identityFile}\n  UserKnownHostsFile ${lab.ssh.knownHostsFile}\n  StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n`,
    );
    chmodSync(join(home, '.ssh', 'config'), 0o600);

    const passwdBase = readFileSync('/etc/passwd', 'utf8').replace(/^root:([^:]*):0:0:([^:]*):[^:]*:/m, `root:$1:0:0:$2:${home}:`);
    const hostsBase = readFileSync('/etc/hosts', 'utf8') + hosts.map((h) => `${h.address} ${h.name}\n`).join('');
    const groupBase = readFileSync('/etc/group', 'utf8');

    for (const d of ['/etc/libvirt', '/var/lib/libvirt', '/var/cache/libvirt', '/var/log/libvirt']) mkdirSync(d, { recursive: true });

    for (const h of hosts) {
      const f = hostFiles(h, lab);
      writeFileSync(join(h.dir, 'etc', 'libvirtd.conf'), f.libvirtdConf);
      writeFileSync(join(h.dir, 'etc', 'qemu.conf'), f.qemuConf);
      writeFileSync(join(h.dir, 'etc', 'libvirt.conf'), '');
      writeFileSync(join(h.dir, 'sshd_config'), f.sshdConfig);
      // libvirtd looks up the compiled-in user libvirt-qemu before it reads qemu.conf: it must exist
      let passwd = passwdBase;
      let group = groupBase;
      if (!/^libvirt-qemu:/m.test(passwd)) passwd += 'libvirt-qemu:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin\n';
      if (!/^libvirt-qemu:/m.test(group)) group += 'libvirt-qemu:x:64055:\n';
      writeFileSync(join(h.dir, 'passwd'), passwd);
      writeFileSync(join(h.dir, 'group'), group);
      writeFileSync(join(h.dir, 'hosts'), hostsBase);
      opts.prepareHost?.(h);

      const binds = [
        [join(h.dir, 'etc'), '/etc/libvirt'],
        [join(h.dir, 'passwd'), '/etc/passwd'],
        [join(h.dir, 'group'), '/etc/group'],
        [join(h.dir, 'hosts'), '/etc/hosts'],
        [join(h.dir, 'run'), '/run'],
        [join(h.dir, 'lib'), '/var/lib/libvirt'],
        [join(h.dir, 'cache'), '/var/cache/libvirt'],
        [join(h.dir, 'log'), '/var/log/libvirt'],
      ];
      const script = `set -e\n${binds.map(([a, b]) => `mount --bind '${a}' '${b}'`).join('\n')}\nhostname ${h.name}\nexec /usr/sbin/libvirtd --listen --pid-file /run/libvirt/libvirtd.pid\n`;
      const out = openSync(join(h.dir, 'libvirtd.out'), 'w');
      // unshare execs sh, sh execs libvirtd: the child's pid is libvirtd's
      const child = spawn('unshare', ['--mount', '--uts', '--propagation', 'private', '--', '/bin/sh', '-c', script], {
        detached: true,
        stdio: ['ignore', out, out],
      });
      closeSync(out);
      child.unref();
      h.libvirtdPid = child.pid;
      track(child.pid);
    }
    for (const h of hosts) {
      await waitFor(() => existsSync(h.socket) || !alive(h.libvirtdPid), 15_000, `libvirtd on ${h.name}`).catch(() => {});
      if (!existsSync(h.socket)) {
        const out = existsSync(join(h.dir, 'libvirtd.out'))
          ? readFileSync(join(h.dir, 'libvirtd.out'), 'utf8').trim().split('\n').slice(-3).join(' | ')
          : '';
        throw new LabUnavailable(`libvirtd for ${h.name} did not start: ${out || 'no output'}`);
      }
    }
    // sshd inside each host's namespaces (nsenter execs sshd, so the child's pid is sshd's)
    for (const h of hosts) {
      const child = spawn(
        'nsenter',
        [
          '-t',
          String(h.libvirtdPid),
          '-m',
          '-u',
          '--',
          '/usr/sbin/sshd',
          '-D',
          '-f',
          join(h.dir, 'sshd_config'),
          '-E',
          join(h.dir, 'sshd.log'),
        ],
        {
          detached: true,
          stdio: 'ignore',
        },
      );
      child.unref();
      h.sshdPid = child.pid;
      track(child.pid);
    }
    for (const h of hosts) {
      await waitFor(async () => (await tcpOpen(h.address, h.sshPort)) || !alive(h.sshdPid), 10_000, `sshd on ${h.name}`);
      if (!alive(h.sshdPid)) {
        const l = existsSync(join(h.dir, 'sshd.log'))
          ? readFileSync(join(h.dir, 'sshd.log'), 'utf8').trim().split('\n').slice(-2).join(' | ')
          : '';
        throw new LabUnavailable(`sshd for ${h.name} exited: ${l}`);
      }
    }
    // the first QEMU use probes capabilities for seconds: do it now, on both hosts at once
    await Promise.all(
      hosts.map((h) =>
        run('virsh', ['-c', h.localUri, 'domcapabilities', '--emulatorbin', '/usr/bin/qemu-system-x86_64', '--virttype', 'qemu'], {
          timeoutMs: 60_000,
        }),
      ),
    );

    if (agent) lab.agent = { publicKey: agent.publicKey, disk: agent.disk };
    lab.guestXml = domainXml({
      kernel: guest.kernel,
      initrd: guest.initrd,
      consoleLog: lab.consoleLog,
      cmdline: opts.guestCmdline,
      agent: agent && { disk: agent.disk, ...opts.agent },
    });
    writeFileSync(join(dir, 'tiny.xml'), lab.guestXml);
    if (opts.startGuest !== false) {
      await virshOn(hosts[0], ['define', join(dir, 'tiny.xml')]);
      await virshOn(hosts[0], ['start', DOMAIN]);
      await waitFor(() => lastTick(lab.consoleLog) >= 2, 60_000, 'the guest to tick on lab-a');
    }
    lab.uuid = (await virshOn(hosts[0], ['domuuid', DOMAIN]).catch(() => '')).trim() || undefined;
    log(`lab up in ${dir}: ${hosts.map((h) => `${h.name} ${h.address} ssh:${h.sshPort} libvirt:${h.libvirtPort}`).join(', ')}`);
    return lab;
  } catch (e) {
    await stop();
    throw e;
  }
}

function xmlEscape(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&apos;');
}

/**
 * The guest's libvirt definition: TCG, direct kernel boot, serial to a file, one user-mode virtio NIC; with `agent`,
 * more RAM, the read-only agent disk and the agent's target on the kernel command line.
 */
export function domainXml({ kernel, initrd, consoleLog, cmdline, agent, name = DOMAIN, uuid }) {
  let cl = cmdline ?? 'console=ttyS0 panic=-1 dirty_mb=4 dirty_ws=32 dirty_sleep=0.25';
  if (agent) cl += ` bb_to=${agent.to} bb_interval=${agent.intervalS ?? 1}`;
  const disk = agent
    ? `
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='${xmlEscape(agent.disk)}'/>
      <target dev='vda' bus='virtio'/>
      <readonly/>
    </disk>`
    : '';
  return `<domain type='qemu'>
  <name>${xmlEscape(name)}</name>${uuid ? `\n  <uuid>${uuid}</uuid>` : ''}
  <memory unit='MiB'>${agent ? GUEST_AGENT_MIB : GUEST_MIB}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${xmlEscape(kernel)}</kernel>
    <initrd>${xmlEscape(initrd)}</initrd>
    <cmdline>${xmlEscape(cl)}</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>${disk}
    <interface type='user'>
      <mac address='${GUEST_MAC}'/>
      <model type='virtio'/>
      <rom enabled='no'/>
    </interface>
    <serial type='file'><source path='${xmlEscape(consoleLog)}' append='on'/><target port='0'/></serial>
    <console type='file'><source path='${xmlEscape(consoleLog)}' append='on'/><target type='serial' port='0'/></console>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

/** virsh against one lab host's own daemon (through its socket, from outside the namespace). */
export function virshOn(host, args, timeoutMs = 60_000) {
  return run('virsh', ['-c', host.localUri, ...args], { timeoutMs });
}

/**
 * `virsh migrate ARGS` on `host`, by hand, to `peer` over ssh (p2p). When the peer's sshd drops the connection at its
 * greeting (`kex_exchange_identification`: nothing of the migration has begun, and no hook has run) it is tried once
 * more, with the peer's sshd log on stderr: that is the lab's transport, not what a test looks at. Any other failure
 * is the migration's answer.
 */
export async function migrateByHand(host, peer, args, timeoutMs = 120_000) {
  try {
    return await virshOn(host, ['migrate', ...args], timeoutMs);
  } catch (e) {
    if (!/kex_exchange_identification/.test(e.message)) throw e;
    const logFile = join(peer.dir, 'sshd.log');
    const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join(' | ') : 'no log';
    log(`${peer.name}'s sshd dropped ${host.name}'s connection at its greeting; trying once more. sshd.log: ${tail}`);
    await sleep(1000);
    return virshOn(host, ['migrate', ...args], timeoutMs);
  }
}

/** The highest `tick N` in the guest's console log (0 when none yet). */
export function lastTick(consoleLog) {
  if (!existsSync(consoleLog)) return 0;
  const size = statSync(consoleLog).size;
  const len = Math.min(size, 4096);
  const buf = Buffer.alloc(len);
  const fd = openSync(consoleLog, 'r');
  try {
    readSync(fd, buf, 0, len, size - len);
  } finally {
    closeSync(fd);
  }
  const text = buf.toString('utf8');
  const all = [...text.matchAll(/tick (\d+)/g)];
  return all.length ? Number(all[all.length - 1][1]) : 0;
}

/** State of `tiny` on `host` ('running', 'paused', 'shut off', …) or null when the host does not have it. */
export async function domainState(host) {
  try {
    return (await virshOn(host, ['domstate', DOMAIN], 10_000)).trim();
  } catch {
    return null;
  }
}

/**
 * The guest's heartbeat as seen on `host`: the last tick number when `tiny` runs there, null when it does not.
 * (Both hosts write the same console file, so "runs there" is checked with libvirt.)
 */
export async function guestTicks(lab, hostName) {
  const h = lab.hosts.find((x) => x.name === hostName);
  if (!h) throw new Error(`no lab host ${hostName}`);
  const st = await domainState(h);
  if (st !== 'running') return null;
  return lastTick(lab.consoleLog);
}

/** The `hosts` part of a billboard config with the two lab hosts as SSH hosts (host keys verified). */
export function labHostsConfig(lab) {
  return lab.hosts.map((h) => ({
    name: h.name,
    driver: 'ssh',
    address: h.address,
    port: h.sshPort,
    user: lab.ssh.user,
    identityFile: lab.ssh.identityFile,
    knownHostsFile: lab.ssh.knownHostsFile,
    libvirtUri: 'qemu:///system',
    migrationUri: h.sshUri,
  }));
}
