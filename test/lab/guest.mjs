// The lab's tiny guest, built from Debian packages that are downloaded and extracted (never installed):
// - the cloud kernel, with the virtio modules the guest loads from its initramfs (virtio-net for its user-mode NIC,
//   virtio-blk for the agent disk);
// - an initramfs of busybox-static whose /init is guest-init.sh;
// - the agent disk: a read-only ext2 image with this machine's node, the libraries it links, the bundled agent
//   (dist/agent/billboard-beacon.js) and an agent key made once per cache. Every guest started from it beacons with
//   the same key, as clones of one image do.
// Everything is cached in labCacheDir() and rebuilt when what it is made from changes.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { log, run } from './lab-util.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const GUEST_INIT = join(HERE, 'guest-init.sh');
const AGENT_BUNDLE = join(HERE, '..', '..', 'dist', 'agent', 'billboard-beacon.js');
/** load order (each module's `depends=` comes before it) */
const MODULES = [
  'virtio_ring',
  'virtio',
  'virtio_pci_modern_dev',
  'virtio_pci_legacy_dev',
  'virtio_pci',
  'failover',
  'net_failover',
  'virtio_net',
  'virtio_blk',
];

export class LabUnavailable extends Error {
  constructor(message) {
    super(`lab tier cannot run: ${message}`);
    this.name = 'LabUnavailable';
  }
}

export function labCacheDir() {
  if (process.env.BILLBOARD_LAB_CACHE) return process.env.BILLBOARD_LAB_CACHE;
  const xdg = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(xdg, 'billboard-lab');
}

const sha = (...parts) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex').slice(0, 16);
};

async function aptDownload(need, cwd) {
  log(`downloading ${need.join(' ')}`);
  await run('apt-get', ['download', '-q', ...need], { cwd, timeoutMs: 300_000 }).catch(async (e) => {
    await run('apt-get', ['-q', 'update'], { timeoutMs: 300_000 });
    await run('apt-get', ['download', '-q', ...need], { cwd, timeoutMs: 300_000 }).catch(() => {
      throw new LabUnavailable(`apt-get download failed: ${e.message}`);
    });
  });
}

/** vmlinuz and the modules of the same kernel package, side by side in the cache (one never without the other). */
async function ensureKernel(cacheDir, work) {
  const kernel = join(cacheDir, 'vmlinuz');
  const modules = join(cacheDir, 'modules');
  if (existsSync(kernel) && MODULES.every((m) => existsSync(join(modules, `${m}.ko`)))) return { kernel, modules };
  const deps = await run('apt-cache', ['depends', 'linux-image-cloud-amd64']);
  const kpkg = /Depends: (linux-image-\S+)/.exec(deps)?.[1];
  if (!kpkg) throw new LabUnavailable('cannot resolve the cloud kernel package through linux-image-cloud-amd64 (apt-get update?)');
  await aptDownload([kpkg], work);
  const deb = readdirSync(work).find((f) => f.startsWith('linux-image-') && f.endsWith('.deb'));
  const x = join(work, 'k');
  mkdirSync(x);
  await run('dpkg-deb', ['-x', join(work, deb), x], { timeoutMs: 120_000 });
  const vm = readdirSync(join(x, 'boot')).find((f) => f.startsWith('vmlinuz-'));
  if (!vm) throw new LabUnavailable(`no vmlinuz in ${deb}`);
  const found = new Map();
  for (const f of readdirSync(join(x, 'lib', 'modules'), { recursive: true })) {
    const m = basename(String(f)).replace(/\.ko$/, '');
    if (MODULES.includes(m) && String(f).endsWith('.ko')) found.set(m, join(x, 'lib', 'modules', String(f)));
  }
  const missing = MODULES.filter((m) => !found.has(m));
  if (missing.length) throw new LabUnavailable(`${deb} has no ${missing.join(', ')} module`);
  rmSync(modules, { recursive: true, force: true });
  mkdirSync(modules);
  for (const [m, f] of found) copyFileSync(f, join(modules, `${m}.ko`));
  copyFileSync(join(x, 'boot', vm), kernel + '.tmp');
  renameSync(kernel + '.tmp', kernel);
  return { kernel, modules };
}

async function ensureBusybox(cacheDir, work) {
  const busybox = join(cacheDir, 'busybox');
  if (existsSync(busybox)) return busybox;
  await aptDownload(['busybox-static'], work);
  const deb = readdirSync(work).find((f) => f.startsWith('busybox-static'));
  const x = join(work, 'b');
  mkdirSync(x);
  await run('dpkg-deb', ['-x', join(work, deb), x]);
  copyFileSync(join(x, 'bin', 'busybox'), busybox);
  chmodSync(busybox, 0o755);
  return busybox;
}

/** The kernel and an initramfs whose /init is guest-init.sh, with busybox and the virtio modules. Cached. */
export async function buildGuest(cacheDir = labCacheDir()) {
  mkdirSync(cacheDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'billboard-guest-'));
  try {
    const { kernel, modules } = await ensureKernel(cacheDir, work);
    const busybox = await ensureBusybox(cacheDir, work);
    const initrd = join(cacheDir, `initrd-${sha(readFileSync(GUEST_INIT), MODULES.join(','), String(statSync(kernel).mtimeMs))}.gz`);
    if (existsSync(initrd)) return { kernel, initrd };
    const root = join(work, 'root');
    for (const d of ['bin', 'dev', 'proc', 'sys', 'tmp', 'etc', 'lib/modules']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync(busybox, join(root, 'bin', 'busybox'));
    chmodSync(join(root, 'bin', 'busybox'), 0o755);
    for (const m of MODULES) copyFileSync(join(modules, `${m}.ko`), join(root, 'lib', 'modules', `${m}.ko`));
    writeFileSync(join(root, 'lib', 'modules', 'order'), MODULES.join('\n') + '\n');
    writeFileSync(join(root, 'etc', 'os-release'), 'PRETTY_NAME="billboard lab guest (busybox)"\n');
    copyFileSync(GUEST_INIT, join(root, 'init'));
    chmodSync(join(root, 'init'), 0o755);
    await run('mknod', [join(root, 'dev', 'console'), 'c', '5', '1']);
    await run('/bin/sh', [
      '-c',
      `cd '${root}' && find . | ./bin/busybox cpio -o -H newc -R 0:0 2>/dev/null | gzip -1 > '${initrd}.tmp' && mv '${initrd}.tmp' '${initrd}'`,
    ]);
    log(`guest built in ${cacheDir}`);
    return { kernel, initrd };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The agent key of every lab guest: made once per cache with the agent's own keygen. */
async function ensureAgentKey(cacheDir) {
  const dir = join(cacheDir, 'agent');
  const key = join(dir, 'agent.key');
  const pub = join(dir, 'agent.pub');
  if (existsSync(key) && existsSync(pub)) return { key, publicKey: readFileSync(pub, 'utf8').trim() };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  rmSync(key, { force: true });
  const out = await run(process.execPath, [AGENT_BUNDLE, 'keygen', '--out', key]);
  const publicKey = /public key:\s*(\S+)/.exec(out)?.[1];
  if (!publicKey) throw new Error(`billboard-beacon keygen printed no public key: ${out}`);
  writeFileSync(pub, publicKey + '\n');
  return { key, publicKey };
}

/** The shared objects `node` loads (ldd's answer), the dynamic loader last. */
async function nodeLibraries(node) {
  const out = await run('ldd', [node]);
  const libs = [];
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s*\(/.exec(line);
    if (m) libs.push(m[1]);
  }
  if (!libs.some((l) => /ld-linux/.test(l))) throw new LabUnavailable(`ldd ${node} names no dynamic loader`);
  return libs;
}

/**
 * The agent disk (read-only ext2): bin/node, lib/*.so*, lib64/ld-linux-x86-64.so.2, agent/billboard-beacon.js,
 * agent/agent.key. Needs dist/ built (npm run build). Returns the image, and the key the guest beacons with.
 */
export async function buildAgentDisk(cacheDir = labCacheDir()) {
  if (!existsSync(AGENT_BUNDLE)) throw new LabUnavailable(`${AGENT_BUNDLE} is missing: run npm run build first`);
  mkdirSync(cacheDir, { recursive: true });
  const { key, publicKey } = await ensureAgentKey(cacheDir);
  const node = process.execPath;
  const libs = await nodeLibraries(node);
  const st = statSync(node);
  const id = sha(readFileSync(AGENT_BUNDLE), readFileSync(key), `${node}:${st.size}:${st.mtimeMs}`, libs.join(','));
  const disk = join(cacheDir, `agent-${id}.img`);
  if (existsSync(disk)) return { disk, publicKey };
  for (const f of readdirSync(cacheDir)) if (/^agent-[0-9a-f]+\.img$/.test(f)) rmSync(join(cacheDir, f), { force: true });
  const work = mkdtempSync(join(tmpdir(), 'billboard-agent-disk-'));
  try {
    const root = join(work, 'root');
    for (const d of ['bin', 'lib', 'lib64', 'agent']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync(node, join(root, 'bin', 'node'));
    for (const l of libs) copyFileSync(l, join(root, /ld-linux/.test(l) ? 'lib64' : 'lib', basename(l)));
    copyFileSync(AGENT_BUNDLE, join(root, 'agent', 'billboard-beacon.js'));
    copyFileSync(key, join(root, 'agent', 'agent.key'));
    chmodSync(join(root, 'agent', 'agent.key'), 0o600);
    let bytes = 0;
    for (const f of readdirSync(root, { recursive: true })) {
      const s = statSync(join(root, String(f)));
      if (s.isFile()) bytes += s.size;
    }
    const mib = Math.ceil(bytes / 1048576) + 16;
    await run('mke2fs', ['-q', '-F', '-t', 'ext2', '-L', 'bb-agent', '-d', root, `${disk}.tmp`, `${mib}M`], { timeoutMs: 120_000 });
    renameSync(`${disk}.tmp`, disk);
    log(`agent disk built: ${disk} (${mib} MiB)`);
    return { disk, publicKey };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
