// approve binds a home host: one the operator registered stays; one that came with a request (a host's admission
// call names itself, a scan's first host) is a hint, and where the scans see the VM run wins.
import pino from 'pino';
import { afterEach, expect, it } from 'vitest';
import { Engine } from '../../src/billboard/engine.js';
import { Console } from '../../src/console/console.js';
import { configSchema } from '../../src/model/config.js';
import type { DomainInfo, Registration } from '../../src/model/types.js';
import { FakeStore } from '../helpers/fake-store.js';

const T = 1_700_000_000_000;
const U = '00000000-0000-4000-8000-0000000000b7';
const engines: Engine[] = [];
afterEach(() => {
  for (const e of engines.splice(0)) e.close();
});
const dom: DomainInfo = {
  uuid: U,
  name: 'build-07',
  state: 'running',
  vcpus: 1,
  memoryKiB: 1024,
  macs: ['52:54:00:00:00:b7'],
  interfaces: [],
  ips: [],
  disks: [],
  definitionHash: 'hashb7',
};

async function approveWhileRunningOn(host: string, reg: Partial<Registration>): Promise<string | undefined> {
  const pending: Registration = {
    uuid: U,
    name: 'build-07',
    macs: [],
    state: 'pending',
    origin: 'admission',
    homeHost: 'lab-l',
    createdAt: T,
    createdBy: 'system',
    ...reg,
  };
  const store = new FakeStore({ registrations: [pending] }, () => T);
  const engine = new Engine({ store, beaconIntervalS: 5, missedBeforeSilent: 3, enforcement: 'ask', now: () => T, requestScan: () => {} });
  engines.push(engine);
  engine.ingestInventory({ host, at: T, durationMs: 1, domains: [dom] });
  const config = { ...configSchema.parse({}), storePath: ':memory:', logPath: '/dev/null' };
  const c = new Console({
    actor: 'alice',
    readOnly: false,
    mode: 'script',
    config,
    store,
    engine,
    log: pino({ level: 'silent' }),
    now: () => T,
  });
  const r = await c.run(`approve ${U}`);
  expect(r.ok, JSON.stringify(r)).toBe(true);
  return store.registration(U)?.homeHost;
}

it("a request's home host (a host's admission call) gives way to where the scans see the VM run", async () => {
  expect(await approveWhileRunningOn('lab-h', {})).toBe('lab-h');
  expect(await approveWhileRunningOn('lab-h', { origin: 'scan' })).toBe('lab-h');
});

it('a home host the operator registered stays', async () => {
  expect(await approveWhileRunningOn('lab-h', { origin: 'operator' })).toBe('lab-l');
});
