// The lab with the real agent in its guest, watched by the real console runtime (from dist/: engine, beacon
// listener, scanner over SSH with host keys checked and libvirt event streams, migration manager, store). Shared by
// the lab tests about beacons and events and by `npm run bench -- events`. Plain JS (typed by agent-console.d.mts).
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../dist/cli/config-load.js';
import { startRuntime } from '../../dist/console/runtime.js';
import { keyFingerprint } from '../../dist/model/fingerprint.js';
import { labHostsConfig, startLab, virshOn } from './lab.mjs';

/** seconds between the guest agent's beacons */
export const AGENT_INTERVAL_S = 1;

/** A UDP port free on 127.0.0.1 now (the guest must know it before the console binds it). */
function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Start the lab (the guest's agent beaconing to the console's port through slirp) and a console runtime on it.
 * `scanIntervalS` is long by default: between the periodic scans, only libvirt events bring host changes.
 */
export async function startAgentConsole({ enforcement = 'ask', scanIntervalS = 300, quietLog = true } = {}) {
  const port = await freeUdpPort();
  const lab = await startLab({ agent: { to: `10.0.2.2:${port}`, intervalS: AGENT_INTERVAL_S } });
  const dir = mkdtempSync(join(tmpdir(), 'bb-lab-agent-'));
  const c = { lab, dir, port, beacons: [], rt: undefined };
  const env = { ...process.env, BILLBOARD_PASSPHRASE: 'lab agent' };

  c.start = async (policy = enforcement) => {
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        store: { path: join(dir, 'store.db') },
        beacon: { listen: `127.0.0.1:${port}`, intervalS: AGENT_INTERVAL_S, missedBeforeSilent: 10 },
        scan: { intervalS: scanIntervalS, timeoutS: 20 },
        hosts: labHostsConfig(lab),
        migration: { transport: 'tunnelled' },
        policy: { enforcement: policy },
      }),
    );
    c.rt = await startRuntime({
      config: loadConfig(file, env),
      actor: 'alice',
      readOnly: false,
      mode: 'script',
      log: pino({ level: quietLog ? 'silent' : 'info' }),
      env,
      awaitFirstScan: true,
    });
    c.rt.listener.on('beacon', (ev) => {
      if (ev.beacon.uuid === lab.uuid) {
        c.beacons.push({ at: ev.receivedAt, verdict: ev.verdict, bootId: ev.beacon.bootId, seq: ev.beacon.seq, from: ev.from.address });
      }
    });
  };
  c.restart = async (policy) => {
    await c.rt.close();
    await c.start(policy);
  };
  c.run = async (line) => {
    const r = await c.rt.console.run(line);
    if (!r.ok) throw new Error(`${line}: ${r.error?.code} ${r.error?.message}`);
    return r.data;
  };
  /** open findings about the guest's identity */
  c.findings = () => c.rt.engine.findings().filter((f) => f.vm === lab.uuid);
  /** resolves with the first value `probe` returns that is not undefined (checked every 20 ms), or throws after ms */
  c.until = async (probe, ms, what) => {
    const t0 = Date.now();
    for (;;) {
      const v = probe();
      if (v !== undefined && v !== false) return v;
      if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await sleep(20);
    }
  };
  /** approve the guest (home: where it runs) with the key its agent signs with, confirmed by fingerprint */
  c.approveGuest = async () => {
    await c.until(() => c.rt.ctx.store.registration(lab.uuid)?.state === 'pending', 30_000, 'a registration request for tiny');
    await c.until(() => c.beacons.length > 0, 60_000, 'a beacon from the guest agent');
    await c.run(`approve ${lab.uuid} --key ${keyFingerprint(lab.agent.publicKey)} --note "lab agent"`);
  };
  /** a second domain with the guest's UUID and disk (so its key) on `host`, its console in a file of its own */
  c.defineClone = async (host) => {
    const log = join(lab.dir, `clone-${host.name}-console.log`);
    const xml = lab.guestXml.split(lab.consoleLog).join(log).replace('</name>', `</name>\n  <uuid>${lab.uuid}</uuid>`);
    const file = join(dir, `clone-${host.name}.xml`);
    writeFileSync(file, xml);
    await virshOn(host, ['define', file]);
    return log;
  };
  c.stop = async () => {
    await c.rt?.close();
    await lab.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await c.start();
  } catch (e) {
    await lab.stop();
    throw e;
  }
  return c;
}

/**
 * The longest silence between two consecutive beacons received in [from, to] (ms), and the beacons it lies between.
 * Beacons before `from` count as the start of the first gap.
 */
export function longestGap(beacons, from, to) {
  const inRange = beacons.filter((b) => b.verdict !== 'bad-signature' && b.at <= to);
  let best = { ms: 0, before: undefined, after: undefined };
  for (let i = 1; i < inRange.length; i++) {
    const [a, b] = [inRange[i - 1], inRange[i]];
    if (b.at < from) continue;
    if (b.at - a.at > best.ms) best = { ms: b.at - a.at, before: a, after: b };
  }
  return best;
}
