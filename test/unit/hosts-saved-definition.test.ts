import { afterEach, describe, expect, it } from 'vitest';
import { Scanner } from '../../src/hosts/scanner.js';
import type { EventChannel, HostDriver } from '../../src/model/host-driver.js';
import type { DomainInfo, Inventory } from '../../src/model/types.js';
import { domainInfo, stubDriver } from '../support/fake-host-driver.js';

// A running VM's saved definition (what a `virsh edit` keeps for its next start) through the scanner. On a host whose
// events are followed, whole scans read it (an edit saved while nothing watched shows at the first scan). Where a
// whole scan cannot (the one-exec path), a `Defined` event's one-domain rescan reads it, whole scans carry it while the
// VM runs the same definition, and each whole scan that carried one asks for it again, so a missed revert clears.

const UUID = '00000000-0000-4000-8000-000000000001';
const dom = (saved?: string): DomainInfo =>
  domainInfo({ uuid: UUID, definitionHash: 'running-def', ...(saved ? { savedDefinitionHash: saved } : {}) });

/** a host whose saved definition the test sets; one-domain scans read it, whole scans only when `wholeReads` */
function host(wholeReads = false) {
  let send: (t: string) => void = () => {};
  const h = { saved: undefined as string | undefined, wholeUnread: false, oneScans: 0, send: (t: string) => send(t) };
  const ch: EventChannel = { onData: (cb) => (send = cb), onEnd: () => {}, close: () => {} };
  const driver = stubDriver('h', {
    kind: 'ssh',
    scanAll: async (o) => {
      if (!wholeReads || !o?.savedDefinitions) return { domains: [dom()] };
      return { domains: [h.wholeUnread ? { ...dom(), savedDefinitionUnread: true as const } : dom(h.saved)], savedRead: true };
    },
    scanDomain: async () => {
      h.oneScans++;
      return dom(h.saved);
    },
    openEvents: async () => ch,
  });
  return { h, driver };
}

let scanner: Scanner | undefined;
afterEach(async () => {
  await scanner?.stop();
  scanner = undefined;
});

async function until(ok: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function scannerOn(driver: HostDriver): Scanner {
  scanner = new Scanner({
    hosts: [{ name: 'h', driver: 'libvirt', uri: 'qemu:///system' }],
    timeoutMs: 5000,
    concurrency: 2,
    intervalMs: 60_000,
    createDriver: () => driver,
    eventOptions: { debounceMs: 20, stream: { settleMs: 20 } },
  });
  return scanner;
}

describe('a saved definition through the scanner', () => {
  it('where whole scans cannot read it (one exec): read by the Defined event’s rescan, carried, then read again (a missed revert clears)', async () => {
    const { h, driver } = host();
    const s = scannerOn(driver);
    const seen: Inventory[] = [];
    s.on('inventory', (inv: Inventory) => seen.push(inv));
    s.start();
    await until(() => seen.length >= 1 && s.statuses()[0]!.events === 'on', 'the first scan and the stream up');
    await new Promise((r) => setTimeout(r, 100)); // the stream's resync

    h.saved = 'edited-def';
    h.send("event 'lifecycle' for domain 'vm': Defined Updated\n");
    await until(() => seen.at(-1)!.domains[0]!.savedDefinitionHash === 'edited-def', "the Defined event's rescan");

    // the edit is reverted and its event lost: the next whole scan carries the old saved hash, then reads it again
    h.saved = undefined;
    const before = h.oneScans;
    const n = seen.length;
    await s.scan(['h']);
    expect(seen[n]).toMatchObject({ domains: [{ savedDefinitionHash: 'edited-def' }] });
    expect(seen[n]!.targeted).toBeUndefined();
    await until(() => seen.length > n + 1, 'the recheck');
    expect(h.oneScans).toBe(before + 1);
    expect(seen.at(-1)!.domains[0]).not.toHaveProperty('savedDefinitionHash');

    // nothing saved is carried any more: a whole scan asks for no recheck
    await s.scan(['h']);
    await new Promise((r) => setTimeout(r, 100));
    expect(h.oneScans).toBe(before + 1);
  });

  it('a whole scan of a host whose events are followed reads it: an edit saved while nothing watched shows at once', async () => {
    const { h, driver } = host(true);
    h.saved = 'edited-while-away';
    const s = scannerOn(driver);
    const seen: Inventory[] = [];
    s.on('inventory', (inv: Inventory) => seen.push(inv));
    s.start();
    await until(() => seen.length >= 1, 'the first scan');
    expect(seen[0]!.domains[0]!.savedDefinitionHash).toBe('edited-while-away');
    // read, not carried: reverted, the next whole scan says so, and no one-domain rescan was needed for it
    h.saved = undefined;
    await s.scan(['h']);
    expect(seen.at(-1)!.domains[0]).not.toHaveProperty('savedDefinitionHash');
    expect(h.oneScans).toBe(0);

    // edited again; a whole scan whose read of it fails keeps what was known and asks that domain once more
    h.saved = 'edited-again';
    await s.scan(['h']);
    h.wholeUnread = true;
    const n = seen.length;
    await s.scan(['h']);
    expect(seen[n]!.domains[0]).toMatchObject({ savedDefinitionHash: 'edited-again' });
    await until(() => h.oneScans === 1 && seen.length > n + 1, 'the recheck of the unread one');
    expect(seen.at(-1)!.domains[0]).toMatchObject({ savedDefinitionHash: 'edited-again' });
  });
});
