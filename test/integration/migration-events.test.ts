// Issue 17 in an embedded session: a config file with scan.eventsIntervalS, a real runtime, and two SSH hosts behind a
// real sshd whose domain events stream from a fake remote virsh (test/support/event-virsh.ts). An authorized
// migration is played on the source: the source's migration-iteration event counts a pass the polled job stats have
// not seen, and its job-completed event, not `domjobinfo --completed`, gives the job's final downtime and data moved.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cli/config-load.js';
import { runLine } from '../../src/console/dispatch.js';
import { startRuntime, type Runtime } from '../../src/console/runtime.js';
import type { HostDomainEvent } from '../../src/hosts/events/host-events.js';
import { SshDriver } from '../../src/hosts/ssh/driver.js';
import type { SshHostConfig } from '../../src/model/config.js';
import type { MigrationEvent } from '../../src/model/types.js';
import { FIXTURE_DIR } from '../helpers/libvirt-fixtures.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';
import { domainBlock, EventVirshHost } from '../support/event-virsh.js';

const WEB1 = '6f1c2b9e-0a11-4c3e-9a51-00000000a001';
let sshd: Sshd;
let dir: string;
let src: EventVirshHost;
let dst: EventVirshHost;
let rt: Runtime | undefined;

/** the recorded migration's job-completed block (downtime 37 ms, 160,432,128 bytes moved), for web-1 */
function jobCompleted(): string {
  const text = readFileSync(join(FIXTURE_DIR, 'events', 'migration.txt'), 'utf8');
  const block = /^.*event 'job-completed'.*\n(\t.*\n)+/m.exec(text)![0];
  return block.replace("'db-01'", "'web-1'");
}

async function until(ok: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function run(line: string): Promise<void> {
  const r = await runLine(line, rt!.ctx);
  if (!r.ok) throw new Error(`${line}: ${r.error.message}`);
}

beforeAll(async () => {
  sshd = await startSshd();
  dir = mkdtempSync(join(tmpdir(), 'bb-migration-events-'));
  const hostA = readFileSync(join(FIXTURE_DIR, 'host-a.xml'), 'utf8');
  src = new EventVirshHost(sshd, 'ev-src', hostA);
  dst = new EventVirshHost(sshd, 'ev-dst', hostA.replace(/ {2}<domain type='test'>[\s\S]*?<\/domain>\n/g, ''));
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      store: { path: 'store.db' },
      log: { path: 'billboard.log', level: 'silent' },
      beacon: { listen: '127.0.0.1:0' },
      scan: { intervalS: 60, timeoutS: 15, eventsIntervalS: 1234 },
      hosts: [src.config(), dst.config()],
    }),
  );
  const lab = new Map([src, dst].map((h) => [h.name, h]));
  rt = await startRuntime({
    config: loadConfig(file, process.env),
    actor: 'alice',
    readOnly: false,
    mode: 'script',
    log: pino({ level: 'silent' }),
    env: { ...process.env, BILLBOARD_PASSPHRASE: 'migration events test' },
    awaitFirstScan: true,
    createDriver: (h) => new SshDriver(h as SshHostConfig, { virshPath: lab.get(h.name)!.virsh, session: false }),
  });
}, 60_000);

afterAll(async () => {
  await rt?.close();
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a migration watched through the hosts’ domain events', () => {
  it('scan.eventsIntervalS from the config file is the poll of each host whose events flow', async () => {
    await until(() => rt!.scanner.statuses().every((s) => s.events === 'on'), 'both event streams up');
    expect(rt!.scanner.statuses().map((s) => [s.name, s.pollIntervalMs])).toEqual([
      ['ev-src', 1_234_000],
      ['ev-dst', 1_234_000],
    ]);
  });

  it('migration-iteration counts a pass between samples; job-completed gives the final downtime and data moved', async () => {
    const r = rt!;
    await until(() => r.scanner.statuses().every((s) => s.events === 'on'), 'both event streams up');
    const completed: HostDomainEvent[] = [];
    const off = r.scanner.onDomainEvent((e) => e.event.kind === 'job-completed' && completed.push(e));
    await run(`register web-1 --uuid ${WEB1} --host ev-src`);
    await run('approve web-1');
    await run('migrate web-1 --to ev-dst');
    const id = r.migrations.job('web-1').id;
    const evs: MigrationEvent[] = [];
    const watching = r.migrations.watch(id, (e) => evs.push(e));
    await run(`authorize ${id}`);
    const passes = () => evs.flatMap((e) => (e.type === 'progress' ? [e.stats.iteration] : []));
    await until(() => src.migrating && passes().includes(1), 'the migration running, sampled');

    src.emit("event 'migration-iteration' for domain 'web-1': iteration: '3'\n");
    // the event's pass, then samples polled after it (domjobinfo still says pass 1) that keep it
    await until(() => passes().filter((n) => n === 3).length >= 3, 'pass 3 shown');
    expect(passes().slice(passes().indexOf(3))).not.toContain(1);

    src.emit(jobCompleted());
    await until(() => completed.some((e) => e.host === 'ev-src' && e.uuid === WEB1), "the source's job-completed event");
    off();
    const web1 = domainBlock(src.xml, 'web-1');
    src.xml = src.xml.replace(web1, '');
    dst.xml = dst.xml.replace('</node>', `${web1}</node>`);
    src.release();
    src.emit("event 'lifecycle' for domain 'web-1': Stopped Migrated\nevent 'lifecycle' for domain 'web-1': Undefined Removed\n");
    dst.emit("event 'lifecycle' for domain 'web-1': Started Migrated\nevent 'lifecycle' for domain 'web-1': Resumed Migrated\n");

    const job = await watching;
    expect(job.state).toBe('completed');
    expect(job.lastStats).toMatchObject({ type: 'completed', source: 'libvirt-event', totalDowntimeMs: 37, dataProcessedBytes: 160432128 });
    expect(evs.at(-1)).toMatchObject({ type: 'end', state: 'completed', detail: expect.stringContaining('downtime 37 ms') });
    // the event was the final word: neither host was asked for domjobinfo --completed (it would have said 999 ms)
    expect([...src.calls(), ...dst.calls()].filter((c) => c.includes('--completed'))).toEqual([]);
    expect(src.calls().some((c) => c.includes(`domjobinfo ${WEB1}`))).toBe(true);
  });
});
