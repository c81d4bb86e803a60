// A row says where an approved VM belongs (its home host) and whether it is agentless, so that every console (an
// embedded one, or a TUI attached to a service, which sees rows and not the registry) can mark the registered copy.
import { afterEach, expect, it } from 'vitest';
import { Engine } from '../../src/billboard/engine.js';
import type { DomainInfo, Registration } from '../../src/model/types.js';
import { FakeStore, approved } from '../helpers/fake-store.js';
import { domainInfo } from '../support/fake-host-driver.js';

const T = 1_700_000_000_000;
const U = (n: number) => `00000000-0000-4000-8000-00000000000${n}`;
const dom = (n: number): DomainInfo =>
  domainInfo({ uuid: U(n), name: `vm${n}`, memoryKiB: 1024, macs: [`52:54:00:00:00:0${n}`], definitionHash: `hash${n}` });
const engines: Engine[] = [];
afterEach(() => {
  for (const e of engines.splice(0)) e.close();
});

it('approved rows carry the home host and say agentless; others carry neither', () => {
  const regs: Registration[] = [
    approved({ uuid: U(1), name: 'vm1', homeHost: 'lab-a', publicKey: Buffer.alloc(32, 1).toString('base64') }),
    approved({ uuid: U(2), name: 'vm2', homeHost: 'lab-b' }),
    { ...approved({ uuid: U(3), name: 'vm3', homeHost: 'lab-a' }), state: 'pending' },
  ];
  const engine = new Engine({
    store: new FakeStore({ registrations: regs }, () => T),
    beaconIntervalS: 5,
    missedBeforeSilent: 3,
    enforcement: 'ask',
    now: () => T,
    requestScan: () => {},
  });
  engines.push(engine);
  engine.ingestInventory({ host: 'lab-a', at: T, durationMs: 1, domains: [dom(1), dom(2), dom(3)] });
  const row = (n: number) => engine.snapshot().rows.find((r) => r.uuid === U(n))!;
  expect([row(1).homeHost, row(1).agentless]).toEqual(['lab-a', undefined]);
  expect([row(2).homeHost, row(2).agentless]).toEqual(['lab-b', true]);
  expect([row(3).homeHost, row(3).agentless]).toEqual([undefined, undefined]);
});
